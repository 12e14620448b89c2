"""``campaignd layout`` against real databases: add, list, show, edit, remove, refusals."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from campaignd.store.schema import layouts
from tests.integration.test_cli_campaigns import campaign_row, engine, new_campaign, ok, refused

__all__ = ["engine"]

HTML = (
    '<html><body><h1>ACME</h1>{{ content }}<a href="{{ unsubscribe_url }}">Leave</a></body></html>'
)


def stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(select(layouts).order_by(layouts.c.name)).all()
    return [dict(row._mapping) for row in rows]


def test_add_list_show_edit_remove(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    (tmp_path / "brand.html").write_text(HTML, encoding="utf-8")
    (tmp_path / "brand.txt").write_text("ACME\n\n{{ content }}\n", encoding="utf-8")
    added = ok(
        "layout",
        "add",
        "brand",
        "--org",
        "acme",
        "--html",
        "brand.html",
        "--text",
        "brand.txt",
        "--default",
    )
    assert "added the layout brand to acme (its default)" in added.stdout
    listing = json.loads(ok("layout", "list", "--org", "acme", "--json").stdout)
    assert [(item["name"], item["default"]) for item in listing["layouts"]] == [("brand", True)]
    assert "brand" in ok("layout", "list", "--org", "acme").stdout

    shown = ok("layout", "show", "brand", "--org", "acme", "--preview").stdout
    assert "A heading" in shown and "ACME" in shown and "{{ content }}" not in shown

    (tmp_path / "new.html").write_text("<div>NEW</div>{{ content }}", encoding="utf-8")
    ok("layout", "edit", "brand", "--org", "acme", "--html", "new.html", "--no-text")
    [row] = stored(engine)
    assert (row["html"], row["text"]) == ("<div>NEW</div>{{ content }}", None)

    ok("layout", "remove", "brand", "--org", "acme")
    assert stored(engine) == []


def test_bad_input_is_refused_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    (tmp_path / "brand.html").write_text(HTML, encoding="utf-8")
    (tmp_path / "bad.html").write_text("<p>no slot</p>", encoding="utf-8")
    ok("layout", "add", "brand", "--org", "acme", "--html", "brand.html")
    assert "{{ content }}" in refused(
        "layout", "add", "other", "--org", "acme", "--html", "bad.html"
    )
    assert "{{ content }}" in refused(
        "layout", "edit", "brand", "--org", "acme", "--html", "bad.html"
    )
    assert "already has a layout" in refused(
        "layout", "add", "brand", "--org", "acme", "--html", "brand.html"
    )
    assert "cannot read" in refused("layout", "add", "x", "--org", "acme", "--html", "missing.html")
    (tmp_path / "nul.html").write_text(HTML.replace("<body>", "<body>\x00"), encoding="utf-8")
    assert "nul.html must not contain the NUL character (\\u0000)" in refused(
        "layout", "edit", "brand", "--org", "acme", "--html", "nul.html"
    )
    assert "no layout 'nope'" in refused("layout", "remove", "nope", "--org", "acme")
    assert "nothing to change" in refused("layout", "edit", "brand", "--org", "acme")
    [row] = stored(engine)
    assert row["html"] == HTML


def test_a_campaign_file_names_its_layout_and_format(engine: Engine, tmp_path: Path) -> None:
    ok("org", "create", "acme")
    (tmp_path / "brand.html").write_text(HTML, encoding="utf-8")
    ok("layout", "add", "brand", "--org", "acme", "--html", "brand.html", "--default")
    defaulted = new_campaign(tmp_path, htmlBody="# Hi", bodyFormat="markdown")
    none = new_campaign(tmp_path, layout=None)
    assert campaign_row(engine, defaulted)["layout"] == "brand"
    assert campaign_row(engine, defaulted)["body_format"] == "markdown"
    assert campaign_row(engine, none)["layout"] is None
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "name": "x",
                "subject": "y",
                "textBody": "z",
                "organization": "acme",
                "layout": "missing",
            }
        ),
        encoding="utf-8",
    )
    assert "layout" in refused("campaign", "create", "--from", str(path))
