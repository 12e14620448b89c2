"""Segment filters mean the same on SQLite, on PostgreSQL and in ``domain.filters.matches``.

Hypothesis draws a few hundred contacts with random attributes (strings with unicode, digits
and date shapes, integers, floats, booleans, nulls, objects, missing keys), random list
memberships, random messages of the organization's campaigns (each delivery in any status,
sent at some moment, with opens and clicks by people and by machines) and random filters
over them; the emails each filter selects must be the same on both databases and in the
pure-Python evaluator. A second organization holds look-alike contacts, a list and
campaigns of the same names (which mailed the first's addresses too, and were opened and
clicked), which no filter of the first may ever reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, delete, insert, select

from campaignd.domain.addresses import normalise
from campaignd.domain.filters import DATE_SHAPED, Contact, Message, Tracked, matches, parse
from campaignd.store.database import sync_url
from campaignd.store.filter_sql import contact_condition
from campaignd.store.migrate import upgrade
from campaignd.store.schema import (
    campaigns,
    contacts,
    deliveries,
    list_members,
    lists,
    organizations,
    tracking_events,
)
from tests.support import POSTGRES_URL, fresh_postgres_database, missing

NOW = datetime(2026, 11, 5, 12, 30, 15, 250_000, tzinfo=UTC)
WHOLE_NOW = NOW.replace(microsecond=0)
"""Where an engagement window of whole hours starts: ``NOW`` less the hours, to the second."""
NAMES = ["plan", "age", "score", "signed_up_at", "flag", "tag"]
LISTS = ["news", "vip", "Empty"]
STATUSES = ["unconfirmed", "confirmed", "unsubscribed"]

TRICKY_STRINGS = [
    "pro",
    "Pro",
    "PRO",
    "free",
    "",
    " ",
    "5",
    "5.0",
    "1",
    "0",
    "true",
    "false",
    "null",
    "DE",
    "AT",
    "de",
    "émile",
    "ÉMILE",
    "Straße",
    "STRASSE",
    "日本語",
    "a%b_c",
    "back\\slash",
    'quo"te',
    "2026-11-05",
    "2026-11-04",
    "2026-11-05T09:00:00Z",
    "2026-11-05T12:30:15Z",
    "2026-11-05T12:30:14.999Z",
    "2026-11-05T09:00:00+02:00",
    "2026-11-05 09:00:00",
    "2026-10-06T12:30:15Z",
    "2026-10-06",
    "2026-13-45",
    "2026-11-0",
    "1999-01-01T00:00:00Z",
    "2027-01-01",
    "2026-11-05xyz",
    "9999-12-31T23:59:59Z",
]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)
DATES = st.datetimes(
    min_value=datetime(2026, 9, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
).map(
    lambda moment: moment.strftime(
        ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"][moment.microsecond % 3]
    )
)
STRINGS = st.one_of(st.sampled_from(TRICKY_STRINGS), TEXT, DATES)
INTEGERS = st.one_of(
    st.integers(-1000, 1000), st.sampled_from([0, 1, 5, -1, 2**53, -(2**53), 2**31])
)
FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 5.0, 1.5, -2.5, 0.1, 0.30000000000000004, 1e15]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
)
SCALARS = st.one_of(STRINGS, INTEGERS, FLOATS, st.booleans())
MISSING = object()
ATTRIBUTE_VALUES = st.one_of(
    SCALARS,
    st.none(),
    st.just(MISSING),
    st.sampled_from([{"a": 1}, [1, "pro"], [], {}]),
)


ACME_CAMPAIGNS = ["Spring sale", "Welcome", "Spring sale", "Digest", "Empty one"]
"""acme's campaigns: two of one name; the last one mailed nobody."""
GLOBEX_CAMPAIGNS = ["Spring sale", "Welcome"]
CAMPAIGN_NAMES = [*dict.fromkeys(ACME_CAMPAIGNS), "No such campaign"]
DELIVERY_STATUSES = [
    "sent",
    "sent",
    "sent",
    "bounced",
    "complained",
    "failed",
    "queued",
    "sending",
    "skipped",
    "cancelled",
]
WENT_OUT = {"sent", "bounced", "complained"}
FIXED_WINDOWS = ["1h", "12h", "1d", "7d", "2w", "30d", "90d", "5000w"]
MAILED = 40
"""People who get messages (the first of the crowd): what Hypothesis draws for one example
must stay under its limit (8 KiB of choices), or a failing one cannot be replayed to shrink."""


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    """Whole hours before ``NOW`` (to the second), sometimes a microsecond either side of
    them or half an hour later: on, inside and just outside a window's start."""
    hours = draw(st.integers(0, 24 * 120))
    jitter = draw(st.sampled_from([0, 0, 1, -1, 1_800_000_000]))
    return WHOLE_NOW - timedelta(hours=hours) + timedelta(microseconds=jitter)


