"""A filter (``domain.filters``) as a SQL condition over ``contacts``, the same on both databases.

SQLite reads attributes with JSON1 (``json_type``, ``json_extract``), PostgreSQL with jsonb
(``jsonb_typeof``, ``->``, ``->>``). Every leaf first checks the JSON type of the attribute
and only then compares, inside a ``CASE`` (PostgreSQL does not promise the order of
``AND``), so a string is never cast to a number and the statement never fails on odd data.
Every leaf is wrapped in ``coalesce(..., false)``: a condition is true or false for every
contact, never NULL, so ``not`` means what ``domain.filters.matches`` says it means.

Comparisons that depend on the database's rules are pinned down:

- numbers: SQLite compares integers and doubles; PostgreSQL casts the jsonb number and the
  bound value to ``numeric``. Within ±2**53 (the filter's limit) they agree.
- dates: text in byte order (``COLLATE "C"`` on PostgreSQL, SQLite's default ``BINARY``),
  which is code point order, Python's order of ``str``.
- ``contains``, ``starts_with``, ``ends_with``: after lower-casing A-Z only (SQLite's
  ``lower`` does no more; PostgreSQL uses ``translate``, whatever the locale).

User input only ever reaches the statement as bound parameters; attribute names are
checked by the parser and bound too (as a JSON path on SQLite, a key on PostgreSQL).

An engagement condition is a correlated ``EXISTS`` over the organization's deliveries to
the contact's address (and their tracking events), found through the partial index
``ix_deliveries_sent_email`` (the address of every delivery that went out): one index probe
per contact, wherever the condition stands in the filter. Its statuses are written into
the statement as literals, so that both databases see the index's own predicate.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Numeric,
    Text,
    and_,
    case,
    cast,
    collate,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from campaignd.domain.audience import MemberStatus
from campaignd.domain.filters import (
    DATES,
    NEGATED,
    ORDER,
    STAMP_LENGTH,
    STAMP_PADDING,
    TRACKED_KIND,
    WENT_OUT,
    Activity,
    All,
    AnyOf,
    Attribute,
    Condition,
    Day,
    Engaged,
    Field,
    Filter,
    Instant,
    ListMember,
    Not,
    Op,
    Relative,
    created_bounds,
    lower_ascii,
    resolve,
    stamp,
)
from campaignd.store.columns import UtcDateTime
from campaignd.store.schema import (
    campaigns,
    contacts,
    deliveries,
    list_members,
    lists,
    tracking_events,
)

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"

Sql = ColumnElement[Any]


class _Dialect:
    """How one database reads a JSON attribute and compares text."""

    def is_string(self, name: str) -> Sql:
        raise NotImplementedError

    def is_number(self, name: str) -> Sql:
        raise NotImplementedError

    def is_boolean(self, name: str, value: bool) -> Sql:
        raise NotImplementedError

    def is_present(self, name: str) -> Sql:
        raise NotImplementedError

    def text(self, name: str) -> Sql:
        """The attribute as text (meaningful where ``is_string`` holds)."""
        raise NotImplementedError

    def number(self, name: str) -> Sql:
        """The attribute as a number, to be used only under ``is_number``."""
        raise NotImplementedError

    def number_value(self, value: int | float) -> Sql:
        raise NotImplementedError

    def byte_order(self, expression: Sql) -> Sql:
        return expression

    def lower_ascii(self, expression: Sql) -> Sql:
        raise NotImplementedError

    def date_shaped(self, expression: Sql) -> Sql:
        raise NotImplementedError

    def contains(self, haystack: Sql, needle: str) -> Sql:
        raise NotImplementedError

    def starts_with(self, haystack: Sql, needle: str) -> Sql:
        return func.substr(haystack, 1, len(needle)) == needle

    def ends_with(self, haystack: Sql, needle: str) -> Sql:
        raise NotImplementedError


class _Sqlite(_Dialect):
    @staticmethod
    def _path(name: str) -> Sql:
        return literal(f'$."{name}"', Text)

    def _type(self, name: str) -> Sql:
        return func.json_type(contacts.c.attributes, self._path(name))

    def is_string(self, name: str) -> Sql:
        return self._type(name) == "text"

    def is_number(self, name: str) -> Sql:
        return self._type(name).in_(["integer", "real"])

    def is_boolean(self, name: str, value: bool) -> Sql:
        return self._type(name) == ("true" if value else "false")

    def is_present(self, name: str) -> Sql:
        return self._type(name) != "null"

    def text(self, name: str) -> Sql:
        return func.json_extract(contacts.c.attributes, self._path(name))

    def number(self, name: str) -> Sql:
        return func.json_extract(contacts.c.attributes, self._path(name))

    def number_value(self, value: int | float) -> Sql:
        return literal(value)

    def lower_ascii(self, expression: Sql) -> Sql:
        return func.lower(expression)

    def date_shaped(self, expression: Sql) -> Sql:
        return expression.op("GLOB")("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*")

    def contains(self, haystack: Sql, needle: str) -> Sql:
        return func.instr(haystack, needle) > 0

    def ends_with(self, haystack: Sql, needle: str) -> Sql:
        return func.substr(haystack, -len(needle)) == needle


class _Postgres(_Dialect):
    @staticmethod
    def _element(name: str) -> Sql:
        return contacts.c.attributes.op("->", return_type=JSONB)(literal(name, Text))

    def _type(self, name: str) -> Sql:
        return func.jsonb_typeof(self._element(name))

    def is_string(self, name: str) -> Sql:
        return self._type(name) == "string"

    def is_number(self, name: str) -> Sql:
        return self._type(name) == "number"

    def is_boolean(self, name: str, value: bool) -> Sql:
        return and_(self._type(name) == "boolean", self.text(name) == str(value).lower())

    def is_present(self, name: str) -> Sql:
        return self._type(name) != "null"

    def text(self, name: str) -> Sql:
        return contacts.c.attributes.op("->>", return_type=Text)(literal(name, Text))

    def number(self, name: str) -> Sql:
        return cast(self._element(name), Numeric)

    def number_value(self, value: int | float) -> Sql:
        exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        return cast(literal(exact, Numeric), Numeric)

    def byte_order(self, expression: Sql) -> Sql:
        return collate(expression, "C")

    def lower_ascii(self, expression: Sql) -> Sql:
        return func.translate(expression, UPPER, LOWER)

    def date_shaped(self, expression: Sql) -> Sql:
        return expression.op("~")("^[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def contains(self, haystack: Sql, needle: str) -> Sql:
        return func.strpos(haystack, needle) > 0

    def ends_with(self, haystack: Sql, needle: str) -> Sql:
        return func.right(haystack, len(needle)) == needle


def dialect_of(name: str) -> _Dialect:
    if name == "sqlite":
        return _Sqlite()
    if name == "postgresql":
        return _Postgres()
    raise ValueError(f"filters compile for sqlite and postgresql, not {name}")


def contact_condition(
    node: Filter, *, dialect: str, organization_id: int, now: datetime
) -> ColumnElement[bool]:
    """The contacts of ``organization_id`` that ``node`` matches (any status: the caller
    adds ``status = 'subscribed'`` for an audience). ``now`` anchors relative dates;
    ``dialect`` is ``connection.dialect.name``."""
    compiler = _Compiler(dialect_of(dialect), organization_id, now)
    condition: ColumnElement[bool] = and_(
        contacts.c.organization_id == organization_id, compiler.node(node)
    )
    return condition


class _Compiler:
    def __init__(self, sql: _Dialect, organization_id: int, now: datetime) -> None:
        self.sql = sql
        self.organization_id = organization_id
        self.now = now

    def node(self, node: Filter) -> Sql:
        if isinstance(node, All):
            return and_(*map(self.node, node.filters)) if node.filters else true()
        if isinstance(node, AnyOf):
            return or_(*map(self.node, node.filters)) if node.filters else false()
        if isinstance(node, Not):
            return not_(self.node(node.filter))
        if isinstance(node, ListMember):
            return self.member(node.name)
        if isinstance(node, Engaged):
            return self.engaged(node)
        if node.op in NEGATED:
            return not_(self.node(Condition(node.subject, NEGATED[node.op], node.value)))
        if isinstance(node.subject, Attribute):
            return func.coalesce(self.attribute(node.subject.name, node), false())
        if node.subject is Field.CREATED_AT:
            return self.created(node)
        column = contacts.c.email if node.subject is Field.EMAIL else contacts.c.source
        return func.coalesce(self.column(column, node), false())

    def member(self, name: str) -> Sql:
        """A confirmed member of this organization's list of that name; a list that is not
        there (deleted, renamed) matches nobody."""
        confirmed = (
            select(list_members.c.contact_id)
            .join(lists, lists.c.id == list_members.c.list_id)
            .where(
                lists.c.organization_id == self.organization_id,
                lists.c.name == name,
                list_members.c.status == MemberStatus.CONFIRMED.value,
            )
        )
        return contacts.c.id.in_(confirmed)

    def engaged(self, node: Engaged) -> Sql:
        """A message of the organization's campaigns (of that name) went out to the
        contact's address, and (for opens and clicks) a person opened or clicked it; inside
        the window, if there is one, by the time it was sent, opened or clicked."""
        message = deliveries.alias("engaged_message")
        campaign = campaigns.alias("engaged_campaign")
        went_out = sorted(WENT_OUT)
        conditions: list[Sql] = [
            message.c.email == contacts.c.email,
            message.c.status.in_([literal_column(f"'{status}'") for status in went_out]),
            campaign.c.organization_id == self.organization_id,
        ]
        if node.campaign is not None:
            conditions.append(campaign.c.name == node.campaign)
        start = node.within.start(self.now) if node.within is not None else None
        sources = message.join(campaign, campaign.c.id == message.c.campaign_id)
        if node.activity is Activity.SENT:
            if start is not None:
                conditions.append(message.c.sent_at >= literal(start, UtcDateTime()))
        else:
            event = tracking_events.alias("engaged_event")
            sources = sources.join(
                event,
                and_(
                    event.c.campaign_id == message.c.campaign_id,
                    event.c.delivery_id == message.c.id,
                ),
            )
            conditions += [event.c.kind == TRACKED_KIND[node.activity], event.c.machine.is_(None)]
            if start is not None:
                conditions.append(event.c.occurred_at >= literal(start, UtcDateTime()))
        found = select(literal(1)).select_from(sources).where(*conditions).correlate(contacts)
        return found.exists()

    def created(self, node: Condition) -> Sql:
        assert isinstance(node.value, Day | Instant | Relative)
        low, high = created_bounds(resolve(node.value, self.now))
        if node.op is Op.BEFORE:
            return contacts.c.created_at < literal(low, UtcDateTime())
        return contacts.c.created_at >= literal(high, UtcDateTime())

    def column(self, column: Sql, node: Condition) -> Sql:
        if node.op is Op.EXISTS:
            return column.is_not(None)
        if node.op is Op.EQ:
            return column == node.value
        if node.op is Op.IN:
            assert isinstance(node.value, tuple)
            return column.in_(list(node.value))
        return self.text_match(self.sql.lower_ascii(column), node)

    def text_match(self, lowered: Sql, node: Condition) -> Sql:
        needle = lower_ascii(str(node.value))
        if node.op is Op.CONTAINS:
            return self.sql.contains(lowered, needle)
        if node.op is Op.STARTS_WITH:
            return self.sql.starts_with(lowered, needle)
        return self.sql.ends_with(lowered, needle)

    def attribute(self, name: str, node: Condition) -> Sql:
        sql = self.sql
        if node.op is Op.EXISTS:
            return sql.is_present(name)
        if node.op is Op.EQ:
            return self.equal(name, [node.value])
        if node.op is Op.IN:
            assert isinstance(node.value, tuple)
            return self.equal(name, list(node.value))
        if node.op in ORDER:
            assert isinstance(node.value, int | float)
            number = case((sql.is_number(name), sql.number(name)), else_=None)
            bound = sql.number_value(node.value)
            return {
                Op.LT: number < bound,
                Op.LTE: number <= bound,
                Op.GT: number > bound,
                Op.GTE: number >= bound,
            }[node.op]
        if node.op in DATES:
            return self.date(name, node)
        text = case((sql.is_string(name), sql.text(name)), else_=None)
        return self.text_match(sql.lower_ascii(text), node)

    def equal(self, name: str, values: list[Any]) -> Sql:
        """Equal to one of ``values``, each compared only with an attribute of its type."""
        sql = self.sql
        strings = [value for value in values if isinstance(value, str)]
        booleans = {value for value in values if isinstance(value, bool)}
        numbers = [
            value
            for value in values
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        choices: list[Sql] = []
        if strings:
            text = case((sql.is_string(name), sql.text(name)), else_=None)
            choices.append(text == strings[0] if len(strings) == 1 else text.in_(strings))
        if numbers:
            number = case((sql.is_number(name), sql.number(name)), else_=None)
            bounds = [sql.number_value(value) for value in numbers]
            choices.append(number == bounds[0] if len(bounds) == 1 else number.in_(bounds))
        choices.extend(sql.is_boolean(name, value) for value in sorted(booleans))
        return or_(*choices) if len(choices) > 1 else choices[0]

    def date(self, name: str, node: Condition) -> Sql:
        """A string that starts like ``YYYY-MM-DD``, compared in byte order to the second
        (or to the day, when the bound is a day); see ``domain.filters.date_key``."""
        sql = self.sql
        assert isinstance(node.value, Day | Instant | Relative)
        bound = resolve(node.value, self.now)
        raw = sql.text(name)
        if isinstance(bound, Day):
            key, limit = func.substr(raw, 1, 10), bound.day.isoformat()
        else:
            key, limit = func.substr(raw.concat(STAMP_PADDING), 1, STAMP_LENGTH), stamp(bound.at)
        shaped = case((and_(sql.is_string(name), sql.date_shaped(raw)), key), else_=None)
        ordered = sql.byte_order(shaped)
        bound_text = sql.byte_order(literal(limit, Text))
        return ordered < bound_text if node.op is Op.BEFORE else ordered > bound_text
