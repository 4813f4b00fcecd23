"""`aegan config`: the effective config of a machine, and the user settings file."""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer
import yaml

from aegan import paths
from aegan.cli.common import (
    ConfigOption,
    SetOption,
    console,
    err_console,
    load_config,
    reports_errors,
)
from aegan.config import schema as config_mod
from aegan.config import settings as settings_mod
from aegan.config.keys import to_dict

app = typer.Typer(
    help="Show the effective config and edit the user settings.", no_args_is_help=True
)


@app.command("show")
@reports_errors
def show(
    machine: Annotated[
        str | None, typer.Argument(help="Machine type; omit for the user settings.")
    ] = None,
    year: Annotated[
        str, typer.Option("--year", "-y", help="DCASE edition: 20 to 26 (or 2020 to 2026).")
    ] = "22",
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Print the effective config of MACHINE as YAML (defaults, recipe, --config, --set).

    Without MACHINE, print the user settings (data roots, device, download mirrors).
    """
    if machine is None:
        text = yaml.safe_dump(to_dict(settings_mod.load_settings()), sort_keys=False)
    else:
        from aegan.config.recipes import recipe_origin
        from aegan.dcase.facts import MachineType

        cfg = load_config(year, machine, config, set_)
        origin = recipe_origin(MachineType(cfg.year, cfg.machine))
        comment = textwrap.wrap(f"recipe: {origin}", 86)
        text = "".join(f"# {line}\n" for line in comment) + config_mod.config_yaml(cfg)
    console.print(text.rstrip(), highlight=False, markup=False, soft_wrap=True)


@app.command("path")
def path() -> None:
    """Print where the user settings file is (it may not exist yet)."""
    console.print(str(paths.user_config_file()), highlight=False)


@app.command("set", context_settings={"ignore_unknown_options": True})
@reports_errors
def set_value(
    key: Annotated[str, typer.Argument(help="Settings key, e.g. data.root22 or device.")],
    value: Annotated[str, typer.Argument(help="New value; 'null' clears it.")],
) -> None:
    """Set one key of the user settings file, e.g. `aegan config set data.root22 /data/dcase22`."""
    for note in settings_mod.save_setting(key, value):
        err_console.print(f"[yellow]Note:[/] {note}", highlight=False)
    console.print(f"{key} = {value}  ({paths.user_config_file()})", highlight=False)
