"""What `aegan fetch` prints: the data and models fetched, and what is available."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from aegan.byte_sizes import format_bytes
from aegan.cli.common import console
from aegan.dcase.facts import short_year
from aegan.dcase.ground_truth import ground_truth_folder

if TYPE_CHECKING:
    from aegan.hub.fetch import Availability, ModelFetch, Target
    from aegan.hub.zenodo import FetchSummary


def command(*words: str | Path) -> str:
    """A command line to show the user, quoted so that it can be pasted."""
    return " ".join(shlex.quote(str(w)) for w in words)


def recipe_options(config: Path | None, set_: list[str] | None) -> list[str | Path]:
    """The --config/--set a follow-up fetch needs to calibrate with the same recipe."""
    words: list[str | Path] = ["--config", config] if config else []
    for item in set_ or []:
        words += ["--set", item]
    return words


def render_data(target: Target, summary: FetchSummary, dir_option: list[str | Path]) -> None:
    what = f"{target.machine} (DCASE {target.year}) data"
    if summary.downloaded:
        console.print(f"{what}: fetched {', '.join(summary.downloaded)}.", highlight=False)
    else:
        console.print(f"{what}: already complete, nothing downloaded.")
    for folder in summary.folders:
        console.print(f"  {folder}", highlight=False)
    if summary.ground_truth:
        console.print(f"Eval ground truth: {ground_truth_folder(summary.root)}", highlight=False)
    if summary.ground_truth_error:
        console.print(
            f"[yellow]The eval ground truth was not fetched:[/] {summary.ground_truth_error}",
            highlight=False,
        )
    short = short_year(target.year)
    prepare = command("aegan", "prepare", target.machine, "--year", short, *dir_option)
    console.print(f"Next: [bold]{prepare}[/]", highlight=False)


def render_model(
    result: ModelFetch, dir_option: list[str | Path], recipe: list[str | Path]
) -> None:
    model, checkpoint = result.model, result.checkpoint
    if checkpoint is None:
        console.print(
            f"{model.name} is already fetched and calibrated: {result.bundle}. Nothing to do "
            "(--force fetches and calibrates it again).",
            highlight=False,
        )
        return
    how = {"downloaded": "downloaded and verified", "copied": "imported", "cached": "in the cache"}
    console.print(
        f"{model.name}: checkpoint {how[checkpoint.action]}: {checkpoint.path}", highlight=False
    )
    short = short_year(model.year)
    if result.calibrated:
        console.print(
            f"{model.name}: calibrated on the {model.machine} training data in {result.root}: "
            f"{result.bundle}",
            highlight=False,
        )
        use = command("aegan", "test", model.machine, "--year", short, "--model", model.name)
        console.print(f"Use it: [bold]{use}[/]", highlight=False)
        return
    missing = ", ".join(str(p) for p in result.missing_data)
    get_data = command("aegan", "fetch", "--data", model.machine, "--year", short, *dir_option)
    again = command("aegan", "fetch", model.name, *dir_option, *recipe)
    console.print(
        f"{model.name} is not calibrated yet: its training data is missing ({missing}).\n"
        f"Get the data with [bold]{get_data}[/], then run [bold]{again}[/] again to calibrate.",
        highlight=False,
    )


def remote_text(found: Availability, text: str | None) -> str:
    """The remote value, "?" when offline (unknown), "-" when the server lacks the file."""
    return text if text else ("?" if found.offline else "-")


def render_availability(found: Availability, roots: dict[int, Path]) -> None:
    models = Table(title="Published models", title_justify="left")
    for header in ("name", "year", "machine", "published", "file in the share", "size", "here"):
        models.add_column(header, justify="right" if header == "size" else "left")
    for item in found.models:
        m = item.model
        models.add_row(
            m.name, str(m.year), m.machine, f"{m.figure_name} {m.figure:.2f} ({m.score})",
            remote_text(found, item.remote and item.remote.path),
            remote_text(found, item.remote and format_bytes(item.remote.size)), item.state,
        )  # fmt: skip
    archives = Table(title="DCASE archives (Zenodo)", title_justify="left")
    for header in ("year", "machine", "archive", "record", "size", "here"):
        archives.add_column(header, justify="right" if header == "size" else "left")
    for item in found.archives:
        archives.add_row(
            str(item.year), item.machine, item.archive.name, str(item.archive.record),
            remote_text(found, item.remote and format_bytes(item.remote.size)),
            "extracted" if item.extracted else "-",
        )  # fmt: skip
    console.print(models)
    console.print(archives)
    if found.offline:
        console.print(
            f"[yellow]Offline:[/] {found.offline} Remote files and sizes are unknown; "
            "what is here is listed.",
            highlight=False,
        )
    if found.unreadable:
        from aegan.model.registry import unreadable_note

        for path in found.unreadable:
            console.print(f"[yellow]Note:[/] {unreadable_note(path)}", highlight=False)
    for year, root in roots.items():
        console.print(f"DCASE {year} data folder: {root}", highlight=False)
