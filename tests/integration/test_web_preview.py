"""The campaign page previews the message as one recipient gets it, as delivery renders it."""

from __future__ import annotations

import html
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from campaignd.actions import campaigns as actions
from campaignd.actions.campaigns import CampaignContent
from campaignd.api.unsubscribe import router as unsubscribe_router
from campaignd.delivery.messages import CampaignContent as MessageContent
from campaignd.delivery.messages import MessageBuilder
from campaignd.delivery.unsubscribe import SECRET_NAME, read_token
from campaignd.domain.recipients import from_json
from campaignd.store import audit, campaign_targets, campaigns, recipients
from campaignd.store.schema import suppressions
from campaignd.store.secrets import installation_id, instance_secret
from tests.integration.targeting_support import add_contacts, add_list
from tests.integration.test_web_pages import HOSTILE, LIST, World, sign_in

pytest_plugins = ("tests.integration.test_web_pages",)  # its fixtures: world, app, client

SUBJECT = "News for {{ first_name | default('you') }}"
HTML_BODY = "<h1>Hello {{ first_name }}</h1><p>Your code: {{ code }}</p>"
TEXT_BODY = "Hi {{ first_name }},\nleave any time: {{ unsubscribe_url }}\n"
PEOPLE = [
    {"email": "ann@example.org", "vars": {"first_name": "Ann", "code": "A-1"}},
    {"email": "bob@example.org", "vars": {"first_name": "Bob", "code": "B-2"}},
]
TOKEN = re.compile(r"/u/[A-Za-z0-9_.\-]+")


async def create(
    world: World,
    people: list[object],
    *,
    organization: str = "acme",
    html_body: str = HTML_BODY,
) -> int:
    view, _ = await actions.create_campaign(
        world.services,
        world.system,
        CampaignContent(name="Preview", subject=SUBJECT, html_body=html_body, text_body=TEXT_BODY),
        organization=organization,
        recipient_list=from_json(people),
    )
    return int(view["id"])


async def delivery_ids(world: World, campaign_id: int) -> dict[str, int]:
    async with world.services.database.connection() as connection:
        rows = await recipients.list_deliveries(connection, campaign_id)
    return {str(row["email"]): int(row["id"]) for row in rows}


def message_card(page: str) -> str:
    return re.split(r'<section class="[^"]*" id="message">', page)[1].split("</section>")[0]


def shown_html(card: str) -> str:
    match = re.search(r'srcdoc="([^"]*)"', card)
    assert match, "no HTML preview"
    return html.unescape(match.group(1))


def shown_text(card: str) -> str:
    match = re.search(r"<pre class=\"text-body\" data-sample-text>(.*?)</pre>", card, re.S)
    assert match, "no text preview"
    return html.unescape(match.group(1))


def shown_subject(card: str) -> str:
    match = re.search(r"<dd data-sample-subject>(.*?)</dd>", card)
    assert match
    return html.unescape(match.group(1))


async def test_the_first_recipient_is_shown_personalised(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, list(PEOPLE))
    await sign_in(client, world.acme_admin)
    card = message_card((await client.get(f"{LIST}/{campaign_id}")).text)
    assert shown_subject(card) == "News for Ann"
    assert "<h1>Hello Ann</h1><p>Your code: A-1</p>" in shown_html(card)
    assert shown_text(card).startswith("Hi Ann,\nleave any time: http://127.0.0.1:8000/u/")
    assert "{{" not in card
    assert '<option value="' in card and "selected>ann@example.org</option>" in card
    assert re.search(r'<iframe class="email-preview" sandbox srcdoc=', card)
    assert "allow-scripts" not in card


async def test_a_chosen_recipient_is_shown(client: httpx.AsyncClient, world: World) -> None:
    campaign_id = await create(world, list(PEOPLE))
    ids = await delivery_ids(world, campaign_id)
    await sign_in(client, world.acme_viewer)
    page = (await client.get(f"{LIST}/{campaign_id}")).text
    assert f'href="{LIST}/{campaign_id}?sample={ids["bob@example.org"]}#message"' in page
    card = message_card(
        (await client.get(f"{LIST}/{campaign_id}?sample={ids['bob@example.org']}")).text
    )
    assert shown_subject(card) == "News for Bob"
    assert "<h1>Hello Bob</h1><p>Your code: B-2</p>" in shown_html(card)
    assert "Hi Bob," in shown_text(card)
    assert "selected>bob@example.org</option>" in card


