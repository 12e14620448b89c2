"""The filter language of segments: JSON in, typed immutable nodes out, and what they mean.

A filter is a JSON object of one of these shapes (docs/audience.md has the whole grammar):

    {"all": [FILTER, ...]}                      every one matches (an empty list: everyone)
    {"any": [FILTER, ...]}                      at least one matches (an empty list: nobody)
    {"not": FILTER}
    {"attribute": NAME, "op": OP, "value": V}   a contact attribute
    {"field": "email" | "source" | "createdAt", "op": OP, "value": V}
    {"list": NAME}                              a confirmed member of the organization's list
    {"engagement": "sent" | "opened" | "clicked", "campaign": NAME, "within": "30d"}
                                                was sent, opened or clicked one of the
                                                organization's campaigns ("campaign" and
                                                "within" optional: any campaign, ever)

``parse`` checks a filter and names the problem by its JSON path
(``filter.all[2].value: "in" needs a list``); ``matches`` is what a filter means for one
contact, in plain Python: the SQL of ``store.filter_sql`` must agree with it on every
database (the property tests hold them to that).

Every condition is true or false for every contact, never unknown: ``ne`` is exactly
``not eq`` (so a contact without the attribute is "not equal"), and a comparison with an
attribute that is missing, null or of another type is false. Types never mix: the string
``"5"`` does not equal the number ``5``, and ``true`` is not ``1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from campaignd.domain.addresses import InvalidAddress, normalise
from campaignd.domain.lifecycle import DeliveryStatus

MAX_DEPTH = 8
"""Groups (``all``, ``any``, ``not``) nested in one another."""
MAX_CONDITIONS = 100
"""Conditions (attribute, field, list and engagement) in one filter."""
MAX_GROUPS = 100
"""Groups (``all``, ``any``, ``not``) in one filter."""
MAX_ITEMS = 1000
"""Values in one ``in`` or ``not_in``."""
MAX_VALUES = 5000
"""Values of all the ``in`` and ``not_in`` of one filter (each is a bound parameter)."""
SHOWN_ITEMS = 10
"""Values of a list that ``describe`` shows."""
MAX_TEXT = 1000
"""Characters of a string value."""
MAX_LIST_NAME = 100
MAX_CAMPAIGN_NAME = 200
MAX_NUMBER = 2**53
"""Numbers in a filter lie within ±2**53: both databases compare them exactly there."""

ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RELATIVE = re.compile(r"now(?:([+-])([0-9]{1,6})([hdw]))?")
WINDOW = re.compile(r"([0-9]{1,6})([hdw])")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_SHAPED = DAY
"""What a date attribute starts with (``DATE_SHAPED.match``: at the start of the string)."""
UNIT_SECONDS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
MAX_RELATIVE_SECONDS = 100 * 366 * 86_400
STAMP_LENGTH = 19
STAMP_PADDING = "T00:00:00"


class FilterError(ValueError):
    """A filter that cannot be used, with the JSON path of the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    BEFORE = "before"
    AFTER = "after"
    EXISTS = "exists"
    MISSING = "missing"


class Activity(StrEnum):
    """What happened with a message of a campaign, for an engagement condition."""

    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"


WENT_OUT = frozenset(
    {DeliveryStatus.SENT.value, DeliveryStatus.BOUNCED.value, DeliveryStatus.COMPLAINED.value}
)
"""Delivery statuses of a message that went out (a bounce or a complaint may have come back
since): the only ones an engagement condition looks at."""
TRACKED_KIND = {Activity.OPENED: "open", Activity.CLICKED: "click"}
"""The kind of tracking event (``tracking_events.kind``) of each tracked activity."""


class Field(StrEnum):
    """The contact's own fields a filter can look at (beside its attributes)."""

    EMAIL = "email"
    SOURCE = "source"
    CREATED_AT = "createdAt"


EQUALITY = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN})
ORDER = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE})
TEXT = frozenset({Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH})
DATES = frozenset({Op.BEFORE, Op.AFTER})
PRESENCE = frozenset({Op.EXISTS, Op.MISSING})
NEGATED = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN, Op.MISSING: Op.EXISTS}
"""Ops that are exactly ``not`` of another."""

