"""Request and response bodies: camelCase on the wire, unknown request fields refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SuppressionReason = Literal["manual", "unsubscribed", "bounced", "complained"]
EmailText = Annotated[str, Field(max_length=320)]
"""An address as sent: longer than any mailable address (254) answers 422 at once."""
BodyFormat = Literal["html", "markdown", "text"]
LayoutName = Annotated[str, Field(min_length=1, max_length=100)]
"""A layout of the campaign's organization (``/layouts``)."""
TargetName = Annotated[str, Field(min_length=1, max_length=100)]
"""The name of a list or a segment of the campaign's organization."""
CappedRecipients = Literal["skip", "defer"]


class RequestModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_max_length=1_000_000
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Recipient(RequestModel):
    email: str = Field(max_length=1000)
    vars: dict[str, Any] = Field(default_factory=dict)


RecipientItem = str | Recipient


class CampaignCreate(RequestModel):
    name: str = Field(max_length=200)
    subject: str
    html_body: str | None = None
    text_body: str | None = None
    from_address: str | None = Field(None, max_length=320)
    reply_to: str | None = Field(None, max_length=320)
    body_format: BodyFormat = "html"
    """``markdown``: ``htmlBody`` is Markdown, rendered to the HTML part; ``text``:
    ``textBody`` alone, the HTML part made from it."""
    layout: LayoutName | None = None
    """The layout to place the body in; left out: the organization's default; null: none."""
    organization: str | None = Field(None, max_length=63)
    track_clicks: bool = True
    """Rewrite the HTML body's links to count clicks (docs/tracking.md)."""
    track_opens: bool = False
    """Add a 1x1 image to count opens (docs/tracking.md)."""
    recipients: list[RecipientItem] | None = None
    lists: list[TargetName] = Field(default_factory=list, max_length=100)
    """Lists whose confirmed, subscribed members get the campaign (resolved when it starts)."""
    segments: list[TargetName] = Field(default_factory=list, max_length=100)
    """Segments whose subscribed contacts get the campaign (resolved when it starts)."""
    scheduled_for: AwareDatetime | None = None
    category: str | None = Field(None, max_length=63)
    """One of the organization's categories (its frequency rules apply); None: none."""
    send_window: dict[str, Any] | None = Field(
        None,
        description='hours of the recipient\'s day: {"start": "08:00", "end": "20:00",'
        ' "days": ["mon", "tue", "wed", "thu", "fri"]}',
    )
    capped_recipients: CappedRecipients = "skip"
    """A recipient a frequency rule caps is skipped (``skip``), or deferred until the rules
    free a slot (``defer``), at the latest until ``deferUntil`` (docs/scheduling.md)."""
    defer_until: AwareDatetime | None = None
    """With ``defer``: the deadline; a deferred delivery not sent by then is skipped."""


class CampaignEdit(RequestModel):
    name: str | None = Field(None, max_length=200)
    subject: str | None = None
    html_body: str | None = None
    text_body: str | None = None
    from_address: str | None = Field(None, max_length=320)
    reply_to: str | None = Field(None, max_length=320)
    body_format: BodyFormat | None = None
    layout: LayoutName | None = None
    """A layout's name, or null for none; left out: unchanged."""
    track_clicks: bool | None = None
    track_opens: bool | None = None
    lists: list[TargetName] = Field(default_factory=list, max_length=100)
    """Replaces the lists it targets ([] for none); left out: unchanged."""
    segments: list[TargetName] = Field(default_factory=list, max_length=100)
    """Replaces the segments it targets ([] for none); left out: unchanged."""
    category: str | None = Field(None, max_length=63)
    """A category of the organization, or null for none; left out: unchanged."""
    send_window: dict[str, Any] | None = None
    """Replaces the send window (null: none); left out: unchanged."""
    capped_recipients: CappedRecipients | None = None
    """``skip`` (clears ``deferUntil``) or ``defer``; left out: unchanged."""
    defer_until: AwareDatetime | None = None
    """The deadline of deferrals (with ``defer``); left out: unchanged."""


class ScheduleRequest(RequestModel):
    """Either ``scheduledFor`` (one instant) or ``localTime`` (in each recipient's zone)."""

    scheduled_for: AwareDatetime | None = None
    local_time: str | None = Field(
        None,
        max_length=32,
        description="a time without offset (2026-12-10T09:00), sent at that time in each"
        " recipient's zone: their `timezone` variable, else `timezone`",
    )
    timezone: str | None = Field(
        None, max_length=64, description="with localTime: the zone of recipients without one"
    )


class RecipientsRequest(RequestModel):
    recipients: list[RecipientItem]


class SuppressionsAdd(RequestModel):
    emails: list[EmailText] = Field(min_length=1, max_length=100_000)
    reason: SuppressionReason = "manual"
    organization: str | None = Field(None, max_length=63)


class SuppressionsRemove(RequestModel):
    emails: list[EmailText] = Field(min_length=1, max_length=100_000)
    organization: str | None = Field(None, max_length=63)


