"""``campaignd layout``: the layouts an organization's campaigns are placed in."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from campaignd.actions import layouts as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.campaigns import format_time
from campaignd.cli.common import command_group, console, fail
from campaignd.cli.output import JSON, json_value, print_json, print_table
from campaignd.domain.nul_characters import NUL, NUL_PROBLEM
from campaignd.store.layouts import Layout

app = command_group("Manage layouts (the frame around campaign bodies).")

ORGANIZATION = typer.Option(..., "--org", metavar="SLUG", help="The organization's slug.")
NAME = typer.Argument(..., metavar="NAME", help="The layout's name.")
HTML_FILE = typer.Option(
    None,
    "--html",
    metavar="FILE",
    help="An HTML file with {{ content }} where the body goes ('-': standard input).",
)
TEXT_FILE = typer.Option(
    None,
    "--text",
    metavar="FILE",
    help="A text file with {{ content }} for the text part (left out: made from the HTML).",
)


def layout_record(organization: str, layout: Layout) -> dict[str, object]:
    """A layout as ``--json`` prints it (the API's fields)."""
    return {
        "organization": organization,
        "name": layout.name,
        "html": layout.html,
        "text": layout.text,
        "default": layout.is_default,
        "createdAt": json_value(layout.created_at),
        "updatedAt": json_value(layout.updated_at),
    }


def _read(path: Path, option: str) -> str:
    text = _read_text(path, option)
    if NUL in text:
        raise fail(f"{option}: {path} {NUL_PROBLEM}")
    return text


def _read_text(path: Path, option: str) -> str:
    if str(path) == "-":
        return typer.get_text_stream("stdin").read()
    try:
        size = path.stat().st_size
        if size > actions.MAX_LAYOUT_CHARACTERS * 4:
            raise fail(f"{option}: {path} is too large for a layout")
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise fail(f"{option}: cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise fail(f"{option}: {path} is not UTF-8 text") from None


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False, soft_wrap=True)


@app.command("add")
def add(
    name: str = NAME,
    org: str = ORGANIZATION,
    html: Path = typer.Option(
        ...,
        "--html",
        metavar="FILE",
        help="An HTML file with {{ content }} where the body goes ('-': standard input).",
    ),
    text: Path | None = TEXT_FILE,
    default: bool = typer.Option(
        False, "--default", help="Make it the organization's default layout."
    ),
    as_json: bool = JSON,
) -> None:
    """Add a layout from an HTML file (and optionally a text file).

    The HTML must contain {{ content }}: the campaign's body goes there. It may use the
    same variables as a body ({{ unsubscribe_url }}, {{ email }}, a recipient's own). The
    organization's default layout is the one campaigns created without one get.

    \b
    Example:
      campaignd layout add brand --org acme --html brand.html \\
          --text brand.txt --default
    """
    settings = prepared_settings()
    html_source = _read(html, "--html")
    text_source = _read(text, "--text") if text is not None else None

    async def work(services: Services, principal: Principal) -> actions.LayoutView:
        return await actions.add_layout(
            services,
            principal,
            name=name,
            html=html_source,
            text=text_source,
            is_default=default,
            organization=org,
        )

    view = run_action(settings, work)
    if as_json:
        print_json(layout_record(view.organization, view.layout))
        return
    role = " (its default)" if view.layout.is_default else ""
    _say(f"added the layout {view.layout.name} to {view.organization}{role}")


@app.command("list")
def list_(org: str = ORGANIZATION, as_json: bool = JSON) -> None:
    """List the organization's layouts.

    \b
    Example:
      campaignd layout list --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> tuple[str, list[Layout]]:
        return await actions.list_layouts(services, principal, organization=org)

    slug, layouts = run_action(settings, work)
    if as_json:
        print_json(
            {"organization": slug, "layouts": [layout_record(slug, item) for item in layouts]}
        )
        return
    if not layouts:
        _say(
            f"{slug} has no layouts. Add one with "
            f"`campaignd layout add NAME --org {slug} --html FILE`."
        )
        return
    table = Table("name", "default", "text part", "updated")
    for layout in layouts:
        table.add_row(
            layout.name,
            "yes" if layout.is_default else "",
            "its own" if layout.text else "made from the HTML",
            format_time(layout.updated_at),
        )
    print_table(table)


@app.command("show")
def show(
    name: str = NAME,
    org: str = ORGANIZATION,
    preview: bool = typer.Option(
        False, "--preview", help="Show it around a sample body, as a sample recipient gets it."
    ),
    as_json: bool = JSON,
) -> None:
    """Print a layout's HTML and text, or a sample message in it.

    With --preview: a sample body in the layout, as a sample recipient gets it.

    \b
    Example:
      campaignd layout show brand --org acme
      campaignd layout show brand --org acme --preview
    """
    settings = prepared_settings()

    async def work(
        services: Services, principal: Principal
    ) -> tuple[actions.LayoutView, actions.LayoutPreview | None]:
        view = await actions.get_layout(services, principal, name, organization=org)
        sample = (
            await actions.preview_layout(services, principal, name, organization=org)
            if preview
            else None
        )
        return view, sample

    view, sample = run_action(settings, work)
    if as_json:
        document = layout_record(view.organization, view.layout)
        if sample is not None:
            document["preview"] = {"html": sample.html, "text": sample.text}
        print_json(document)
        return
    html = sample.html if sample is not None else view.layout.html
    text = sample.text if sample is not None else view.layout.text
    _say(f"-- HTML{' (preview)' if sample else ''} --")
    _say(html)
    _say(f"-- text{' (preview)' if sample else ''} --")
    _say(text if text else "(made from the HTML)")


@app.command("edit")
def edit(
    name: str = NAME,
    org: str = ORGANIZATION,
    html: Path | None = HTML_FILE,
    text: Path | None = TEXT_FILE,
    no_text: bool = typer.Option(
        False, "--no-text", help="Remove its text layout: the text part is made from the HTML."
    ),
    default: bool | None = typer.Option(
        None, "--default/--not-default", help="Make it the default, or no longer the default."
    ),
    as_json: bool = JSON,
) -> None:
    """Change a layout's HTML, text or whether it is the default.

    Campaigns already sending keep the layout as it was when they started; drafts and
    scheduled campaigns get the new one.

    \b
    Example:
      campaignd layout edit brand --org acme --html brand-2027.html
      campaignd layout edit plain --org acme --default
    """
    if html is None and text is None and not no_text and default is None:
        raise fail("nothing to change: give --html, --text, --no-text or --default")
    if text is not None and no_text:
        raise fail("--text and --no-text: choose one")
    settings = prepared_settings()
    html_source = _read(html, "--html") if html is not None else None
    text_source = _read(text, "--text") if text is not None else None

    async def work(services: Services, principal: Principal) -> actions.LayoutView:
        return await actions.edit_layout(
            services,
            principal,
            name,
            html=html_source,
            text=text_source,
            clear_text=no_text,
            is_default=default,
            organization=org,
        )

    view = run_action(settings, work)
    if as_json:
        print_json(layout_record(view.organization, view.layout))
        return
    _say(f"changed the layout {view.layout.name} of {view.organization}")


@app.command("remove")
def remove(name: str = NAME, org: str = ORGANIZATION) -> None:
    """Remove a layout that no campaign in progress uses.

    Refused while a scheduled or sending campaign uses it.

    \b
    Example:
      campaignd layout remove brand --org acme
    """
    settings = prepared_settings()

    async def work(services: Services, principal: Principal) -> actions.LayoutView:
        return await actions.remove_layout(services, principal, name, organization=org)

    view = run_action(settings, work)
    _say(f"removed the layout {view.layout.name} from {view.organization}")
