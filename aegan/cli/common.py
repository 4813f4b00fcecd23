"""What every command shares: the console, error reporting, progress bars, options."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aegan.config import schema as config_mod
from aegan.dcase.facts import MACHINES, MachineType, parse_year
from aegan.errors import EXIT_RUNTIME, AeganError, AeganWarning, system_failure

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

_state = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


def print_error(exc: AeganError) -> None:
    """One error as every command shows it: the message in red, then its hint, as plain text
    ("pip install 'aegan[watch]'" is not markup)."""
    err_console.print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False)
    if exc.hint:
        err_console.print(exc.hint, highlight=False, markup=False)


def reports_errors(func: F) -> F:
    """Turn a user-fixable error into one message and an exit code, never a traceback.

    With --debug the traceback is shown as well. Ctrl-C exits with 130.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AeganWarning)
                return func(*args, **kwargs)
        except AeganError as exc:
            if _state["debug"]:
                err_console.print_exception()
            print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/]")
            raise typer.Exit(130) from None
        except OSError as exc:  # disk full, permission denied, ...
            if _state["debug"]:
                err_console.print_exception()
            print_error(system_failure(exc))
            raise typer.Exit(EXIT_RUNTIME) from None
        finally:
            _print_warnings(caught)

    return wrapper  # type: ignore[return-value]


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """The library's warnings as one note per kind (the first, and how many more alike), once
    per run; other libraries' warnings are shown as Python shows them."""
    kinds: dict[type, list[str]] = {}
    for item in caught:
        if issubclass(item.category, AeganWarning):
            messages = kinds.setdefault(item.category, [])
            if str(item.message) not in messages:
                messages.append(str(item.message))
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)
    for first, *more in kinds.values():
        alike = f" ({len(more)} more alike)" if more else ""
        err_console.print(f"[yellow]Warning:[/] {first}{alike}", highlight=False)


class RichProgress:
    """A ``aegan.progress.Progress`` callback drawing one rich bar per task."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, done: float, total: float | None) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=done, total=total)


def progress_columns() -> tuple[ProgressColumn, ...]:
    """Description, bar, done/total, elapsed and remaining time: every bar of aegan."""
    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


@contextmanager
def progress_bars(transient: bool = False) -> Iterator[RichProgress]:
    """Progress bars on stderr, so that stdout stays clean for --json."""
    with Progress(*progress_columns(), console=err_console, transient=transient) as progress:
        yield RichProgress(progress)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# ---------------------------------------------------------------- options

YearOption = Annotated[
    str, typer.Option("--year", "-y", help="DCASE edition: 20 to 26 (or 2020 to 2026).")
]


def complete_machine(ctx: typer.Context, incomplete: str) -> list[str]:
    """Machine types of the year given so far (both years when none is)."""
    try:
        years = [parse_year(ctx.params["year"])] if ctx.params.get("year") else list(MACHINES)
    except AeganError:
        years = list(MACHINES)
    names = dict.fromkeys(m for y in years for m in MACHINES[y])
    return [m for m in names if m.lower().startswith(incomplete.lower())]


MachineArg = Annotated[
    str,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive).",
        show_default=False,
        autocompletion=complete_machine,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML file overriding the recipe.", dir_okay=False),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override one config key, e.g. --set train.epochs=10. Repeatable."
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        help="Dataset root holding dev_data/ and eval_data/ (default: the user config or the download folder).",
        file_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
GpuOption = Annotated[
    str | None,
    typer.Option(
        "--gpu",
        "-g",
        help="Device: a GPU index (0), several (0,1; training only) or cpu. "
        "Default: the device setting (aegan config set device ...; auto: the first GPU if any).",
    ),
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Every machine type of the edition, one task each.")
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        metavar="N",
        help="Run on a local Dask cluster of N worker processes (threads fill the cores).",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on the Dask cluster at ADDRESS, e.g. tcp://host:8786 "
        "(default: $DASK_SCHEDULER_ADDRESS).",
    ),
]


def complete_model(incomplete: str) -> list[str]:
    from aegan.bundles.registry import PUBLISHED, local_names

    names = dict.fromkeys([m.name for m in PUBLISHED] + local_names())
    return [n for n in names if n.lower().startswith(incomplete.lower())]


PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Network arithmetic: fp32 (exact) or bf16 (faster on GPUs and CPUs with bf16 units).",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model name (fan22, a local name; see `aegan models`) or a bundle path.",
        autocompletion=complete_model,
    ),
]


def year_and_machine(year: str, machine: str) -> tuple[int, str]:
    """--year and MACHINE as given -> (2022, "ToyCar"); a wrong one is a usage error."""
    kind = MachineType.parse(year, machine)
    return kind.year, kind.name


def load_config(
    year: str, machine: str, config_file: Path | None, overrides: list[str] | None
) -> config_mod.Config:
    """The effective config of --year, MACHINE, --config and --set (parsed there)."""

    def note(text: str) -> None:
        err_console.print(f"[yellow]Note:[/] {text}", highlight=False, soft_wrap=True)

    return config_mod.load_config(year, machine, config_file, overrides or [], note)


def set_home(home: Path | None) -> None:
    if home is not None:
        os.environ["AEGAN_HOME"] = str(home.expanduser().resolve())