async def test_the_unsubscribe_link_of_a_preview_is_inert(
    client: httpx.AsyncClient, world: World
) -> None:
    """A viewer sees where the link goes, but the preview carries no recipient's real link,
    and following it (even by POST, as one-click does) unsubscribes nobody."""
    campaign_id = await create(world, list(PEOPLE))
    ids = await delivery_ids(world, campaign_id)
    await sign_in(client, world.acme_viewer)
    page = await client.get(f"{LIST}/{campaign_id}?sample={ids['bob@example.org']}")
    card = message_card(page.text)
    assert shown_text(card).endswith("leave any time: http://127.0.0.1:8000/u/preview")
    # the HTML body does not place the link, so it gets the footer a sent message gets
    assert '<a href="http://127.0.0.1:8000/u/preview">Unsubscribe</a>' in shown_html(card)
    secret = await instance_secret(world.services.database, SECRET_NAME)
    for path in TOKEN.findall(page.text):
        with pytest.raises(ValueError):
            read_token(secret, path.removeprefix("/u/"))

    public = FastAPI()
    public.state.database = world.services.database
    public.include_router(unsubscribe_router)
    transport = httpx.ASGITransport(app=public)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as link:
        shown = await link.get("/u/preview")
        assert shown.status_code == 200 and "unsubscribes no one" in shown.text
        clicked = await link.post("/u/preview", data={"List-Unsubscribe": "One-Click"})
        assert clicked.status_code == 200 and "nobody was unsubscribed" in clicked.text
    async with world.services.database.connection() as connection:
        assert await connection.scalar(select(func.count()).select_from(suppressions)) == 0
        logged = {row["action"] for row in await audit.recent(connection)}
    assert logged == {"campaign.create", "session.start"}


def parts_of(data: bytes) -> tuple[str, str, str]:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    return str(message["Subject"]), html_part.get_content(), text_part.get_content()


async def test_the_preview_is_what_delivery_sends(client: httpx.AsyncClient, world: World) -> None:
    people: list[object] = [
        {"email": "cy@example.org", "vars": {"first_name": "  Cy  <Ltd>", "code": "C&3"}}
    ]
    campaign_id = await create(world, people)
    await sign_in(client, world.acme_admin)
    card = message_card((await client.get(f"{LIST}/{campaign_id}")).text)
    async with world.services.database.connection() as connection:
        row = await campaigns.get_campaign(connection, campaign_id)
    assert row is not None
    builder = MessageBuilder(
        MessageContent.from_row(row, default_from=world.services.settings.from_address),
        public_url=world.services.settings.public_url,
        unsubscribe_secret=await instance_secret(world.services.database, SECRET_NAME),
        installation=await installation_id(world.services.database),
    )
    ids = await delivery_ids(world, campaign_id)
    sent = builder.build(ids["cy@example.org"], "cy@example.org", people[0]["vars"])  # type: ignore[index]
    subject, html_body, text_body = parts_of(sent.data)

    def same(text: str) -> str:
        return TOKEN.sub("/u/TOKEN", text.replace("\r\n", "\n")).rstrip("\n")

    assert shown_subject(card) == subject
    assert same(shown_html(card)) == same(html_body)
    assert same(shown_text(card)) == same(text_body)
    assert "&lt;Ltd&gt;" in shown_html(card) and "C&amp;3" in shown_html(card)


async def test_hostile_values_stay_inside_the_sandbox(
    client: httpx.AsyncClient, world: World
) -> None:
    people: list[object] = [{"email": "eve@example.org", "vars": {"first_name": HOSTILE}}]
    campaign_id = await create(world, people, html_body="<p>{{ first_name }}</p>" + HOSTILE)
    await sign_in(client, world.acme_admin)
    page = (await client.get(f"{LIST}/{campaign_id}")).text
    assert "<script>alert(1)" not in page
    card = message_card(page)
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><script>alert(1)</script>" in shown_html(
        card
    )
    assert '<iframe class="email-preview" sandbox srcdoc=' in card


async def test_without_recipients_the_template_is_shown_with_a_note(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, [])
    await sign_in(client, world.acme_admin)
    card = message_card((await client.get(f"{LIST}/{campaign_id}")).text)
    assert "No recipients yet, so this is the template as written" in card
    assert shown_subject(card) == SUBJECT
    assert shown_html(card) == HTML_BODY
    assert 'name="sample"' not in card


async def test_a_campaign_to_a_list_is_shown_for_its_first_contact(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, [])
    acme = await world.organization_id()
    people = [("yan@example.org", {"first_name": "Yan", "code": "Y-9"}), ("zoe@example.org", {})]
    await add_contacts(world.services.database, acme, people)
    readers = {"yan@example.org": "confirmed", "zoe@example.org": "confirmed"}
    list_id = await add_list(world.services.database, acme, "Readers", readers)
    async with world.services.database.transaction() as connection:
        await campaign_targets.set_lists(connection, campaign_id, [list_id])
    await sign_in(client, world.acme_viewer)

    card = message_card((await client.get(f"{LIST}/{campaign_id}")).text)

    assert shown_subject(card) == "News for Yan"
    assert "<h1>Hello Yan</h1><p>Your code: Y-9</p>" in shown_html(card)
    assert "the first contact of the campaign's lists and segments" in card
    assert 'name="sample"' not in card and "template as written" not in card


