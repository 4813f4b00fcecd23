"""Building a source's reader and sinks from its spec; every failure a clear message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aegan.monitor.events import Event
from aegan.monitor.sinks.eventlog import EventLog
from aegan.monitor.sinks.outputs import Outputs, webhook_errors
from aegan.monitor.sinks.scores import ScoreTable
from aegan.monitor.sinks.snippets import Snippets
from aegan.monitor.sinks.webhook import Webhook, check_url
from aegan.monitor.spec import SourceSpec

if TYPE_CHECKING:
    from aegan.detector.detector import Detector


def build_reader(spec: SourceSpec):
    """The reader of a source, checked (folder there, device there, stream open)."""
    if spec.sinks.webhook is not None:
        check_url(spec.sinks.webhook)
    if spec.kind == "folder":
        from aegan.monitor.sources.folder import FolderReader

        return FolderReader(spec)
    if spec.kind == "device":
        from aegan.monitor.sources.soundcard import DeviceReader

        return DeviceReader(spec)
    if spec.kind == "push":
        from aegan.monitor.sources.push import PushReader

        return PushReader(spec)
    from aegan.monitor.sources.stream import StreamReader

    return StreamReader(spec)


def build_outputs(
    spec: SourceSpec, detector: Detector, hop: float, logs: dict[Path, EventLog],
    emit: Callable[[Event], None],
) -> Outputs:  # fmt: skip
    """The source's sinks; event logs are shared by path between sources."""
    path = spec.events_path.resolve()
    if path not in logs:
        logs[path] = EventLog(path)
    sinks = spec.sinks
    window = detector.clip_seconds
    scores = ScoreTable(spec.folder / "scores") if sinks.scores else None
    snippets = None
    if sinks.snippets:
        snippets = Snippets(
            path.parent / "snippets", detector.cfg.feat.sample_rate, hop, spec.rule.n,
            window if sinks.pre_roll is None else sinks.pre_roll,
            window if sinks.post_roll is None else sinks.post_roll, sinks.snippets_max_mb,
        )  # fmt: skip
    webhook = None
    if sinks.webhook is not None:
        webhook = Webhook(
            sinks.webhook, spec.folder / "webhook-queue", sinks.webhook_queue,
            webhook_errors(spec.name, emit),
        )  # fmt: skip
        webhook.start()
    return Outputs(spec.name, emit, logs[path], scores, snippets, webhook)