FIELD_OPS: dict[Field, frozenset[Op]] = {
    Field.EMAIL: EQUALITY | TEXT,
    Field.SOURCE: EQUALITY | TEXT | PRESENCE,
    Field.CREATED_AT: DATES,
}
ALL_OPS = ", ".join(op.value for op in Op)

Scalar = str | int | float | bool
"""A value an attribute can equal: a string, a number or a boolean."""


@dataclass(frozen=True)
class Attribute:
    name: str


@dataclass(frozen=True)
class Day:
    """A calendar day (UTC): compared with the first ten characters of a date attribute."""

    day: date


@dataclass(frozen=True)
class Instant:
    """A moment, in UTC: compared with a date attribute to the second."""

    at: datetime


@dataclass(frozen=True)
class Relative:
    """``now``, ``now-30d``, ``now+12h``, ``now-2w``: an instant once ``now`` is known."""

    seconds: int
    text: str

    def at(self, now: datetime) -> Instant:
        return Instant((now + timedelta(seconds=self.seconds)).astimezone(UTC))


DateBound = Day | Instant | Relative
Value = Scalar | tuple[Scalar, ...] | DateBound | None


@dataclass(frozen=True)
class Condition:
    """``subject op value``; ``value`` is None for ``exists`` and ``missing``, a tuple for
    ``in`` and ``not_in``, a date bound for ``before`` and ``after``."""

    subject: Attribute | Field
    op: Op
    value: Value = None


@dataclass(frozen=True)
class ListMember:
    """A confirmed member of the organization's list of this name."""

    name: str


@dataclass(frozen=True)
class Window:
    """``"30d"``, ``"12h"``, ``"2w"``: the last so many hours, days or weeks."""

    seconds: int
    text: str

    def start(self, now: datetime) -> datetime:
        """The first moment inside the window, to the second (as ``Relative`` bounds)."""
        return (now - timedelta(seconds=self.seconds)).astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Engaged:
    """Was sent (opened, clicked) a message of one of the organization's campaigns: of
    those named ``campaign`` (all of that name; None: any), inside ``within`` (None: ever).

    Opens and clicks count when a person made them: those ``domain.tracking`` judged a
    machine's (privacy proxies, link scanners, prefetching) never count."""

    activity: Activity
    campaign: str | None = None
    within: Window | None = None


@dataclass(frozen=True)
class All:
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    filter: Filter


Filter = All | AnyOf | Not | Condition | ListMember | Engaged

SHAPES = (
    '{"all": [...]}, {"any": [...]}, {"not": {...}}, {"attribute": NAME, "op": OP, "value": V}, '
    '{"field": "email"|"source"|"createdAt", "op": OP, "value": V}, {"list": NAME} or '
    '{"engagement": "sent"|"opened"|"clicked", "campaign": NAME, "within": "30d"}'
)
ENGAGEMENT_KEYS = {"engagement", "campaign", "within"}


# ---------------------------------------------------------------- parsing


def parse(document: Any, *, path: str = "filter") -> Filter:
    """The typed filter of a JSON document, or ``FilterError`` naming the first problem."""
    parser = _Parser()
    return parser.node(document, path, depth=0)


