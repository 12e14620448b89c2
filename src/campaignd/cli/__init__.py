"""The ``campaignd`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="campaignd: scheduled email campaigns.")


def main() -> None:
    app()