class InvalidRecipient(ResponseModel):
    row: int
    email: str
    reason: str


class ImportReport(ResponseModel):
    added: int
    duplicates: int
    invalid: list[InvalidRecipient]
    erased: int = 0
    """Addresses the organization erased (see docs/audience.md): left out."""


class CampaignFeedback(ResponseModel):
    """What became of a campaign's messages once they went out (docs/deliverability.md)."""

    sent: int
    delivered: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribed: int
    hard_bounce_rate: float
    soft_bounce_rate: float
    complaint_rate: float
    unsubscribe_rate: float


class SendWindowModel(ResponseModel):
    start: str
    end: str
    days: list[str]


class Wave(ResponseModel):
    zone: str
    local_time: str
    at: datetime
    recipients: int
    sent: int | None = None
    queued: int | None = None
    first_sent_at: datetime | None = None
    lateness_seconds: float | None = None
    """First message of the wave sent minus its instant."""


class Campaign(ResponseModel):
    id: int
    name: str
    subject: str
    html_body: str | None
    text_body: str | None
    from_address: str | None
    reply_to: str | None
    body_format: str = "html"
    layout: str | None = None
    """The layout its body is placed in (null: none)."""
    track_clicks: bool = False
    track_opens: bool = False
    organization: str
    status: str
    status_reason: str | None
    scheduled_for: datetime | None
    timezone: str | None = None
    """The IANA zone it was scheduled in (admin UI); None when scheduled with an offset."""
    recipient_count: int
    counts: dict[str, int]
    lists: list[str] = Field(default_factory=list)
    """The lists it targets, beside its recipients (their members join it when it starts)."""
    segments: list[str] = Field(default_factory=list)
    """The segments it targets, beside its recipients."""
    category: str | None = None
    """Its category: the frequency rules it is held to (None: the organization's)."""
    capped_recipients: str = "skip"
    """What becomes of a recipient a frequency rule caps: ``skip`` or ``defer``."""
    defer_until: datetime | None = None
    """The deadline of its deferrals (``defer``); None with ``skip``."""
    started_at: datetime | None
    finished_at: datetime | None
    pruned_at: datetime | None = None
    """When its per-recipient rows were pruned (``counts`` are those they had); None: kept."""
    feedback: CampaignFeedback | None = None
    """Bounces, complaints and unsubscribes, with rates (``GET .../campaigns/{id}`` only)."""
    local_time: str | None = None
    """Scheduled at this time in each recipient's zone (None: at ``scheduledFor``)."""
    send_window: SendWindowModel | None = None
    waves: list[Wave] = Field(default_factory=list)
    """A local-time campaign's waves (zone, local time, UTC instant, recipients; progress
    once it started), soonest first."""
    waiting: str | None = None
    """Why a started campaign sends nothing now (``waiting for the send window, next opens
    at ...``); None when it is sending or not started."""
    waiting_until: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class CreatedCampaign(Campaign):
    import_: ImportReport | None = Field(None, alias="import")


class CampaignPage(ResponseModel):
    campaigns: list[Campaign]
    next_cursor: int | None


class Delivery(ResponseModel):
    email: str
    status: str
    code: str | None
    reason: str | None
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    vars: dict[str, Any] | None = None


class DeliveryPage(ResponseModel):
    recipients: list[Delivery]
    next_cursor: int | None


class UpcomingCampaign(ResponseModel):
    id: int
    name: str
    organization: str
    scheduled_for: datetime
    timezone: str | None = None
    recipient_count: int
    """Its recipients; the contacts of ``lists`` and ``segments`` join them when it starts."""
    lists: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    local_time: str | None = None
    first_wave: Wave | None = None
    """A local-time campaign's first wave (it starts then) and its last."""
    last_wave: Wave | None = None


class Upcoming(ResponseModel):
    campaigns: list[UpcomingCampaign]


class Execution(ResponseModel):
    id: int
    campaign_id: int
    name: str
    status: str
    trigger: str
    actor: str | None
    scheduled_for: datetime | None
    executed_at: datetime
    finished_at: datetime | None
    recipient_count: int
    queued: int
    sent: int
    failed: int
    skipped: int
    error: str | None
    lateness_seconds: float | None
    waves: list[Wave] = Field(default_factory=list)
    """The newest run of a local-time campaign: its waves' progress and lateness."""
    waiting: str | None = None
    """The newest run of a started campaign that sends nothing now: what it waits for (a
    wave, the send window, deferred recipients)."""


class ExecutionLog(ResponseModel):
    executions: list[Execution]


class Executed(ResponseModel):
    success: bool
    message: str
    run_id: int


class IneligibleRecipient(ResponseModel):
    email: str
    code: str
    reason: str


class MissingVariable(ResponseModel):
    """A variable the templates print that some recipients have no value for."""

    name: str
    recipients: int
    empty_only: bool
    seen_as: str | None
    sample: list[str]


