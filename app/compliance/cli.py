"""`vigil compliance ...`: load the framework library, import OSCAL, run the daily jobs by hand."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.compliance.yamlfile import FileError

compliance_cli = AppGroup("compliance", help="The compliance framework library.")


@compliance_cli.command("load")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Folder of framework files (default: app/compliance/frameworks).")
@click.option("--force", is_flag=True, help="Reload files even when their content hash is unchanged.")
def load(directory: Path | None, force: bool) -> None:
    """Load or upgrade the framework library; a malformed file changes nothing."""
    from app.compliance.loader import LIBRARY_DIR, load_library

    try:
        report = load_library(directory or LIBRARY_DIR, force=force)
    except FileError as exc:
        raise click.ClickException(str(exc))
    for line in report.lines() or ["nothing to load"]:
        click.echo(line)


@compliance_cli.command("daily")
def daily() -> None:
    """Run the daily jobs now: flag evidence due for renewal and snapshot every tenant's scores."""
    from app.compliance.jobs import run_daily

    for line in run_daily():
        click.echo(line)
