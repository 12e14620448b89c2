"""The ``campaignd`` command line: thin commands that parse, call and print."""

from __future__ import annotations

from campaignd.cli import (
    bounces,
    campaign_report,
    campaigns,
    contacts,
    database,
    demo,
    dkim,
    images,
    layouts,
    lists,
    organizations,
    prune,
    runs,
    serve,
    suppressions,
    tokens,
    webhooks,
)
from campaignd.cli import segments as segment_commands
from campaignd.cli.help import Commands

app = Commands(
    no_args_is_help=True,
    help="campaignd: scheduled email campaigns, on time, once per person.",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve.serve)
app.add_typer(database.app, name="db")
app.add_typer(organizations.app, name="org")
app.add_typer(tokens.app, name="token")
app.add_typer(campaigns.app, name="campaign")
campaigns.app.command("report")(campaign_report.report)
campaigns.app.command("compare")(campaign_report.compare)
app.add_typer(suppressions.app, name="suppress")
app.add_typer(lists.app, name="list")
app.add_typer(segment_commands.app, name="segment")
app.add_typer(contacts.app, name="contact")
app.add_typer(dkim.app, name="dkim")
app.add_typer(images.app, name="image")
app.add_typer(bounces.app, name="bounces")
app.add_typer(layouts.app, name="layout")
app.add_typer(webhooks.app, name="webhook")
app.command("runs")(runs.runs)
app.command("demo")(demo.demo)
app.command("prune")(prune.prune)


def main() -> None:
    app()
