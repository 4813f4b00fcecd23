"""The `aegan` command line: thin wrappers that parse options, call the library and
render the results with rich."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aegan.cli import config_cmd
from aegan.cli.common import console, set_debug, set_home
from aegan.cli.demo import demo
from aegan.cli.export import export
from aegan.cli.fetch import fetch
from aegan.cli.localize import localize
from aegan.cli.models import models
from aegan.cli.prepare import prepare
from aegan.cli.report import report
from aegan.cli.score import score
from aegan.cli.test_cmd import test
from aegan.cli.train import train
from aegan.cli.watch import watch

app = typer.Typer(
    name="aegan",
    help="AEGAN-AD: anomalous sound detection for machines (DCASE Task 2, 2020 to 2026).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # here: reading package metadata takes a while

        console.print(f"aegan {version('aegan')}")
        raise typer.Exit()


@app.callback()
def root(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Keep all state (cache, models, config) under this folder.",
            envvar="AEGAN_HOME",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    set_home(home)
    set_debug(debug)


app.command(rich_help_panel="Data")(prepare)
app.command(rich_help_panel="Models")(train)
app.command(rich_help_panel="Data")(fetch)
app.command(rich_help_panel="Models")(test)
app.command(rich_help_panel="Use")(score)
app.command(rich_help_panel="Use")(localize)
app.command(rich_help_panel="Use")(export)
app.command(rich_help_panel="Use")(watch)
app.command(rich_help_panel="Models")(report)
app.command(rich_help_panel="Models")(models)
app.add_typer(config_cmd.app, name="config", rich_help_panel="Setup")
app.command(rich_help_panel="Setup")(demo)


def main() -> None:
    app(prog_name="aegan")