async def test_another_campaigns_recipient_is_not_shown(
    client: httpx.AsyncClient, world: World
) -> None:
    ours = await create(world, list(PEOPLE))
    theirs = await create(
        world,
        [{"email": "secret@globex.example", "vars": {"first_name": "Zed"}}],
        organization="globex",
    )
    their_id = (await delivery_ids(world, theirs))["secret@globex.example"]
    await sign_in(client, world.acme_admin)
    page = await client.get(f"{LIST}/{ours}?sample={their_id}")
    assert page.status_code == 200
    assert "secret@globex.example" not in page.text and "Zed" not in page.text
    card = message_card(page.text)
    assert "The chosen recipient is not one of this campaign&#39;s recipients" in card
    assert shown_subject(card) == "News for Ann"
    assert (await client.get(f"{LIST}/{theirs}?sample={their_id}")).status_code == 404


async def test_a_recipient_the_template_cannot_render_for_is_named(
    client: httpx.AsyncClient, world: World
) -> None:
    people: list[object] = [{"email": "zero@example.org", "vars": {"share": 0}}]
    campaign_id = await create(
        world, people, html_body="<p>{{ 100 // (share | default(1)) }} each</p>"
    )
    await sign_in(client, world.acme_admin)
    card = message_card((await client.get(f"{LIST}/{campaign_id}")).text)
    assert (
        "The message cannot be rendered for zero@example.org (ZeroDivisionError: integer "
        "division or modulo by zero); sending to this recipient would fail too." in card
    )


async def test_a_recipient_whose_render_goes_over_the_limits_is_named(
    client: httpx.AsyncClient, world: World
) -> None:
    """Saved fine (the sample recipient has no ``size``); one recipient's values would loop
    81 million times: the preview names the limit instead of rendering (or stalling)."""
    people: list[object] = [
        {"email": "small@example.org", "vars": {"size": 2}},
        {"email": "huge@example.org", "vars": {"size": 9000}},
    ]
    nested = (
        "<p>{% for i in range(size|default(0)) %}{% for j in range(size) %}x"
        "{% endfor %}{% endfor %}</p>"
    )
    campaign_id = await create(world, people, html_body=nested)
    ids = await delivery_ids(world, campaign_id)
    await sign_in(client, world.acme_admin)

    small = message_card((await client.get(f"{LIST}/{campaign_id}")).text)
    huge = message_card(
        (await client.get(f"{LIST}/{campaign_id}?sample={ids['huge@example.org']}")).text
    )

    assert "<p>xxxx</p>" in shown_html(small)
    assert (
        "The message cannot be rendered for huge@example.org (RenderLimitExceeded: htmlBody: "
        "goes over the limit of 100000 loop iterations (macro calls included)); sending to "
        "this recipient would fail too." in html.unescape(huge)
    )


def variable_warning(page: str) -> str:
    match = re.search(r"<div class=\"variable-warning\".*?</div>", page, re.S)
    assert match, "no warning about missing variables"
    return match.group(0)


def as_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


async def test_contacts_of_a_campaigns_list_lacking_a_variable_are_counted_before_it_starts(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, [{"email": "ann@example.org", "vars": {"code": "A-1"}}])
    acme = await world.organization_id()
    await add_contacts(
        world.services.database,
        acme,
        [("zoe@example.org", {"first_name": "Zoe"}), ("yan@example.org", {"code": "Y-9"})],
    )
    list_id = await add_list(
        world.services.database,
        acme,
        "Everyone",
        {"zoe@example.org": "confirmed", "yan@example.org": "confirmed"},
    )
    async with world.services.database.transaction() as connection:
        await campaign_targets.set_lists(connection, campaign_id, [list_id])
    ids = await delivery_ids(world, campaign_id)
    await sign_in(client, world.acme_viewer)

    warning = variable_warning((await client.get(f"{LIST}/{campaign_id}")).text)

    items = dict(re.findall(r'<li data-missing-variable="(\w+)">(.*?)</li>', warning, re.S))
    assert as_text(items["first_name"]).startswith("2 recipients have no first_name")
    assert as_text(items["code"]).startswith("1 recipient has no code")
    # the recipient opens a preview of their message; the list's contact has none yet
    linked = re.findall(r"\?sample=(\d+)#message\"[^>]*>([^<]+)</a>", items["first_name"])
    assert linked == [(str(ids["ann@example.org"]), "ann@example.org")]
    assert '<span class="mono"' in items["first_name"] and "yan@example.org" in items["first_name"]


