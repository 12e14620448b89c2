"""How many of a campaign's recipients lack each variable its templates print.

Its recipients are its deliveries and, until it fans out, the contacts of its lists and
segments it does not hold yet (``store.campaign_audience``), whose attributes are their
variables. One pass over them counts them all (one aggregate per variable), and
a second statement fetches a few of each variable found lacking: each of its branches
stops at its ``SAMPLE_SIZE``th match. Usually that is early; at worst (a variable only the
last recipients lack) the branches together read one key per recipient and variable, what
the count read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.template_variables import RecipientVariable
from campaignd.store.campaign_audience import newcomers
from campaignd.store.dialect import json_has_key, json_text, keyed_json_rows
from campaignd.store.schema import contacts, deliveries

MAX_VARIABLES = 50
"""The most variables counted in one preview: the pass stays one row of bounded width."""
SAMPLE_SIZE = 3


@dataclass(frozen=True)
class LackingVariable:
    name: str
    recipients: int
    """Recipients without a usable value: for an ``empty_only`` variable, those whose value
    is null or blank; otherwise also those without the key."""
    sample: tuple[tuple[int | None, str], ...]
    """Up to ``SAMPLE_SIZE`` of them, as (delivery id, address), by address; the id is None
    for a contact of the audience, who has no delivery before the fan-out."""


def _lacks(
    dialect: str, document: ColumnElement[object], variable: RecipientVariable
) -> ColumnElement[bool]:
    """The recipient's ``document`` of variables has no usable value for ``variable``:
    null, or a text of nothing but spaces (and, unless ``empty_only``, no key at all)."""
    blank = func.coalesce(func.trim(json_text(dialect, document, variable.name)), "") == ""
    if variable.empty_only:
        return and_(json_has_key(dialect, document, variable.name), blank)
    return blank


def _documents(
    dialect: str,
    campaign_id: int,
    audience: Select[tuple[int, str, Any]] | None,
    *,
    keys: int,
) -> Subquery:
    """One column ``document``: the variables of each recipient, and the attributes of each
    newcomer of the ``audience``."""
    if audience is None:
        return keyed_json_rows(
            dialect, deliveries.c.variables, deliveries.c.campaign_id == campaign_id, keys=keys
        )
    variables: ColumnElement[Any] = deliveries.c.variables
    if dialect == "postgresql":  # json beside the contacts' jsonb: one type for the union
        variables = cast(variables, JSONB)
    return union_all(
        select(variables.label("document")).where(deliveries.c.campaign_id == campaign_id),
        newcomers(campaign_id, audience, contacts.c.attributes.label("document")),
    ).subquery("keyed_rows")


async def lacking_variables(
    connection: AsyncConnection,
    campaign_id: int,
    variables: Sequence[RecipientVariable],
    *,
    audience: Select[tuple[int, str, Any]] | None = None,
) -> list[LackingVariable]:
    """For each of ``variables`` (at most ``MAX_VARIABLES``) that some of the campaign's
    recipients lack, how many and a few of them, most lacking first. ``audience``: the
    campaign's lists and segments before its fan-out (``store.campaign_audience``)."""
    if len(variables) > MAX_VARIABLES:
        raise ValueError(f"at most {MAX_VARIABLES} variables are counted at once")
    if not variables:
        return []
    dialect = connection.dialect.name
    rows = _documents(dialect, campaign_id, audience, keys=len(variables))
    counts = select(
        *(func.count().filter(_lacks(dialect, rows.c.document, variable)) for variable in variables)
    )
    numbers = (await connection.execute(counts)).one()
    lacking = {
        variable.name: (variable, int(number))
        for variable, number in zip(variables, numbers, strict=True)
        if number
    }
    samples = await _samples(
        connection, campaign_id, [item for item, _ in lacking.values()], audience
    )
    found = [
        LackingVariable(name, number, tuple(samples.get(name, ())))
        for name, (_, number) in lacking.items()
    ]
    return sorted(found, key=lambda item: (-item.recipients, item.name))


async def _samples(
    connection: AsyncConnection,
    campaign_id: int,
    variables: Sequence[RecipientVariable],
    audience: Select[tuple[int, str, Any]] | None,
) -> dict[str, list[tuple[int | None, str]]]:
    """Up to ``SAMPLE_SIZE`` recipients per variable, by address, in one statement: each
    branch stops at its ``SAMPLE_SIZE``th match."""
    if not variables:
        return {}
    dialect = connection.dialect.name
    branches = []
    for variable in variables:
        branches.append(
            select(literal(variable.name).label("name"), deliveries.c.id, deliveries.c.email)
            .where(
                deliveries.c.campaign_id == campaign_id,
                _lacks(dialect, deliveries.c.variables, variable),
            )
            .limit(SAMPLE_SIZE)
            .subquery()
            .select()
        )
        if audience is not None:
            branches.append(
                newcomers(
                    campaign_id,
                    audience,
                    literal(variable.name).label("name"),
                    null().cast(Integer).label("id"),
                    contacts.c.email.label("email"),
                )
                .where(_lacks(dialect, contacts.c.attributes, variable))
                .limit(SAMPLE_SIZE)
                .subquery()
                .select()
            )
    found: dict[str, list[tuple[int | None, str]]] = {}
    for name, delivery_id, email in await connection.execute(union_all(*branches)):
        found.setdefault(str(name), []).append(
            (None if delivery_id is None else int(delivery_id), str(email))
        )
    return {
        name: sorted(rows, key=lambda row: row[1])[:SAMPLE_SIZE] for name, rows in found.items()
    }