@dataclass(frozen=True)
class Sent:
    """A delivery of acme's campaign ``ACME_CAMPAIGNS[campaign]`` to the person."""

    campaign: int
    status: str
    sent_at: datetime | None
    events: tuple[tuple[str, bool, datetime], ...]
    """(kind, by a machine, when)"""


@st.composite
def messages(draw: st.DrawFn) -> tuple[Sent, ...]:
    chosen = draw(st.lists(st.integers(0, 3), unique=True, max_size=3))
    result = []
    for campaign in chosen:
        status = draw(st.sampled_from(DELIVERY_STATUSES))
        went_out = status in WENT_OUT or status == "failed"
        sent_at = draw(st.one_of(moments(), moments(), moments(), st.none())) if went_out else None
        events = (
            draw(
                st.lists(
                    st.tuples(st.sampled_from(["open", "click"]), st.booleans(), moments()),
                    max_size=2,
                )
            )
            if went_out
            else []
        )
        result.append(Sent(campaign, status, sent_at, tuple(events)))
    return tuple(result)


@dataclass(frozen=True)
class Person:
    email: str
    attributes: dict[str, Any]
    source: str | None
    created_at: datetime
    memberships: dict[str, str]
    """list name -> membership status"""
    messages: tuple[Sent, ...] = ()


@st.composite
def people(draw: st.DrawFn) -> list[Person]:
    count = draw(st.integers(min_value=20, max_value=100))
    result = []
    for number in range(count):
        values = {name: draw(ATTRIBUTE_VALUES) for name in NAMES}
        local = draw(st.sampled_from(["ada", "Grace", "bob", "émile", "x"]))
        domain = draw(st.sampled_from(["acme.com", "ACME.com", "example.org", "pro.example"]))
        result.append(
            Person(
                email=normalise(f"{local}.{number}@{domain}"),
                attributes={name: value for name, value in values.items() if value is not MISSING},
                source=draw(st.sampled_from([None, "import", "api", "Import", "form"])),
                created_at=NOW + timedelta(seconds=draw(st.integers(-200 * 86_400, 10 * 86_400))),
                memberships={
                    name: status
                    for name in LISTS
                    if (status := draw(st.sampled_from([None, *STATUSES]))) is not None
                },
                messages=draw(messages()) if number < MAILED else (),
            )
        )
    return result


FIXED_BOUNDS = st.sampled_from(
    [
        "now",
        "now-30d",
        "now+1d",
        "now-12h",
        "now-2w",
        "now+0h",
        "2026-11-05",
        "2026-10-06",
        "2026-11-05T09:00:00Z",
        "2026-11-05T11:00:00+02:00",
        "2026-11-05T12:30:15Z",
    ]
)
NEEDLES = st.sampled_from(["pro", "P", "é", "É", "-11-", "@acme", "2026", "T09", "ss", "%", "_"])
NUMBERS = st.one_of(INTEGERS.filter(lambda value: abs(value) <= 2**53), FLOATS)
EQUALS = st.one_of(STRINGS, NUMBERS, st.booleans())
ATTRIBUTE_OPS = [
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "starts_with",
    "ends_with",
    "before",
    "after",
    "exists",
    "missing",
]