class _Parser:
    def __init__(self) -> None:
        self.conditions = 0
        self.groups = 0
        self.values = 0

    def node(self, document: Any, path: str, *, depth: int) -> Filter:
        if not isinstance(document, dict):
            raise FilterError(path, f"must be an object: {SHAPES}")
        if not document:
            raise FilterError(path, 'an empty object is not a filter; {"all": []} matches everyone')
        for group in ("all", "any", "not"):
            if group in document:
                _only(document, {group}, path)
                if depth >= MAX_DEPTH:
                    raise FilterError(path, f"groups nest more than {MAX_DEPTH} levels deep")
                self.groups += 1
                if self.groups > MAX_GROUPS:
                    raise FilterError(path, f"a filter holds at most {MAX_GROUPS} groups")
                return self.group(group, document[group], f"{path}.{group}", depth=depth + 1)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(path, f"a filter holds at most {MAX_CONDITIONS} conditions")
        if "list" in document:
            _only(document, {"list"}, path)
            return ListMember(_list_name(document["list"], f"{path}.list"))
        if "engagement" in document:
            _only(document, ENGAGEMENT_KEYS, path)
            return _engaged(document, path)
        if "attribute" in document:
            _only(document, {"attribute", "op", "value"}, path)
            subject: Attribute | Field = Attribute(
                _attribute_name(document["attribute"], f"{path}.attribute")
            )
        elif "field" in document:
            _only(document, {"field", "op", "value"}, path)
            subject = _field(document["field"], f"{path}.field")
        elif "op" in document or "value" in document:
            raise FilterError(path, 'a condition needs "attribute" (a name) or "field"')
        elif "campaign" in document or "within" in document:
            raise FilterError(f"{path}.engagement", 'is required: "sent", "opened" or "clicked"')
        else:
            unknown = sorted(str(key) for key in document)[0]
            raise FilterError(f"{path}.{_key(unknown)}", f"unknown key; a filter is {SHAPES}")
        condition = _condition(subject, document, path)
        if isinstance(condition.value, tuple):
            self.values += len(condition.value)
            if self.values > MAX_VALUES:
                raise FilterError(
                    f"{path}.value", f"a filter holds at most {MAX_VALUES} values in all its lists"
                )
        return condition

    def group(self, kind: str, document: Any, path: str, *, depth: int) -> Filter:
        if kind == "not":
            return Not(self.node(document, path, depth=depth))
        if not isinstance(document, list):
            raise FilterError(path, f'"{kind}" needs a list of filters')
        filters = tuple(
            self.node(item, f"{path}[{index}]", depth=depth) for index, item in enumerate(document)
        )
        return All(filters) if kind == "all" else AnyOf(filters)