class DkimSigning(ResponseModel):
    """Whether the campaign's messages carry DKIM signatures, and with which keys."""

    signed: bool
    from_domain: str
    domain: str | None
    """The domain whose keys sign (``d=``): the From domain or its nearest parent with keys."""
    selectors: list[str]
    note: str
    """``sent unsigned: no DKIM key for news.example.org``, or the keys that sign."""


class Preview(ResponseModel):
    campaign_id: int
    campaign_name: str
    total_recipients: int
    eligible: int
    ineligible: int
    reasons: list[IneligibleRecipient]
    missing_variables: list[MissingVariable]
    unchecked_variables: list[str]
    dkim: DkimSigning | None = None
    """None only when the From address cannot be read (nothing would be sent)."""
    waves: list[Wave] = Field(default_factory=list)
    """A local-time campaign's waves: zone, local and UTC time, recipients."""
    zone_fallbacks: list[ZoneFallback] = Field(default_factory=list)
    """Recipients whose ``timezone`` variable is not a time zone (they get the default)."""
    deferred: int = 0
    """Of the eligible, those a frequency rule caps now, deferred until it frees a slot (a
    campaign with ``cappedRecipients`` ``defer``); ``reasons`` lists them, code
    ``deferred``, with the instant."""
    defer_until: datetime | None = None
    """The deadline of those deferrals; None when capped recipients are skipped."""


class ZoneFallback(ResponseModel):
    email: str
    given: str
    used: str


class Suppression(ResponseModel):
    email: str
    organization: str
    reason: str
    detail: str | None
    created_at: datetime


class SuppressionPage(ResponseModel):
    suppressions: list[Suppression]
    next_cursor: str | None


class SuppressionsAdded(ResponseModel):
    organization: str
    added: int
    unchanged: int


class InvalidSuppression(ResponseModel):
    row: int
    """The row in the file, numbered as in a spreadsheet (the header is row 1)."""
    email: str
    problem: str


class SuppressionsImported(ResponseModel):
    organization: str
    added: int
    unchanged: int
    invalid: list[InvalidSuppression]
    """The first 1,000 rows skipped, with why."""
    invalid_count: int


class SuppressionsRemoved(ResponseModel):
    organization: str
    removed: int
    unchanged: int


DkimAlgorithm = Literal["rsa", "ed25519"]


class DkimKeyAdd(RequestModel):
    domain: str = Field(max_length=253, description="the domain of your From addresses")
    selector: str = Field(max_length=63)
    algorithm: DkimAlgorithm | None = Field(
        None, description="rsa (RSA-2048, the default) or ed25519; with privateKey: its kind"
    )
    private_key: str | None = Field(
        None,
        max_length=64 * 1024,
        description="a PEM private key to use instead of a generated one; never shown again",
    )
    organization: str | None = Field(None, max_length=63)


class DnsCheck(ResponseModel):
    status: Literal["published", "not published", "differs", "unknown"]
    records: list[str]
    """The TXT records found at ``recordName``."""
    error: str | None
    """Why the lookup gave no answer (status ``unknown``)."""


class DkimKey(ResponseModel):
    organization: str
    domain: str
    selector: str
    algorithm: DkimAlgorithm
    record_name: str
    """Where to publish the key: ``{selector}._domainkey.{domain}``, a TXT record."""
    record_value: str
    """The TXT record's text: ``v=DKIM1; k=rsa; p=...``."""
    created_at: datetime
    dns: DnsCheck | None = None
    """Whether DNS serves the record now (absent when not checked)."""


class DkimKeyList(ResponseModel):
    organization: str
    keys: list[DkimKey]


class Problem(ResponseModel):
    """Every error answer: one sentence that says what is wrong."""

    detail: str


def problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem("Malformed JSON or an unreadable body"),
    401: problem("Missing, unknown, revoked or expired token"),
    403: problem("The role may not do this (viewers only read)"),
    404: problem("No such campaign in your organization"),
    413: problem("The body is larger than CAMPAIGND_MAX_BODY_BYTES"),
    415: problem("The body's content type is not accepted here"),
    422: problem("A field is missing or wrong; the detail names it"),
}
CONFLICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: problem("Not allowed in the campaign's current status; nothing changed")
}


class FrequencyRule(RequestModel):
    max: int
    """At most this many messages ..."""
    days: int
    """... within this many days."""


class FrequencyCategory(ResponseModel):
    name: str
    rules: list[FrequencyRule]


class FrequencyRules(ResponseModel):
    organization: str
    rules: list[FrequencyRule]
    """The organization's rules: those of its campaigns without a category."""
    default: bool
    """True: it set none, and the rule is ``1 per COOLDOWN_DAYS days`` (the cooldown)."""
    categories: list[FrequencyCategory]


class FrequencyRulesChange(RequestModel):
    rules: list[Any]
    """``[{"max": N, "days": D}, ...]``: 1 to 5 rules (a category may have none: no cap)."""
    organization: str | None = Field(None, max_length=63)
