"""Hostile input: ids beyond 64 bits, deep JSON, huge or broken CSVs, uploads nobody may make.

Each answers a clear 4xx naming what is wrong (the limit, the row), stores nothing, and
leaves the service answering.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from campaignd.api.routes import recipients as recipient_routes
from campaignd.settings import Settings
from campaignd.store.database import Database
from tests.integration.api_client import Api, campaign_body, open_api
from tests.integration.test_web_pages import sign_in

HUGE = "99999999999999999999"
BEYOND_64_BITS = "888935839905576467610730496"
CSV = {"content-type": "text/csv"}


@pytest.fixture
async def api(database: Database, settings: Settings) -> AsyncIterator[Api]:
    async with open_api(database, settings) as handle:
        yield handle


def nested(depth: int) -> str:
    """A JSON object nested ``depth`` levels deep, written without recursion."""
    return '{"a":' * depth + "1" + "}" * depth


def recipients_body(vars_json: str) -> bytes:
    return f'{{"recipients": [{{"email": "deep@example.com", "vars": {vars_json}}}]}}'.encode()


# ids and cursors


ID_CASES: dict[str, tuple[str, str, int, str]] = {
    "huge-id": ("GET", f"/campaigns/{HUGE}", 404, f"campaign {HUGE} not found"),
    "max-id-unknown": ("GET", f"/campaigns/{2**63 - 1}", 404, "not found"),
    "first-id-beyond": ("GET", f"/campaigns/{2**63}", 404, "not found"),
    "negative-id": ("GET", "/campaigns/-1", 404, "campaign -1 not found"),
    "zero-id": ("GET", "/campaigns/0", 404, "campaign 0 not found"),
    "text-id": ("GET", "/campaigns/abc", 404, "not found"),
    "huge-pause": ("POST", f"/campaigns/{BEYOND_64_BITS}/pause", 404, "not found"),
    "huge-execute": ("POST", f"/campaigns/{BEYOND_64_BITS}/execute", 404, "not found"),
    "huge-edit": ("PATCH", f"/campaigns/{HUGE}", 404, "not found"),
    "huge-delete": ("DELETE", f"/campaigns/{HUGE}", 404, "not found"),
    "huge-recipients": ("GET", f"/campaigns/{HUGE}/recipients", 404, "not found"),
    "huge-preview": ("POST", f"/campaigns/{HUGE}/preview", 404, "not found"),
    "huge-cursor": ("GET", "/campaigns?cursor=32589158477190044729", 422, "cursor:"),
    "negative-cursor": ("GET", "/campaigns?cursor=-5", 422, "cursor:"),
    "text-cursor": ("GET", "/campaigns?cursor=next", 422, "cursor:"),
    "huge-recipients-cursor": (
        "GET",
        "/campaigns/{id}/recipients?cursor=32589158477190044729",
        422,
        "cursor:",
    ),
    "huge-suppressions-cursor": ("GET", "/suppressions?cursor=" + "z" * 400, 422, "cursor:"),
}


@pytest.mark.parametrize("case", list(ID_CASES))
async def test_ids_and_cursors_out_of_range_are_404_or_422(api: Api, case: str) -> None:
    method, path, status, words = ID_CASES[case]
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    body = {"name": "x"} if method == "PATCH" else None
    response = await api.call(
        "platform", method, path.format(id=campaign_id), json=body, params=None
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert await api.snapshot() == before
    assert (await api.call("platform", "GET", f"/campaigns/{campaign_id}")).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/admin/marketing/campaigns/{HUGE}", 404),
        (f"/admin/marketing/campaigns/{2**63}/edit", 404),
        (f"/admin/marketing/campaigns/{BEYOND_64_BITS}/progress", 404),
        ("/admin/marketing/campaigns/0", 404),
        ("/admin/marketing/campaigns/-1", 404),  # no such route
        ("/admin/marketing/campaigns/abc", 404),  # no such route
        ("/admin/marketing/campaigns?cursor=32589158477190044729", 422),
        ("/admin/marketing/campaigns/{id}?after=32589158477190044729", 422),
        ("/admin/marketing/campaigns/{id}?sample=-3", 422),
    ],
)
async def test_admin_pages_with_ids_out_of_range_are_pages_not_errors(
    api: Api, path: str, status: int
) -> None:
    campaign_id = await api.campaign_in("draft")
    await sign_in(api.client, api.tokens["platform"])
    response = await api.client.get(path.format(id=campaign_id))
    assert response.status_code == status, response.text
    if "-1" not in path and "abc" not in path:
        assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    page = await api.client.get(f"/admin/marketing/campaigns/{campaign_id}")
    assert page.status_code == 200


async def test_a_huge_id_in_a_form_post_is_a_404_page(api: Api) -> None:
    await sign_in(api.client, api.tokens["platform"])
    response = await api.client.post(f"/admin/marketing/campaigns/{HUGE}/pause", data={})
    assert response.status_code in {403, 404}, response.text
    assert "Traceback" not in response.text


# nesting and size of JSON and variables


@pytest.mark.parametrize("depth", [700, 3000, 100_000])
async def test_deeply_nested_vars_are_refused_and_nothing_is_stored(api: Api, depth: int) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    response = await api.call(
        "acme_admin",
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        content=recipients_body(nested(depth)),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "nested more than 32 levels" in response.json()["detail"]
    assert await api.snapshot() == before
    listed = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients")
    assert listed.status_code == 200, listed.text


async def test_vars_deeper_than_their_own_limit_name_the_row_and_the_limit(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    body = {"recipients": ["fine@example.com", {"email": "deep@example.com", "vars": {}}]}
    body["recipients"][1]["vars"] = json.loads(nested(11))  # type: ignore[index]
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/recipients", json=body
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        "recipients[1].vars: nested more than 10 levels deep, the limit per recipient"
    )
    assert await api.snapshot() == before


async def test_vars_holding_nan_or_infinity_are_refused_naming_the_row_and_the_key(
    api: Api,
) -> None:
    """Python's JSON reader takes NaN and Infinity, which JSON has no number for: stored as
    they came, PostgreSQL refused them with a server error. Now the list is refused, as the
    contacts' attributes are, and nothing of it is stored."""
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    for literal, where in (("NaN", "score"), ("-Infinity", "1")):
        value = literal if where == "score" else f"[1, {literal}]"
        key = "score" if where == "score" else "scores"
        body = (
            '{"recipients": ["fine@example.com", '
            f'{{"email": "odd@example.com", "vars": {{"{key}": {value}}}}}]}}'
        )
        response = await api.call(
            "acme_admin",
            "POST",
            f"/campaigns/{campaign_id}/recipients",
            content=body.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == (
            f"recipients[1].vars: {where}: must be a finite number (not NaN or Infinity)"
        )
    assert await api.snapshot() == before


async def test_vars_at_the_depth_limit_are_stored_and_read_back(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    variables = json.loads(nested(9))
    body = {"recipients": [{"email": "deep@example.com", "vars": variables}]}
    response = await api.call(
        "acme_admin", "POST", f"/campaigns/{campaign_id}/recipients", json=body
    )
    assert response.status_code == 200, response.text
    listed = await api.call("acme_admin", "GET", f"/campaigns/{campaign_id}/recipients")
    assert listed.status_code == 200, listed.text
    (deep,) = [row for row in listed.json()["recipients"] if row["email"] == "deep@example.com"]
    assert deep["vars"] == variables


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({f"k{number}": 1 for number in range(101)}, "101 keys, more than the limit of 100"),
        ({"blob": "x" * 70_000}, "more than the limit of 65536 bytes per recipient"),
        ({"list": ["é" * 1000] * 40}, "more than the limit of 65536 bytes per recipient"),
    ],
)
async def test_vars_beyond_the_key_and_size_limits_are_refused(
    api: Api, variables: dict[str, Any], words: str
) -> None:
    before = await api.snapshot()
    body = campaign_body(
        organization="acme", recipients=[{"email": "big@example.com", "vars": variables}]
    )
    response = await api.call("platform", "POST", "/campaigns", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert response.json()["detail"].startswith("recipients[0].vars:")
    assert await api.snapshot() == before


async def test_every_json_body_has_the_nesting_limit(api: Api) -> None:
    before = await api.snapshot()
    body = json.dumps(campaign_body())[:-1] + f', "extra": {nested(40)}}}'
    for path in ("/campaigns", "/suppressions"):
        response = await api.call(
            "platform",
            "POST",
            path,
            content=body.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "nested more than 32 levels deep" in response.json()["detail"]
    huge_number = b'{"name": ' + b"9" * 5000 + b"}"
    response = await api.call(
        "platform",
        "POST",
        "/campaigns",
        content=huge_number,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert await api.snapshot() == before


async def test_the_nesting_limit_is_a_setting(database: Database, settings: Settings) -> None:
    async with open_api(database, settings, max_json_depth=8, max_vars_depth=2) as api:
        campaign_id = await api.campaign_in("draft")
        response = await api.call(
            "acme_admin",
            "POST",
            f"/campaigns/{campaign_id}/recipients",
            content=recipients_body(nested(6)),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        assert "nested more than 8 levels deep" in response.json()["detail"]
        response = await api.call(
            "acme_admin",
            "POST",
            f"/campaigns/{campaign_id}/recipients",
            content=recipients_body(nested(3)),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        assert "nested more than 2 levels deep" in response.json()["detail"]


# CSV


async def post_csv(api: Api, who: str, campaign_id: int | str, text: str | bytes) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return await api.call(
        who, "POST", f"/campaigns/{campaign_id}/recipients", content=data, headers=CSV
    )


async def test_an_unterminated_quote_names_the_line_where_it_opens(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    text = 'email,name\nada@example.com,Ada\ngrace@example.org,"Grace\nbob@example.net,Bob\n'
    response = await post_csv(api, "acme_admin", campaign_id, text)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("line 3: a quoted field opens here and is never closed"), detail
    assert await api.snapshot() == before


async def test_an_unterminated_quote_in_a_big_file_is_refused_too(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    rows = "".join(f"person{number}@example.com,x\n" for number in range(20_000))
    text = 'email,name\nada@example.com,"Ada\n' + rows
    response = await post_csv(api, "acme_admin", campaign_id, text)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("line 2:")
    assert await api.snapshot() == before


async def test_a_quoted_field_over_lines_that_closes_is_fine(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    text = 'email,note\nann@example.com,"two\nlines"\nbob@example.org,"last"'
    response = await post_csv(api, "acme_admin", campaign_id, text)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2


async def test_too_many_columns_and_too_long_fields_name_the_limit(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    wide = "email," + ",".join(f"c{number}" for number in range(100)) + "\n"
    response = await post_csv(api, "acme_admin", campaign_id, wide + "a@example.com\n")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "line 1: 101 columns; at most 100 are allowed"
    long_field = "email,note\na@example.com,ok\nb@example.com," + "x" * 70_000 + "\n"
    response = await post_csv(api, "acme_admin", campaign_id, long_field)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(
        "line 3: a field is longer than 65536 characters, the limit"
    )
    wide_row = "email,name\nb@example.com," + ",".join(["x"] * 200) + "\n"
    response = await post_csv(api, "acme_admin", campaign_id, wide_row)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("line 2: 201 columns")
    assert await api.snapshot() == before


async def test_csv_variables_have_the_size_limit(database: Database, settings: Settings) -> None:
    async with open_api(database, settings, max_vars_bytes=1000) as api:
        campaign_id = await api.campaign_in("draft")
        text = "email,a,b\nfine@example.com,x,y\nbig@example.com," + "x" * 600 + ",y" * 1
        text += "\nbigger@example.com," + "x" * 600 + "," + "y" * 600 + "\n"
        response = await post_csv(api, "acme_admin", campaign_id, text)
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith("line 4: the row's variables: ")
        assert "more than the limit of 1000 bytes per recipient" in response.json()["detail"]


def wide_csv() -> bytes:
    """About 600 KB: a header of 300,000 columns."""
    return ("email," + ",".join("c" for _ in range(300_000)) + "\na@example.com\n").encode()


@pytest.fixture
def parsing_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the body was parsed before the request was allowed")

    monkeypatch.setattr(recipient_routes, "from_csv", refuse)
    monkeypatch.setattr(recipient_routes, "read_json", refuse)


@pytest.mark.parametrize(
    ("who", "target", "status"),
    [
        ("acme_viewer", "missing", 403),
        ("acme_viewer", "draft", 403),
        ("acme_admin", "missing", 404),
        ("globex_admin", "draft", 404),
        ("acme_admin", "cancelled", 409),
        ("revoked", "draft", 401),
        (None, "draft", 401),
    ],
)
@pytest.mark.usefixtures("parsing_forbidden")
async def test_who_may_upload_is_decided_before_the_body_is_parsed(
    api: Api, who: str | None, target: str, status: int
) -> None:
    campaign_id: int | str = 999_999 if target == "missing" else await api.campaign_in(target)
    before = await api.snapshot()
    # ``parsing_forbidden`` fails the request if the body is read as CSV or JSON at all
    response = await post_csv(api, who, campaign_id, wide_csv())  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    json_response = await api.call(
        who,  # type: ignore[arg-type]
        "POST",
        f"/campaigns/{campaign_id}/recipients",
        json={"recipients": ["a@example.com"]},
    )
    assert json_response.status_code == status, json_response.text
    assert await api.snapshot() == before


async def test_a_wide_csv_from_an_admin_is_refused_quickly(api: Api) -> None:
    campaign_id = await api.campaign_in("draft")
    before = await api.snapshot()
    started = time.process_time()
    response = await post_csv(api, "acme_admin", campaign_id, wide_csv())
    assert response.status_code == 422, response.text
    assert "300001 columns; at most 100 are allowed" in response.json()["detail"]
    assert time.process_time() - started < 1.0
    assert await api.snapshot() == before


async def test_json_routes_authenticate_before_reading_the_body(api: Api) -> None:
    response = await api.call(
        None,
        "POST",
        "/campaigns",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401, response.text


# the NUL character


NUL_CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "campaign-name": (
        "POST",
        "/campaigns",
        {"json": campaign_body(name="Winter\x00Sale")},
        "name: must not contain the NUL character (\\u0000)",
    ),
    "campaign-edit": (
        "PATCH",
        "/campaigns/{draft}",
        {"json": {"textBody": "Hello\x00"}},
        "textBody: must not contain the NUL character (\\u0000)",
    ),
    "recipient-variable": (
        "POST",
        "/campaigns/{draft}/recipients",
        {
            "json": {
                "recipients": ["a@example.com", {"email": "b@example.com", "vars": {"c": "\x00"}}]
            }
        },
        "recipients[1].vars.c: must not contain the NUL character (\\u0000)",
    ),
    "variable-name": (
        "POST",
        "/campaigns/{draft}/recipients",
        {"json": {"recipients": [{"email": "b@example.com", "vars": {"c\x00": 1}}]}},
        "recipients[0].vars.c\\u0000: must not contain the NUL character (\\u0000)",
    ),
    "recipients-csv": (
        "POST",
        "/campaigns/{draft}/recipients",
        {"content": b"email,city\na@example.com,Oslo\nb@example.com,Ri\x00ga\n", "headers": CSV},
        "line 3: a field holds the NUL character (\\u0000)",
    ),
    "list-description": (
        "POST",
        "/lists",
        {"json": {"name": "news", "description": "Weekly\x00"}},
        "description: must not contain the NUL character (\\u0000)",
    ),
    "contact-search": (
        "GET",
        "/contacts?search=ada%00",
        {},
        "search: must not contain the NUL character (\\u0000)",
    ),
    "list-in-the-path": (
        "GET",
        "/lists/news%00",
        {},
        "the URL's path: must not contain the NUL character (\\u0000)",
    ),
}


@pytest.mark.parametrize("case", list(NUL_CASES))
async def test_the_nul_character_is_refused_naming_where_it_is(api: Api, case: str) -> None:
    """PostgreSQL cannot store U+0000 in text nor compare with it: each of these was a
    server error there (and stored as given on SQLite). Now both refuse it alike, naming the
    field, the parameter or the line, and store nothing."""
    method, path, options, detail = NUL_CASES[case]
    draft = await api.campaign_in("draft")
    before = await api.snapshot()
    response = await api.call("acme_admin", method, path.format(draft=draft), **options)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == detail
    assert await api.snapshot() == before
    assert (await api.call("acme_admin", "GET", f"/campaigns/{draft}")).status_code == 200


async def test_text_that_only_looks_like_a_nul_escape_is_kept(api: Api) -> None:
    """A backslash followed by ``u0000`` is six ordinary characters, not a NUL."""
    created = await api.call(
        "acme_admin", "POST", "/campaigns", json=campaign_body(name="Price \\u0000 list")
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Price \\u0000 list"