def _only(document: dict[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(str(key) for key in document if key not in allowed)
    if extra:
        keys = ", ".join(f'"{key}"' for key in sorted(allowed))
        raise FilterError(
            f"{path}.{_key(extra[0])}", f"unknown key here (this filter takes {keys})"
        )


def _key(key: str) -> str:
    """A key as shown in a path: cut short when it is long."""
    return key if len(key) <= 40 else key[:37] + "..."


def _attribute_name(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise FilterError(path, "must be a string, the attribute's name")
    if not ATTRIBUTE_NAME.fullmatch(value):
        raise FilterError(
            path,
            f"{_quoted(value)} is not an attribute name (letters A-Z, digits and _, "
            "not starting with a digit, at most 64 characters)",
        )
    return value


def _field(value: Any, path: str) -> Field:
    try:
        return Field(value)
    except (ValueError, TypeError):
        names = ", ".join(f'"{field.value}"' for field in Field)
        raise FilterError(
            path, f"{_quoted(value)} is not a contact field; one of {names} (or use attribute)"
        ) from None


def _list_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FilterError(path, "must be a list's name")
    _check_text(value, path, limit=MAX_LIST_NAME)
    return value


def _engaged(document: dict[str, Any], path: str) -> Engaged:
    try:
        activity = Activity(document["engagement"])
    except (ValueError, TypeError):
        names = ", ".join(f'"{item.value}"' for item in Activity)
        problem = f"{_quoted(document['engagement'])} is not an engagement; one of {names}"
        raise FilterError(f"{path}.engagement", problem) from None
    campaign = None
    if "campaign" in document:
        campaign_path = f"{path}.campaign"
        campaign = document["campaign"]
        if not isinstance(campaign, str) or not campaign.strip():
            raise FilterError(
                campaign_path, "must be a campaign's name (leave it out for any campaign)"
            )
        _check_text(campaign, campaign_path, limit=MAX_CAMPAIGN_NAME)
    within = _window(document["within"], f"{path}.within") if "within" in document else None
    return Engaged(activity, campaign, within)


def _window(value: Any, path: str) -> Window:
    example = 'a number and h, d or w: "12h", "30d", "2w" (leave it out for ever)'
    found = WINDOW.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise FilterError(path, f"{_quoted(value)} is not a time window: {example}")
    amount, unit = int(found.group(1)), found.group(2)
    seconds = amount * UNIT_SECONDS[unit]
    if seconds == 0:
        raise FilterError(path, f"an empty window matches nobody: {example}")
    if seconds > MAX_RELATIVE_SECONDS:
        raise FilterError(path, "a window reaches at most 100 years back")
    return Window(seconds, f"{amount}{unit}")


def _condition(subject: Attribute | Field, document: dict[str, Any], path: str) -> Condition:
    if "op" not in document:
        raise FilterError(f"{path}.op", f"is required: one of {ALL_OPS}")
    try:
        op = Op(document["op"])
    except (ValueError, TypeError):
        raise FilterError(
            f"{path}.op", f"{_quoted(document['op'])} is not an op; one of {ALL_OPS}"
        ) from None
    if isinstance(subject, Field) and op not in FIELD_OPS[subject]:
        allowed = ", ".join(sorted(item.value for item in FIELD_OPS[subject]))
        raise FilterError(f"{path}.op", f'"{op}" does not apply to {subject}; use {allowed}')
    value_path = f"{path}.value"
    if op in PRESENCE:
        if "value" in document:
            raise FilterError(value_path, f'"{op}" takes no value')
        return Condition(subject, op)
    if "value" not in document:
        raise FilterError(value_path, f'is required for "{op}"')
    value = document["value"]
    if op in DATES:
        return Condition(subject, op, _date_bound(value, value_path, op))
    if op in ORDER:
        return Condition(subject, op, _number(value, value_path, op))
    if op in TEXT:
        if not isinstance(value, str) or not value:
            raise FilterError(value_path, f'"{op}" needs a non-empty string')
        return Condition(subject, op, _check_text(value, value_path))
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise FilterError(value_path, f'"{op}" needs a list of values')
        if len(value) > MAX_ITEMS:
            raise FilterError(value_path, f'"{op}" takes at most {MAX_ITEMS} values')
        items = tuple(
            _scalar(subject, item, f"{value_path}[{index}]", op) for index, item in enumerate(value)
        )
        return Condition(subject, op, items)
    return Condition(subject, op, _scalar(subject, value, value_path, op))


def _scalar(subject: Attribute | Field, value: Any, path: str, op: Op) -> Scalar:
    if isinstance(subject, Field):
        if not isinstance(value, str):
            raise FilterError(path, f'"{op}" on {subject} needs a string')
        _check_text(value, path)
        if subject is Field.EMAIL:
            try:
                return normalise(value)
            except InvalidAddress as error:
                problem = f"{_quoted(value)} is not a valid address: {error}"
                raise FilterError(path, problem) from None
        return value
    if value is None:
        raise FilterError(path, 'null is never equal to anything; use "missing" or "exists"')
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, path, op)
    if isinstance(value, str):
        return _check_text(value, path)
    raise FilterError(path, f'"{op}" compares with a string, a number or a boolean')


def _number(value: Any, path: str, op: Op) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = '; for dates use "before" or "after"' if isinstance(value, str) else ""
        raise FilterError(path, f'"{op}" needs a number{hint}')
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise FilterError(path, f"numbers in a filter lie between -{MAX_NUMBER} and {MAX_NUMBER}")
    return value


def _check_text(value: str, path: str, *, limit: int = MAX_TEXT) -> str:
    if len(value) > limit:
        raise FilterError(path, f"at most {limit} characters")
    if "\x00" in value:
        raise FilterError(path, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(path, "is not valid Unicode text") from None
    return value


def _date_bound(value: Any, path: str, op: Op) -> DateBound:
    example = '"2026-11-05", "2026-11-05T09:00:00Z" or "now-30d"'
    if not isinstance(value, str):
        raise FilterError(path, f'"{op}" needs a date: {example}')
    relative = RELATIVE.fullmatch(value)
    if relative:
        sign, amount, unit = relative.groups()
        seconds = 0 if amount is None else int(amount) * UNIT_SECONDS[unit]
        if seconds > MAX_RELATIVE_SECONDS:
            raise FilterError(path, "a relative date reaches at most 100 years from now")
        if sign == "-":
            seconds = -seconds
        text = "now" if amount is None else f"now{sign}{int(amount)}{unit}"
        return Relative(seconds, text)
    try:
        if DAY.fullmatch(value):
            return Day(date.fromisoformat(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(path, f"{_quoted(value)} is not a date: {example}") from None
    if moment.tzinfo is None:
        raise FilterError(path, f"{_quoted(value)} needs a time zone offset, like Z or +01:00")
    return Instant(moment.astimezone(UTC).replace(microsecond=0))


def _quoted(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    shown = text if len(text) <= 80 else text[:77] + "..."
    return '"' + shown.replace('"', '\\"') + '"'


# ---------------------------------------------------------------- the JSON form


def to_json(node: Filter) -> dict[str, Any]:
    """The canonical JSON of a filter (what a segment stores): ``parse(to_json(f)) == f``."""
    if isinstance(node, All):
        return {"all": [to_json(item) for item in node.filters]}
    if isinstance(node, AnyOf):
        return {"any": [to_json(item) for item in node.filters]}
    if isinstance(node, Not):
        return {"not": to_json(node.filter)}
    if isinstance(node, ListMember):
        return {"list": node.name}
    if isinstance(node, Engaged):
        engaged: dict[str, Any] = {"engagement": node.activity.value}
        if node.campaign is not None:
            engaged["campaign"] = node.campaign
        if node.within is not None:
            engaged["within"] = node.within.text
        return engaged
    document: dict[str, Any] = (
        {"attribute": node.subject.name}
        if isinstance(node.subject, Attribute)
        else {"field": node.subject.value}
    )
    document["op"] = node.op.value
    if node.op not in PRESENCE:
        document["value"] = _json_value(node.value)
    return document


def _json_value(value: Value) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Day):
        return value.day.isoformat()
    if isinstance(value, Instant):
        return value.at.isoformat().replace("+00:00", "Z")
    if isinstance(value, Relative):
        return value.text
    return value


def list_names(node: Filter) -> list[str]:
    """The lists a filter names, in order of appearance, each once."""
    return list(dict.fromkeys(item.name for item in walk(node) if isinstance(item, ListMember)))


def list_paths(node: Filter, *, path: str = "filter") -> Iterator[tuple[str, str]]:
    """``(JSON path, list name)`` of every list condition, to name an unknown list."""
    if isinstance(node, All | AnyOf):
        kind = "all" if isinstance(node, All) else "any"
        for index, item in enumerate(node.filters):
            yield from list_paths(item, path=f"{path}.{kind}[{index}]")
    elif isinstance(node, Not):
        yield from list_paths(node.filter, path=f"{path}.not")
    elif isinstance(node, ListMember):
        yield f"{path}.list", node.name


def campaign_paths(node: Filter, *, path: str = "filter") -> Iterator[tuple[str, str]]:
    """``(JSON path, campaign name)`` of every engagement condition that names a campaign."""
    if isinstance(node, All | AnyOf):
        kind = "all" if isinstance(node, All) else "any"
        for index, item in enumerate(node.filters):
            yield from campaign_paths(item, path=f"{path}.{kind}[{index}]")
    elif isinstance(node, Not):
        yield from campaign_paths(node.filter, path=f"{path}.not")
    elif isinstance(node, Engaged) and node.campaign is not None:
        yield f"{path}.campaign", node.campaign


def with_list_renamed(document: Any, old: str, new: str) -> Any:
    """A stored filter with every ``{"list": old}`` condition naming ``new`` instead (the
    JSON as stored, so a filter saved under looser rules is rewritten too)."""
    if isinstance(document, list):
        return [with_list_renamed(item, old, new) for item in document]
    if not isinstance(document, dict):
        return document
    if set(document) == {"list"} and document["list"] == old:
        return {"list": new}
    return {key: with_list_renamed(value, old, new) for key, value in document.items()}


def walk(node: Filter) -> Iterator[Filter]:
    yield node
    if isinstance(node, All | AnyOf):
        for item in node.filters:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.filter)


# ---------------------------------------------------------------- in words


_WORDS = {
    Op.EQ: "=",
    Op.NE: "!=",
    Op.IN: "in",
    Op.NOT_IN: "not in",
    Op.LT: "<",
    Op.LTE: "<=",
    Op.GT: ">",
    Op.GTE: ">=",
    Op.CONTAINS: "contains",
    Op.STARTS_WITH: "starts with",
    Op.ENDS_WITH: "ends with",
    Op.BEFORE: "before",
    Op.AFTER: "after",
}


def describe(node: Filter, *, top: bool = True) -> str:
    """One line a person can read: ``plan = "pro" and country in ["DE", "AT"] and
    signed_up_at after now-30d``."""
    if isinstance(node, All | AnyOf):
        if not node.filters:
            return "everyone" if isinstance(node, All) else "nobody"
        joiner = " and " if isinstance(node, All) else " or "
        text = joiner.join(describe(item, top=False) for item in node.filters)
        return text if top or len(node.filters) == 1 else f"({text})"
    if isinstance(node, Not):
        return f"not {describe(node.filter, top=False)}"
    if isinstance(node, ListMember):
        return f"member of list {_show(node.name)}"
    if isinstance(node, Engaged):
        return _engagement_words(node)
    subject = node.subject.name if isinstance(node.subject, Attribute) else node.subject.value
    if node.op is Op.EXISTS:
        return f"{subject} exists"
    if node.op is Op.MISSING:
        return f"{subject} is missing"
    return f"{subject} {_WORDS[node.op]} {_show(_json_value(node.value))}"


_ACTIVITY_WORDS = {
    Activity.SENT: "received",
    Activity.OPENED: "opened",
    Activity.CLICKED: "clicked",
}
_UNIT_WORDS = {"h": "hour", "d": "day", "w": "week"}


def _engagement_words(node: Engaged) -> str:
    """``opened "Spring sale" in the last 30 days``, ``clicked any campaign``."""
    campaign = "any campaign" if node.campaign is None else _show(node.campaign)
    text = f"{_ACTIVITY_WORDS[node.activity]} {campaign}"
    if node.within is not None:
        amount, unit = int(node.within.text[:-1]), _UNIT_WORDS[node.within.text[-1]]
        text += f" in the last {unit}" if amount == 1 else f" in the last {amount} {unit}s"
    return text


def _show(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(_show(item) for item in value[:SHOWN_ITEMS])
        if len(value) > SHOWN_ITEMS:
            shown += f", ... {len(value) - SHOWN_ITEMS} more"
        return f"[{shown}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


# ---------------------------------------------------------------- meaning


@dataclass(frozen=True)
class Tracked:
    """An open or a click of a message (``kind``: ``open`` or ``click``)."""

    kind: str
    at: datetime
    machine: bool = False
    """Judged a machine's (``tracking_events.machine`` set), not a person's."""


@dataclass(frozen=True)
class Message:
    """A message of one of the organization's campaigns to the contact's address."""

    campaign: str
    """The campaign's name."""
    status: str
    """The delivery's status (``DeliveryStatus``)."""
    sent_at: datetime | None = None
    events: tuple[Tracked, ...] = ()


@dataclass(frozen=True)
class Contact:
    """What a filter can see of one contact."""

    email: str
    attributes: Mapping[str, Any]
    source: str | None
    created_at: datetime
    lists: frozenset[str]
    """The names of the organization's lists it is a confirmed member of."""
    messages: tuple[Message, ...] = ()
    """The organization's messages to its address, with their opens and clicks."""


def matches(node: Filter, contact: Contact, *, now: datetime) -> bool:
    """Whether ``contact`` is in the filter, ``now`` being the moment relative dates count from."""
    if isinstance(node, All):
        return all(matches(item, contact, now=now) for item in node.filters)
    if isinstance(node, AnyOf):
        return any(matches(item, contact, now=now) for item in node.filters)
    if isinstance(node, Not):
        return not matches(node.filter, contact, now=now)
    if isinstance(node, ListMember):
        return node.name in contact.lists
    if isinstance(node, Engaged):
        return any(_engaged_with(node, message, now) for message in contact.messages)
    if node.op in NEGATED:
        return not matches(Condition(node.subject, NEGATED[node.op], node.value), contact, now=now)
    if node.subject is Field.CREATED_AT:
        return _created(node, contact.created_at, now)
    if isinstance(node.subject, Attribute):
        present = node.subject.name in contact.attributes
        value = contact.attributes[node.subject.name] if present else None
    elif node.subject is Field.EMAIL:
        value = contact.email
    else:
        value = contact.source
    return _compare(node, value, now)


def _compare(node: Condition, value: Any, now: datetime) -> bool:
    op = node.op
    if op is Op.EXISTS:
        return value is not None
    if op is Op.EQ:
        return _equal(value, node.value)
    if op is Op.IN:
        assert isinstance(node.value, tuple)
        return any(_equal(value, item) for item in node.value)
    if op in ORDER:
        if not _is_number(value):
            return False
        bound = node.value
        assert isinstance(bound, int | float)
        outcomes: dict[Op, bool] = {
            Op.LT: value < bound,
            Op.LTE: value <= bound,
            Op.GT: value > bound,
            Op.GTE: value >= bound,
        }
        return outcomes[op]
    if op in TEXT:
        if not isinstance(value, str):
            return False
        text, needle = lower_ascii(value), lower_ascii(str(node.value))
        if op is Op.CONTAINS:
            return needle in text
        if op is Op.STARTS_WITH:
            return text.startswith(needle)
        return text.endswith(needle)
    assert op in DATES and isinstance(node.value, Day | Instant | Relative)
    if not isinstance(value, str) or not DATE_SHAPED.match(value):
        return False
    key, bound_text = date_key(value, resolve(node.value, now))
    return key < bound_text if op is Op.BEFORE else key > bound_text


def _engaged_with(node: Engaged, message: Message, now: datetime) -> bool:
    if message.status not in WENT_OUT:
        return False
    if node.campaign is not None and message.campaign != node.campaign:
        return False
    start = node.within.start(now) if node.within is not None else None
    if node.activity is Activity.SENT:
        return start is None or (message.sent_at is not None and message.sent_at >= start)
    kind = TRACKED_KIND[node.activity]
    return any(
        event.kind == kind and not event.machine and (start is None or event.at >= start)
        for event in message.events
    )


def _created(node: Condition, created_at: datetime, now: datetime) -> bool:
    assert isinstance(node.value, Day | Instant | Relative)
    low, high = created_bounds(resolve(node.value, now))
    return created_at < low if node.op is Op.BEFORE else created_at >= high


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(wanted, bool) and isinstance(value, bool) and value is wanted
    if isinstance(wanted, str):
        return isinstance(value, str) and value == wanted
    return _is_number(value) and value == wanted


def resolve(bound: DateBound, now: datetime) -> Day | Instant:
    """A relative bound turned into an instant, to the second."""
    if isinstance(bound, Relative):
        moment = bound.at(now).at
        return Instant(moment.replace(microsecond=0))
    return bound


def date_key(value: str, bound: Day | Instant) -> tuple[str, str]:
    """``(what of the attribute is compared, the bound as text)``, both compared as text in
    byte order: a day bound against the attribute's first ten characters, an instant
    against its first nineteen, a bare date reading as midnight (``T00:00:00``)."""
    if isinstance(bound, Day):
        return value[:10], bound.day.isoformat()
    return (value + STAMP_PADDING)[:STAMP_LENGTH], stamp(bound.at)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def created_bounds(bound: Day | Instant) -> tuple[datetime, datetime]:
    """``createdAt`` before a bound: earlier than the first moment it covers; after: at or
    later than the first moment it no longer covers (a day covers the whole UTC day)."""
    if isinstance(bound, Day):
        start = datetime.combine(bound.day, time(), tzinfo=UTC)
        return start, start + timedelta(days=1)
    return bound.at, bound.at + timedelta(seconds=1)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(text: str) -> str:
    """Only A-Z become a-z: what both databases do alike (``contains`` ignores their case)."""
    return text.translate(_ASCII_LOWER)
