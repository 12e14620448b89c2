"""Request and response bodies of the contacts routes (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from campaignd.api.models import InvalidRecipient, RequestModel, ResponseModel
from campaignd.domain.audience import ContactStatus
from campaignd.domain.contacts import ATTRIBUTE_NAME, MAX_CONTACTS_PER_REQUEST, Mode

AttributesBody = Annotated[
    dict[str, Any],
    Field(
        description=(
            "A flat object: names of letters, digits and _ (at most 64), values strings, "
            "numbers or true/false (dates as ISO 8601 strings); null takes one away"
        ),
        json_schema_extra={
            "propertyNames": {"pattern": f"^{ATTRIBUTE_NAME.pattern}$"},
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
    ),
]
"""Checked by ``domain.contacts.checked_attributes`` (422 naming the attribute)."""

StoredAttributes = dict[str, str | int | float | bool]


class ContactItem(RequestModel):
    email: str = Field(max_length=1000)
    attributes: AttributesBody = Field(default_factory=dict)
    status: ContactStatus | None = Field(
        None, description="Omitted: subscribed when new, unchanged when stored"
    )


class ContactsUpsert(RequestModel):
    contacts: list[ContactItem] = Field(max_length=MAX_CONTACTS_PER_REQUEST)
    mode: Mode = Mode.MERGE
    source: str | None = Field(None, max_length=64, description="Where new contacts came from")
    organization: str | None = Field(None, max_length=63)


class ContactEdit(RequestModel):
    attributes: AttributesBody | None = None
    mode: Mode = Mode.MERGE
    status: ContactStatus | None = None
    organization: str | None = Field(None, max_length=63)


class Contact(ResponseModel):
    email: str
    organization: str
    attributes: StoredAttributes
    status: ContactStatus
    source: str | None
    created_at: datetime
    updated_at: datetime


class ContactPage(ResponseModel):
    contacts: list[Contact]
    next_cursor: str | None


class ContactsReport(ResponseModel):
    """Per row sent: created, updated, unchanged (already so), erased (an erased address,
    left out) or invalid (its address; the first 1000 are listed, all are counted)."""

    organization: str
    created: int
    updated: int
    unchanged: int
    erased: int
    invalid_count: int
    invalid: list[InvalidRecipient]


class ExportedContact(ResponseModel):
    email: str
    attributes: StoredAttributes
    status: ContactStatus
    source: str | None
    created_at: datetime
    updated_at: datetime


class ExportedMembership(ResponseModel):
    name: str
    status: str
    confirmation_sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ExportedSuppression(ResponseModel):
    reason: str
    detail: str | None
    created_at: datetime


class ExportedDelivery(ResponseModel):
    campaign_id: int
    campaign: str
    campaign_status: str
    status: str
    code: str | None
    reason: str | None
    attempts: int
    sent_at: datetime | None
    vars: dict[str, Any] | None
    server_reply: str | None
    last_error: str | None


class ExportedCooldown(ResponseModel):
    scope: str
    campaign_id: int | None
    campaign: str | None
    contacted_at: datetime


class ExportedAuditEntry(ResponseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] | None


class ContactExport(ResponseModel):
    """Everything the organization stores about one address."""

    organization: str
    email: str
    exported_at: datetime
    erased_at: datetime | None
    contact: ExportedContact | None
    lists: list[ExportedMembership]
    suppression: ExportedSuppression | None
    deliveries: list[ExportedDelivery]
    cooldown: list[ExportedCooldown]
    audit_log: list[ExportedAuditEntry]


class ContactErased(ResponseModel):
    """What was removed or rewritten; ``placeholder`` is what the address became in the
    rows that stay (deliveries keep their outcome)."""

    organization: str
    email: str
    placeholder: str
    contact: int
    memberships: int
    suppression: int
    deliveries: int
    skipped: int
    cooldown_entries: int
    mentions: int
    already_erased: bool
