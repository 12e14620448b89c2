"""Help that reads well in a terminal and in a pipe: plain text, arguments by their names.

Typer's own help wraps required arguments in braces (``{campaign_id}``) and prints each
parameter's Python type (``<int>``, ``<bool>``); ours names an argument by its metavar
(``ID``, ``FILE.csv``) and lets the help text say what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand


def argument_name(argument: TyperArgument) -> str:
    name = argument.metavar or (argument.name or "VALUE").upper()
    if argument.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if argument.required else f"[{name}]"


class PlainCommand(TyperCommand):
    """A command whose usage line and help name arguments as ``ID``, not ``{campaign_id}``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(argument_name(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                help_text = record[1].replace("  [required]", "").replace("[required]", "")
                arguments.append((argument_name(param), help_text.strip()))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Commands(typer.Typer):
    """A Typer app whose commands are PlainCommands and whose help is plain text (no boxes,
    rewrapped to the terminal, the same on a terminal and in a pipe)."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("rich_markup_mode", None)
        super().__init__(**options)

    def command(self, *args: Any, **options: Any) -> Callable[[Any], Any]:
        options.setdefault("cls", PlainCommand)
        return super().command(*args, **options)