class Vocabulary:
    """Values to filter on, mostly taken from the crowd itself so that conditions hit: an
    attribute's own values (for equality and order), pieces of its strings in any letter
    case (for contains) and its dates cut to a day or a second (for before and after)."""

    def __init__(self, crowd: list[Person]) -> None:
        self.crowd = crowd
        self.values: dict[str, list[Any]] = {
            name: [
                value
                for person in crowd
                if isinstance(value := person.attributes.get(name), str | int | float)
            ]
            for name in NAMES
        }

    def equal(self, name: str) -> st.SearchStrategy[Any]:
        own = self.values[name]
        return st.one_of(st.sampled_from(own), st.sampled_from(own), EQUALS) if own else EQUALS

    def number(self, name: str) -> st.SearchStrategy[Any]:
        own = [
            value
            for value in self.values[name]
            if not isinstance(value, bool | str) and abs(value) <= 2**53
        ]
        return st.one_of(st.sampled_from(own), NUMBERS) if own else NUMBERS

    def needle(self, name: str, op: str) -> st.SearchStrategy[str]:
        strings = [value for value in self.values[name] if isinstance(value, str) and value]
        if not strings:
            return NEEDLES

        @st.composite
        def piece(draw: st.DrawFn) -> str:
            text = draw(st.sampled_from(strings))
            start = 0 if op == "starts_with" else draw(st.integers(0, len(text) - 1))
            end = len(text) if op == "ends_with" else draw(st.integers(start + 1, len(text)))
            change = draw(st.sampled_from([str, str, str.upper, str.lower, str.swapcase]))
            return change(text[start:end]) or text[start:end]

        return st.one_of(piece(), piece(), NEEDLES)

    def bound(self, name: str) -> st.SearchStrategy[str]:
        dates = [
            value
            for value in self.values[name]
            if isinstance(value, str) and DATE_SHAPED.match(value)
        ]
        if not dates:
            return FIXED_BOUNDS

        @st.composite
        def near(draw: st.DrawFn) -> str:
            """A day or a second of one of the attribute's dates (a string that only looks
            like a date, ``2026-13-45``, gives a fixed bound: the parser refuses it)."""
            text = draw(st.sampled_from(dates))
            try:
                moment = datetime.fromisoformat((text + "T00:00:00")[:19]).replace(tzinfo=UTC)
            except ValueError:
                return draw(FIXED_BOUNDS)
            if draw(st.booleans()):
                return text[:10]
            try:
                moment += timedelta(seconds=draw(st.sampled_from([-1, 0, 1, 3600])))
            except OverflowError:  # 9999-12-31T23:59:59 and later
                return text[:10]
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

        return st.one_of(near(), near(), FIXED_BOUNDS)

    def attribute_condition(self) -> st.SearchStrategy[dict[str, Any]]:
        @st.composite
        def condition(draw: st.DrawFn) -> dict[str, Any]:
            name = draw(st.sampled_from([*NAMES, "ghost"]))
            own = name if name in self.values else NAMES[0]
            op = draw(st.sampled_from(ATTRIBUTE_OPS))
            document: dict[str, Any] = {"attribute": name, "op": op}
            if op in {"eq", "ne"}:
                document["value"] = draw(self.equal(own))
            elif op in {"in", "not_in"}:
                document["value"] = draw(st.lists(self.equal(own), min_size=1, max_size=4))
            elif op in {"lt", "lte", "gt", "gte"}:
                document["value"] = draw(self.number(own))
            elif op in {"contains", "starts_with", "ends_with"}:
                document["value"] = draw(self.needle(own, op))
            elif op in {"before", "after"}:
                document["value"] = draw(self.bound(own))
            return document

        return condition()

    def field_condition(self) -> st.SearchStrategy[dict[str, Any]]:
        @st.composite
        def condition(draw: st.DrawFn) -> dict[str, Any]:
            field = draw(st.sampled_from(["email", "source", "createdAt"]))
            if field == "createdAt":
                op = draw(st.sampled_from(["before", "after"]))
                return {"field": field, "op": op, "value": draw(FIXED_BOUNDS)}
            ops = ["eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with"]
            if field == "source":
                ops += ["exists", "missing"]
            op = draw(st.sampled_from(ops))
            if field == "email":
                words = st.sampled_from(
                    ["ada.0@acme.com", "Grace.1@ACME.com", "nobody@example.net"]
                )
            else:
                words = st.sampled_from(["import", "api", "Import", "form", "nothing"])
            document: dict[str, Any] = {"field": field, "op": op}
            if op in {"eq", "ne"}:
                document["value"] = draw(words)
            elif op in {"in", "not_in"}:
                document["value"] = draw(st.lists(words, min_size=1, max_size=3))
            elif op in {"contains", "starts_with", "ends_with"}:
                document["value"] = draw(
                    st.sampled_from(["@ACME.com", "ada", "GRACE", ".org", "imp", "É", "."])
                )
            return document

        return condition()

    def window(self) -> st.SearchStrategy[str]:
        """A window of whole hours that starts right at one of the crowd's moments (or a
        microsecond or half an hour away from it), or a fixed one."""
        hours = sorted(
            {
                round((WHOLE_NOW - moment).total_seconds() / 3600)
                for person in self.crowd
                for message in person.messages
                for moment in [
                    *([message.sent_at] if message.sent_at else []),
                    *(at for _, _, at in message.events),
                ]
            }
            - {0}
        )
        fixed = st.sampled_from(FIXED_WINDOWS)
        if not hours:
            return fixed
        return st.one_of(st.sampled_from(hours).map(lambda value: f"{value}h"), fixed)

    def engagement_condition(self) -> st.SearchStrategy[dict[str, Any]]:
        @st.composite
        def condition(draw: st.DrawFn) -> dict[str, Any]:
            document: dict[str, Any] = {
                "engagement": draw(st.sampled_from(["sent", "opened", "clicked"]))
            }
            campaign = draw(st.one_of(st.none(), st.sampled_from(CAMPAIGN_NAMES)))
            if campaign is not None:
                document["campaign"] = campaign
            within = draw(st.one_of(st.none(), self.window(), self.window()))
            if within is not None:
                document["within"] = within
            return document

        return condition()

    def filters(self) -> st.SearchStrategy[dict[str, Any]]:
        leaves = st.one_of(
            self.attribute_condition(),
            self.attribute_condition(),
            self.attribute_condition(),
            self.field_condition(),
            st.sampled_from([*LISTS, "no such list"]).map(lambda name: {"list": name}),
            self.engagement_condition(),
            self.engagement_condition(),
        )
        groups = st.recursive(
            leaves,
            lambda children: st.one_of(
                st.lists(children, max_size=4).map(lambda items: {"all": items}),
                st.lists(children, max_size=4).map(lambda items: {"any": items}),
                children.map(lambda item: {"not": item}),
            ),
            max_leaves=6,
        )
        return st.one_of(leaves, groups)