async def test_recipients_lacking_a_variable_are_counted_with_what_they_would_see(
    client: httpx.AsyncClient, world: World
) -> None:
    people: list[object] = [
        {"email": "ann@example.org", "vars": {"first_name": "Ann", "code": "A-1"}},
        {"email": "bob@example.org", "vars": {"first_name": "", "code": "B-2"}},
        {"email": "cy@example.org", "vars": {"code": "C-3"}},
        {"email": "dee@example.org", "vars": {"first_name": None, "code": "D-4"}},
        {"email": "eve@example.org", "vars": {"first_name": "  ", "code": ""}},
    ]
    campaign_id = await create(world, people)
    ids = await delivery_ids(world, campaign_id)
    await sign_in(client, world.acme_viewer)
    page = (await client.get(f"{LIST}/{campaign_id}")).text
    warning = variable_warning(page)
    items = dict(re.findall(r'<li data-missing-variable="(\w+)">(.*?)</li>', warning, re.S))

    assert list(items) == ["first_name", "code"]  # the most lacking first
    assert as_text(items["first_name"]).startswith(
        "4 recipients have no first_name: they will see “Hi ,”"
    )
    assert "For example" in items["first_name"]
    shown = re.findall(r"\?sample=(\d+)#message\"[^>]*>([^<]+)</a>", items["first_name"])
    assert len(shown) == 3
    assert all(ids[email] == int(delivery) for delivery, email in shown)
    assert as_text(items["code"]) == (
        "1 recipient has no code: they will see “Your code:” eve@example.org"
    )
    assert "{{ first_name | default(&#34;…&#34;, true) }}" in warning

    # the subject's default() covers a missing first_name, not a blank one: the body's use
    # decides (no default there); with the body covered, only the blank ones are left
    await actions.edit_campaign(
        world.services,
        world.system,
        campaign_id,
        {"html_body": "<h1>Hello {{ first_name or 'there' }}</h1>", "text_body": "Hi"},
    )
    warning = variable_warning((await client.get(f"{LIST}/{campaign_id}")).text)
    assert as_text(warning).startswith(
        "Some recipients lack a template variable 3 recipients have an empty first_name, "
        "which default(…) does not replace: they will see “News for”"
    )
    assert 'data-missing-variable="code"' not in warning


async def test_a_campaign_whose_templates_cover_every_case_has_no_warning(
    client: httpx.AsyncClient, world: World
) -> None:
    people: list[object] = [{"email": "bob@example.org", "vars": {"first_name": ""}}, "cy@x.org"]
    campaign_id = await create(
        world,
        people,
        html_body="{% if first_name %}<h1>Hello {{ first_name }}</h1>{% endif %}",
    )
    await actions.edit_campaign(
        world.services,
        world.system,
        campaign_id,
        {"subject": "News for {{ first_name | default('you', true) }}", "text_body": "Hi"},
    )
    await sign_in(client, world.acme_admin)
    page = (await client.get(f"{LIST}/{campaign_id}")).text
    assert "data-eligible" in page
    assert "variable-warning" not in page and "data-missing-variable" not in page


async def test_what_a_recipient_would_see_is_shown_as_text(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, [{"email": "bob@example.org", "vars": {"code": "1"}}])
    await actions.edit_campaign(
        world.services,
        world.system,
        campaign_id,
        {"text_body": "Hi {{ first_name }} " + HOSTILE},
    )
    await sign_in(client, world.acme_admin)
    page = (await client.get(f"{LIST}/{campaign_id}")).text
    assert "<script>alert(1)" not in page
    assert as_text(variable_warning(page)).startswith(
        "Some recipients lack a template variable 1 recipient has no first_name: they will "
        "see “Hi <script>alert(1)</script>”"
    )


async def test_the_import_report_says_who_lacks_a_variable(
    client: httpx.AsyncClient, world: World
) -> None:
    campaign_id = await create(world, [])
    csrf = await sign_in(client, world.acme_admin)
    answer = await client.post(
        f"{LIST}/{campaign_id}/recipients",
        data={"csrf_token": csrf},
        files={
            "recipients": (
                "people.csv",
                b"email,first_name,code\nann@example.org,Ann,A\nbob@example.org,,B\n",
                "text/csv",
            )
        },
    )
    assert answer.status_code == 303, answer.text
    report = (await client.get(answer.headers["location"])).text
    match = re.search(r"<dd data-missing-variables>(.*?)</dd>", report, re.S)
    assert match, "no summary of missing variables"
    assert as_text(match.group(1)) == "1 lack first_name see what they would get"
    assert f'href="{LIST}/{campaign_id}#eligibility"' in match.group(1)
