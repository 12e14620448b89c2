"""How many of a campaign's recipients lack each variable its templates print.

One pass over the campaign's recipients counts them all (one aggregate per variable), and
a second statement fetches a few of each variable found lacking: each of its branches
stops at its ``SAMPLE_SIZE``th match. Usually that is early; at worst (a variable only the
last recipients lack) the branches together read one key per recipient and variable, what
the count read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from campaignd.domain.template_variables import RecipientVariable
from campaignd.store.dialect import json_has_key, json_text, keyed_json_rows
from campaignd.store.schema import deliveries

MAX_VARIABLES = 50
"""The most variables counted in one preview: the pass stays one row of bounded width."""
SAMPLE_SIZE = 3


@dataclass(frozen=True)
class LackingVariable:
    name: str
    recipients: int
    """Recipients without a usable value: for an ``empty_only`` variable, those whose value
    is null or blank; otherwise also those without the key."""
    sample: tuple[tuple[int, str], ...]
    """Up to ``SAMPLE_SIZE`` of them, as (delivery id, address), by address."""


def _lacks(
    dialect: str, document: ColumnElement[object], variable: RecipientVariable
) -> ColumnElement[bool]:
    """The recipient's ``document`` of variables has no usable value for ``variable``:
    null, or a text of nothing but spaces (and, unless ``empty_only``, no key at all)."""
    blank = func.coalesce(func.trim(json_text(dialect, document, variable.name)), "") == ""
    if variable.empty_only:
        return and_(json_has_key(dialect, document, variable.name), blank)
    return blank


async def lacking_variables(
    connection: AsyncConnection, campaign_id: int, variables: Sequence[RecipientVariable]
) -> list[LackingVariable]:
    """For each of ``variables`` (at most ``MAX_VARIABLES``) that some of the campaign's
    recipients lack, how many and a few of them, most lacking first."""
    if len(variables) > MAX_VARIABLES:
        raise ValueError(f"at most {MAX_VARIABLES} variables are counted at once")
    if not variables:
        return []
    dialect = connection.dialect.name
    rows = keyed_json_rows(
        dialect,
        deliveries.c.variables,
        deliveries.c.campaign_id == campaign_id,
        keys=len(variables),
    )
    counts = select(
        *(func.count().filter(_lacks(dialect, rows.c.document, variable)) for variable in variables)
    )
    numbers = (await connection.execute(counts)).one()
    lacking = {
        variable.name: (variable, int(number))
        for variable, number in zip(variables, numbers, strict=True)
        if number
    }
    samples = await _samples(connection, campaign_id, [item for item, _ in lacking.values()])
    found = [
        LackingVariable(name, number, tuple(sorted(samples.get(name, ()), key=lambda row: row[1])))
        for name, (_, number) in lacking.items()
    ]
    return sorted(found, key=lambda item: (-item.recipients, item.name))


async def _samples(
    connection: AsyncConnection, campaign_id: int, variables: Sequence[RecipientVariable]
) -> dict[str, list[tuple[int, str]]]:
    """Up to ``SAMPLE_SIZE`` recipients per variable, in one statement."""
    if not variables:
        return {}
    dialect = connection.dialect.name
    branches = [
        select(literal(variable.name).label("name"), deliveries.c.id, deliveries.c.email)
        .where(
            deliveries.c.campaign_id == campaign_id,
            _lacks(dialect, deliveries.c.variables, variable),
        )
        .limit(SAMPLE_SIZE)
        .subquery()
        .select()
        for variable in variables
    ]
    found: dict[str, list[tuple[int, str]]] = {}
    for name, delivery_id, email in await connection.execute(union_all(*branches)):
        found.setdefault(str(name), []).append((int(delivery_id), str(email)))
    return found