@dataclass(frozen=True)
class Databases:
    engines: tuple[Engine, Engine]
    organization_id: int
    other_id: int


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """A SQLite file and a PostgreSQL database, each with organizations acme and globex."""
    if not POSTGRES_URL:
        missing("CAMPAIGND_TEST_DATABASE_URL is not set: the filters must agree on PostgreSQL")
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('filters') / 'filters.db'}"
    upgrade(sqlite_url)
    with fresh_postgres_database() as postgres_url:
        engines = (create_engine(sync_url(sqlite_url)), create_engine(sync_url(postgres_url)))
        ids = []
        for engine in engines:
            with engine.begin() as connection:
                ids.append(
                    [
                        connection.execute(
                            insert(organizations)
                            .values(slug=slug, name=slug, created_at=NOW)
                            .returning(organizations.c.id)
                        ).scalar_one()
                        for slug in ("acme", "globex")
                    ]
                )
        assert ids[0] == ids[1]
        try:
            yield Databases(engines, organization_id=ids[0][0], other_id=ids[0][1])
        finally:
            for engine in engines:
                engine.dispose()


def load(engine: Engine, databases: Databases, crowd: list[Person]) -> None:
    """The crowd in acme; in globex the same people (other addresses), confirmed members of
    globex's lists of the same names; and acme's people confirmed in globex's lists too
    (a link no action makes, which a filter of acme must still not follow). Then the
    messages (``load_messages``)."""
    with engine.begin() as connection:
        connection.execute(delete(tracking_events))
        connection.execute(delete(deliveries))
        connection.execute(delete(campaigns))
        connection.execute(delete(list_members))
        connection.execute(delete(lists))
        connection.execute(delete(contacts))
        list_ids: dict[tuple[int, str], int] = {}
        for organization_id in (databases.organization_id, databases.other_id):
            for name in LISTS:
                list_ids[organization_id, name] = connection.execute(
                    insert(lists)
                    .values(
                        organization_id=organization_id,
                        name=name,
                        visibility="private",
                        opt_in="single",
                        created_at=NOW,
                        updated_at=NOW,
                    )
                    .returning(lists.c.id)
                ).scalar_one()
        rows = [
            {
                "organization_id": organization_id,
                "email": person.email
                if organization_id == databases.organization_id
                else f"other.{person.email}",
                "attributes": person.attributes,
                "status": "subscribed",
                "source": person.source,
                "created_at": person.created_at,
                "updated_at": person.created_at,
            }
            for organization_id in (databases.organization_id, databases.other_id)
            for person in crowd
        ]
        inserted = connection.execute(
            insert(contacts).returning(contacts.c.id, contacts.c.email),
            rows,
        ).all()
        ids = {email: contact_id for contact_id, email in inserted}
        members = []
        for person in crowd:
            for name, status in person.memberships.items():
                members.append(
                    (list_ids[databases.organization_id, name], ids[person.email], status)
                )
            for name in LISTS:
                members.append((list_ids[databases.other_id, name], ids[person.email], "confirmed"))
                members.append(
                    (list_ids[databases.other_id, name], ids[f"other.{person.email}"], "confirmed")
                )
        connection.execute(
            insert(list_members),
            [
                {
                    "list_id": list_id,
                    "contact_id": contact_id,
                    "status": status,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for list_id, contact_id, status in members
            ],
        )
        load_messages(connection, databases, crowd)


def _campaign_ids(connection: Connection, organization_id: int, names: list[str]) -> list[int]:
    return [
        connection.execute(
            insert(campaigns)
            .values(
                organization_id=organization_id,
                name=name,
                subject="Hello",
                text_body="Hi",
                status="sent",
                created_by="test",
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        for name in names
    ]


def load_messages(connection: Connection, databases: Databases, crowd: list[Person]) -> None:
    """acme's campaigns and each person's messages of them; globex's campaigns of the same
    names, sent to every acme address (and its look-alike), opened and clicked by people
    just now: what a filter of acme must never see."""
    acme = _campaign_ids(connection, databases.organization_id, ACME_CAMPAIGNS)
    globex = _campaign_ids(connection, databases.other_id, GLOBEX_CAMPAIGNS)
    rows = [
        {"campaign_id": acme[message.campaign], "email": person.email, "status": message.status}
        | {"sent_at": message.sent_at, "attempts": 1}
        for person in crowd
        for message in person.messages
    ]
    events = [message.events for person in crowd for message in person.messages]
    for campaign_id in globex:
        for person in crowd:
            for email in (person.email, f"other.{person.email}"):
                rows.append(
                    {"campaign_id": campaign_id, "email": email, "status": "sent"}
                    | {"sent_at": WHOLE_NOW, "attempts": 1}
                )
                events.append((("open", False, WHOLE_NOW), ("click", False, WHOLE_NOW)))
    if not rows:
        return
    made = connection.execute(
        insert(deliveries).returning(
            deliveries.c.id, deliveries.c.campaign_id, sort_by_parameter_order=True
        ),
        rows,
    ).all()
    tracked = [
        {
            "campaign_id": campaign_id,
            "delivery_id": delivery_id,
            "kind": kind,
            "link_index": 0 if kind == "click" else None,
            "machine": "scanner" if machine else None,
            "occurred_at": at,
        }
        for (delivery_id, campaign_id), happened in zip(made, events, strict=True)
        for kind, machine, at in happened
    ]
    if tracked:
        connection.execute(insert(tracking_events), tracked)


def selected(engine: Engine, databases: Databases, document: dict[str, Any]) -> set[str]:
    condition = contact_condition(
        parse(document),
        dialect=engine.dialect.name,
        organization_id=databases.organization_id,
        now=NOW,
    )
    with engine.connect() as connection:
        return set(connection.execute(select(contacts.c.email).where(condition)).scalars())


def expected(crowd: list[Person], document: dict[str, Any]) -> set[str]:
    node = parse(document)
    return {
        person.email
        for person in crowd
        if matches(
            node,
            Contact(
                email=person.email,
                attributes=person.attributes,
                source=person.source,
                created_at=person.created_at,
                lists=frozenset(
                    name for name, status in person.memberships.items() if status == "confirmed"
                ),
                messages=tuple(
                    Message(
                        ACME_CAMPAIGNS[message.campaign],
                        message.status,
                        message.sent_at,
                        tuple(Tracked(kind, at, machine) for kind, machine, at in message.events),
                    )
                    for message in person.messages
                ),
            ),
            now=NOW,
        )
    }


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(crowd=people(), data=st.data())
def test_both_databases_select_what_the_reference_selects(
    databases: Databases, crowd: list[Person], data: st.DataObject
) -> None:
    for engine in databases.engines:
        load(engine, databases, crowd)
    documents = data.draw(st.lists(Vocabulary(crowd).filters(), min_size=20, max_size=30))
    for document in documents:
        wanted = expected(crowd, document)
        on_sqlite, on_postgres = (
            selected(engine, databases, document) for engine in databases.engines
        )
        assert on_sqlite == wanted, (document, on_sqlite ^ wanted)
        assert on_postgres == wanted, (document, on_postgres ^ wanted)
        share = "none" if not wanted else "all" if len(wanted) == len(crowd) else "some"
        event(f"{next(iter(document))} {document.get('op', '')} {share}")


@pytest.mark.parametrize(
    "document",
    [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "age", "op": "gte", "value": 18},
        {"attribute": "signed_up_at", "op": "after", "value": "now-30d"},
        {"not": {"attribute": "tag", "op": "in", "value": ["pro", 5, True]}},
        {"attribute": "plan", "op": "contains", "value": "R"},
        {"list": "news"},
        {"engagement": "clicked", "campaign": "Spring sale", "within": "2h"},
        {"not": {"engagement": "opened"}},
    ],
)
def test_chosen_filters_select_someone_and_agree(
    databases: Databases, document: dict[str, Any]
) -> None:
    """Known filters over a known crowd: the property above is not true of empty answers only."""
    crowd = [
        Person(
            email=f"p{number}@acme.com",
            attributes={
                "plan": ["pro", "Pro", "free", 5][number % 4],
                "age": [17, 18, "19", 40.5][number % 4],
                "signed_up_at": [
                    "2026-11-01",
                    "2026-10-01T00:00:00Z",
                    "soon",
                    "2026-11-05T12:00:00Z",
                ][number % 4],
                "tag": ["pro", 5.0, True, "5"][number % 4],
            },
            source=None,
            created_at=NOW,
            memberships={"news": STATUSES[number % 3]},
            messages=(
                Sent(
                    number % 3,
                    "sent",
                    WHOLE_NOW - timedelta(hours=number),
                    (
                        (
                            ["click", "open"][number % 2],
                            number % 3 == 1,
                            WHOLE_NOW - timedelta(hours=number),
                        ),
                    ),
                ),
            ),
        )
        for number in range(8)
    ]
    for engine in databases.engines:
        load(engine, databases, crowd)
    wanted = expected(crowd, document)
    assert 0 < len(wanted) < len(crowd)
    for engine in databases.engines:
        assert selected(engine, databases, document) == wanted
