"""What `aegan watch` shows: a live rich view on a terminal, JSON lines otherwise."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Group
from rich.live import Live
from rich.table import Table

from aegan.cli.common import console

if TYPE_CHECKING:
    from aegan.monitor.events import Event
    from aegan.monitor.monitor import Monitor

NOTABLE = ("alert_opened", "alert_closed", "error", "dropped", "unusable", "source_ended")


def print_devices() -> None:
    from aegan.monitor.sources.soundcard import list_devices

    devices = list_devices()
    if not devices:
        console.print("No sound card that can record was found (PortAudio lists none).")
        return
    table = Table(title="Sound cards that can record", title_justify="left")
    for column in ("index", "name", "channels", "rate", "default"):
        table.add_column(column)
    for d in devices:
        table.add_row(str(d.index), d.name, str(d.channels), f"{d.sample_rate:g}", "*" * d.default)
    console.print(table)


@contextmanager
def renderer(monitor: Monitor, json_lines: bool) -> Iterator[None]:
    """Show the monitor's events while the block runs."""
    if json_lines or not console.is_terminal:
        lock = threading.Lock()

        def write(event: Event) -> None:
            with lock:
                sys.stdout.write(event.to_json() + "\n")
                sys.stdout.flush()

        unsubscribe = monitor.subscribe(write)
        try:
            yield
        finally:
            unsubscribe()
        return
    notes: deque[str] = deque(maxlen=8)
    unsubscribe = monitor.subscribe(lambda e: _note(notes, e))
    with Live(_view(monitor, notes), console=console, refresh_per_second=2) as live:
        stop = threading.Event()
        refresher = threading.Thread(
            target=_refresh, args=(live, monitor, notes, stop), daemon=True
        )
        refresher.start()
        try:
            yield
        finally:
            stop.set()
            refresher.join()
            unsubscribe()
            live.update(_view(monitor, notes))


def _refresh(live: Live, monitor: Monitor, notes: deque[str], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        live.update(_view(monitor, notes))


def _note(notes: deque[str], event: Event) -> None:
    if event.kind not in NOTABLE:
        return
    data = event.to_dict()
    detail = {
        "alert_opened": lambda: f"[bold red]ALERT {data['alert']} opened[/] from {data['start']}",
        "alert_closed": lambda: (
            f"alert {data['alert']} closed: {data['start']} to {data['end']}, "
            f"{data['anomalous_windows']} anomalous windows, worst {data['worst']['score']:.4g}"
        ),
        "error": lambda: f"[red]error[/] {data['message']}",
        "dropped": lambda: f"[yellow]dropped[/] {data['seconds']:g} s ({data['reason']})",
        "unusable": lambda: f"[yellow]unusable[/] {data['reason']}",
        "source_ended": lambda: f"ended ({data['reason']})",
    }[event.kind]()
    notes.append(f"{data['time'][11:19]} {event.source}: {detail}")


def _view(monitor: Monitor, notes: deque[str]) -> Group:
    table = Table(title="aegan watch", title_justify="left")
    for column in ("source", "model", "last score", "threshold", "state", "windows",
                   "alerts today", "backlog"):  # fmt: skip
        table.add_column(column)
    for s in monitor.status():
        state = "[bold red]ALERT[/]" if s.state == "alert" else s.state
        score = "-" if s.last_score is None else f"{s.last_score:.4g}"
        table.add_row(
            s.name, s.model, score, f"{s.threshold:.4g}", state, str(s.windows_scored),
            str(s.alerts_today), f"{s.backlog_seconds:.0f} s",
        )  # fmt: skip
    return Group(table, *notes)
