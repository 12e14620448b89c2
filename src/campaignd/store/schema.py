"""Tables (SQLAlchemy Core). Migrations in ``migrations/`` must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from campaignd.store.columns import Attributes, Identifier, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("slug", String(63), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("html_body", Text),
    Column("text_body", Text),
    Column("from_address", String(320)),
    Column("reply_to", String(320)),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text),
    Column("scheduled_for", UtcDateTime),
    Column("timezone", String(64)),
    Column("local_time", String(16)),
    Column("send_window", JSON),
    Column("started_at", UtcDateTime),
    Column("fanned_out_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("consecutive_errors", Integer, nullable=False, server_default=text("0")),
    Column("pruned_at", UtcDateTime),
    Column("pruned_counts", JSON),
    Column("pruned_report", JSON),
    Column("body_format", String(16), nullable=False, server_default=text("'html'")),
    Column("layout", String(100)),
    Column("layout_html", Text),
    Column("layout_text", Text),
    Column("category", String(63)),
    Column("track_clicks", Boolean, nullable=False, server_default=false()),
    Column("track_opens", Boolean, nullable=False, server_default=false()),
    Column("capped_recipients", String(8), nullable=False, server_default=text("'skip'")),
    Column("defer_until", UtcDateTime),
    Column("unfinished_from_id", Identifier),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_campaigns_due", "status", "scheduled_for"),
    Index("ix_campaigns_organization", "organization_id", "id"),
)

"""``pruned_at``: when its per-recipient rows were deleted (``store.retention``), with
``pruned_counts`` the counts per delivery status they had, shown from then on, and
``pruned_report`` the figures of its report (``store.tracking.report_snapshot``).

``timezone``: the IANA zone the campaign was scheduled in (from the admin form); None when
scheduled with a bare offset (the API), and the campaign is then shown in UTC. For a
local-time campaign it is the default zone of recipients without a ``timezone`` variable.

``unfinished_from_id``: every delivery of the campaign with a lower id is final (None: 0);
it only grows, moved by the scheduler (``store.unfinished``).

``local_time``: a wall-clock time (``2026-12-10T09:00``) read in each recipient's zone, or
None for one instant; ``send_window``: ``{"start", "end", "days"}`` in the recipient's zone
(``domain.send_windows``). ``scheduled_for`` is then the earliest wave's instant.

``capped_recipients``: what becomes of a recipient a frequency rule caps, ``skip`` or
``defer`` (``domain.deferral``); ``defer_until``: a ``defer`` campaign's deadline."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("campaign_id", Identifier, nullable=False),
    Column("email", String(320), nullable=False),
    Column("variables", JSON),
    Column("status", String(16), nullable=False),
    Column("code", String(16)),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("next_attempt_at", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("server_reply", Text),
    Column("last_error", Text),
    Column("due_at", UtcDateTime),
    Column("window_closes_at", UtcDateTime),
    Column("timezone", String(64)),
    UniqueConstraint("campaign_id", "email"),
    Index("ix_deliveries_queue", "campaign_id", "status", "id"),
    Index(
        "ix_deliveries_due",
        "campaign_id",
        "status",
        "due_at",
        sqlite_where=text("due_at IS NOT NULL"),
        postgresql_where=text("due_at IS NOT NULL"),
    ),
    Index(
        "ix_deliveries_leases",
        "lease_owner",
        "lease_expires_at",
        sqlite_where=text("status = 'sending'"),
        postgresql_where=text("status = 'sending'"),
    ),
    Index(
        "ix_deliveries_sent_email",
        "email",
        sqlite_where=text("status IN ('bounced', 'complained', 'sent')"),
        postgresql_where=text("status IN ('bounced', 'complained', 'sent')"),
    ),
)
"""``ix_deliveries_due``: only the deliveries with a due instant (local time, send windows,
deferrals; migration 0022); the others are due now and their rows never write to it.

``ix_deliveries_sent_email``: the addresses of the messages that went out, for the
engagement conditions of segment filters (``store.filter_sql``); partial, so fan-out, which
adds deliveries ``queued``, never writes to it.

``campaign_id`` is not a declared foreign key: checking it cost PostgreSQL a look-up and a
lock of the campaign row for every recipient stored (migration 0021). Deliveries are added
only while the same transaction holds their campaign row locked, and deleting a campaign
deletes its deliveries (``store.campaigns.delete_campaign``)."""

runs = Table(
    "runs",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    ),
    Column("organization_id", Identifier, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("actor", String(200)),
    Column("status", String(16), nullable=False),
    Column("live", Boolean, nullable=False),
    Column("scheduled_for", UtcDateTime),
    Column("started_at", UtcDateTime, nullable=False),
    Column("lateness_seconds", Float),
    Column("fanout_seconds", Float),
    Column("finished_at", UtcDateTime),
    Column("recipient_count", Integer, nullable=False, server_default=text("0")),
    Column("queued", Integer, nullable=False, server_default=text("0")),
    Column("sent", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    Column("skipped", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("counted_at", UtcDateTime),
    Column("count_seconds", Float),
    Index("ix_runs_started", "started_at"),
    Index(
        "uq_runs_live_campaign",
        "campaign_id",
        unique=True,
        sqlite_where=text("live"),
        postgresql_where=text("live"),
    ),
)

cooldown_ledger = Table(
    "cooldown_ledger",
    metadata,
    Column("scope", Identifier, primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("campaign_id", Identifier),
    Column("campaign_name", String(200)),
    Column("contacted_at", UtcDateTime, nullable=False),
    Column("previous_campaign_id", Identifier),
    Column("previous_campaign_name", String(200)),
    Column("previous_contacted_at", UtcDateTime),
)
"""The cooldown ledger of the cooldown: who was last reserved or mailed, per scope (0 = global).

``previous_*`` keep the entry a reservation replaced, so a failed delivery can give it back.
"""

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("scope", Identifier, primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("campaign_id", Identifier, primary_key=True),
    Column("organization_id", Identifier),
    Column("category", String(63)),
    Column("campaign_name", String(200)),
    Column("contacted_at", UtcDateTime, nullable=False),
)
"""One row per message reserved or sent (``campaign_id`` 0: a campaign nobody knows any
more), per scope as ``cooldown_ledger``; the frequency rules count these. ``category`` is the
campaign's category (None: none), ``organization_id`` its organization."""

frequency_rules = Table(
    "frequency_rules",
    metadata,
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("category", String(63), primary_key=True),
    Column("rules", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""An organization's frequency rules (``category`` '': its campaigns without a category) and
those of its categories: a JSON list of ``{"max": N, "days": D}``."""

suppressions = Table(
    "suppressions",
    metadata,
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("email", String(320), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("detail", Text),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("reason IN ('unsubscribed', 'bounced', 'complained', 'manual')", name="reason"),
    Index("ix_suppressions_reason_time", "organization_id", "reason", "created_at"),
)
"""``ix_suppressions_reason_time``: an organization's unsubscribes since an instant, for a
campaign's figures (``store.feedback.unsubscribed_after``)."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("organization_id", Identifier, ForeignKey("organizations.id", ondelete="CASCADE")),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("organization_id", Identifier),
    Column("action", String(64), nullable=False),
    Column("target", String(64)),
    Column("detail", JSON),
    Index("ix_audit_log_at", "at"),
)

instance_secrets = Table(
    "instance_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", Identifier, ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False),
    Column("flashes", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_admin_sessions_token", "token_id"),
    Index("ix_admin_sessions_expires", "expires_at"),
)
"""Admin UI sessions: the cookie holds a random id, the table its SHA-256 hash.

Signing out deletes the row; a session whose token is revoked or that is past
``expires_at`` no longer counts, and is deleted when someone next signs in.
"""

import_reports = Table(
    "import_reports",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    ),
    Column("file_name", String(255)),
    Column("added", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("invalid_count", Integer, nullable=False),
    Column("invalid", JSON),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_import_reports_campaign", "campaign_id", "id"),
)
"""The report of a CSV uploaded in the admin UI, kept so the page after the upload is a plain
GET (reloading it imports nothing). ``invalid`` holds the first rows that were refused
(``row``, ``email``, ``reason``); ``invalid_count`` how many there were in all."""


contacts = Table(
    "contacts",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", String(320), nullable=False),
    Column("attributes", Attributes, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "email"),
    CheckConstraint(
        "status IN ('subscribed', 'unsubscribed', 'bounced', 'complained', 'blocklisted')",
        name="status",
    ),
)
"""An organization's audience: one row per address, its attributes (a JSON object) and its
status. Only ``subscribed`` contacts are mailed; the other statuses agree with the
organization's suppression list."""

lists = Table(
    "lists",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("visibility", String(8), nullable=False),
    Column("opt_in", String(8), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "name"),
    CheckConstraint("visibility IN ('public', 'private')", name="visibility"),
    CheckConstraint("opt_in IN ('single', 'double')", name="opt_in"),
)

list_members = Table(
    "list_members",
    metadata,
    Column("list_id", Identifier, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "contact_id", Identifier, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("status", String(16), nullable=False),
    Column("confirmation_sent_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_list_members_contact", "contact_id"),
    CheckConstraint("status IN ('unconfirmed', 'confirmed', 'unsubscribed')", name="status"),
)
"""Membership of a contact in a list, with its own status: only ``confirmed`` members are
mailed. ``confirmation_sent_at``: when the last double opt-in message went out (at most one
a day per address)."""

segments = Table(
    "segments",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("filter", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "name"),
)
"""A saved filter over contacts (``domain.filters``), compiled to SQL when it is counted or
a campaign that targets it starts."""

campaign_lists = Table(
    "campaign_lists",
    metadata,
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("list_id", Identifier, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_campaign_lists_list", "list_id"),
)

campaign_segments = Table(
    "campaign_segments",
    metadata,
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "segment_id", Identifier, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    ),
    Index("ix_campaign_segments_segment", "segment_id"),
)
"""The lists and segments a campaign targets, beside its explicit recipients; resolved into
deliveries when the campaign starts."""

erased_addresses = Table(
    "erased_addresses",
    metadata,
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("address_hash", String(64), primary_key=True),
    Column("erased_at", UtcDateTime, nullable=False),
)
"""Addresses erased on request: only a keyed hash (HMAC-SHA256 with an instance secret) is
kept, so the address stays suppressed and no import can bring it back."""

dkim_keys = Table(
    "dkim_keys",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("domain", String(253), nullable=False),
    Column("selector", String(63), nullable=False),
    Column("algorithm", String(8), nullable=False),
    Column("private_key", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "domain", "selector"),
    CheckConstraint("algorithm IN ('rsa', 'ed25519')", name="algorithm"),
)
"""An organization's DKIM keys, per sending domain and selector. ``private_key`` is sealed
(AES-GCM under a key derived from the instance secret ``dkim``, see ``delivery.dkim``);
``public_key`` is the base64 ``p=`` of the DNS record. Every key of the From domain (or of
its nearest parent that has keys) signs each message."""

images = Table(
    "images",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("hash", String(64), nullable=False),
    Column("media_type", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("organization_id", "hash"),
)
"""An organization's uploaded images. The bytes are a file on disk, ``{IMAGES_DIR}/{slug}/
{hash}.{extension}`` (``hash``: SHA-256 of the bytes, so one image is stored once per
organization), served publicly at ``{PUBLIC_URL}/images/{slug}/{hash}.{extension}``."""

feedback_events = Table(
    "feedback_events",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source", String(16), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("email", String(320), nullable=False),
    Column("delivery_id", Identifier),
    Column("campaign_id", Identifier),
    Column("detail", Text),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "event_id"),
    Index("ix_feedback_events_address", "organization_id", "email", "kind"),
    Index("ix_feedback_events_delivery", "delivery_id"),
    CheckConstraint("kind IN ('hard_bounce', 'soft_bounce', 'complaint')", name="kind"),
)
"""Bounces and complaints applied (``actions.feedback``), one row per event and address:
``(source, event_id)`` is how an event seen twice is recognised; soft bounces of an
address are counted here. ``delivery_id``/``campaign_id`` are None when no token survived."""

campaign_feedback = Table(
    "campaign_feedback",
    metadata,
    Column(
        "campaign_id",
        Identifier,
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("hard_bounces", Integer, nullable=False, server_default=text("0")),
    Column("soft_bounces", Integer, nullable=False, server_default=text("0")),
    Column("complaints", Integer, nullable=False, server_default=text("0")),
)
"""Counters per campaign, kept as events are applied, so its figures cost one row."""

webhook_replays = Table(
    "webhook_replays",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("token", String(255), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Index("ix_webhook_replays_seen", "seen_at"),
)
"""Tokens of signed webhook requests already accepted (Mailgun's ``signature.token``,
SendGrid's timestamp and signature): one seen again is a replay and is refused. Tokens
of timestamped requests older than twice ``WEBHOOK_MAX_AGE`` are forgotten as new ones
arrive."""

layouts = Table(
    "layouts",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("organization_id", "name"),
    Index(
        "uq_layouts_default",
        "organization_id",
        unique=True,
        sqlite_where=text("is_default"),
        postgresql_where=text("is_default"),
    ),
)
"""An organization's layouts: ``html`` places a campaign's body at ``{{ content }}``,
``text`` (optional) does the same for the text part. At most one is the organization's
default. A campaign names its layout in ``campaigns.layout``; when it starts, the layout's
HTML and text are copied into ``campaigns.layout_html`` and ``layout_text``, so editing the
layout never changes a campaign that is sending."""

campaign_links = Table(
    "campaign_links",
    metadata,
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("link_index", Integer, primary_key=True, autoincrement=False),
    Column("url", Text, nullable=False),
)
"""The tracked links of a campaign's HTML body, numbered once when it starts sending
(``domain.links``): a click token names a number, and the redirect goes to the URL stored
here, never to one taken from the token."""

tracking_events = Table(
    "tracking_events",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "campaign_id", Identifier, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    ),
    Column("delivery_id", Identifier, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("link_index", Integer),
    Column("machine", String(16)),
    Column("occurred_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('open', 'click')", name="kind"),
    Index("ix_tracking_events_campaign", "campaign_id", "delivery_id"),
)
"""One row per open (the tracking image was fetched) or click (a tracked link was
followed). ``machine``: why it was counted as a machine's rather than a person's
(``apple_privacy``, ``scanner``, ``prefetch``), None for a person's (``domain.tracking``)."""

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "organization_id",
        Identifier,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("url", Text, nullable=False),
    Column("description", String(200), nullable=False, server_default=text("''")),
    Column("secret", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("disabled_at", UtcDateTime),
    Column("failing_since", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_webhook_endpoints_organization_id", "organization_id"),
)
"""An organization's webhook endpoints. ``secret`` is the signing secret sealed with the
instance secret ``webhooks`` (``delivery.webhook_secrets``); ``event_types`` is the list of
types it receives as ``,sent,failed,`` (so one ``LIKE`` finds the subscribers of a type).
``failing_since`` is the first failed attempt since the last success: an endpoint that
keeps failing for as long as a message is retried is disabled, with ``disabled_reason``."""

webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("message_id", String(40), nullable=False),
    Column(
        "endpoint_id",
        Identifier,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("organization_id", Identifier, nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    UniqueConstraint("endpoint_id", "message_id"),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
)
"""The outbox: one row per event and subscribed endpoint, written in the transaction of
the change it reports (``store.outbox``). ``message_id`` (``msg_...``) is the event's id,
the same for every endpoint and on every retry. A dispatcher claims a pending, due row under
a lease (``lease_owner``, ``lease_expires_at``); an expired lease may be taken back. Once
delivered or given up, ``next_attempt_at`` is when that happened (retention goes by it)."""

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column(
        "message_row_id",
        Identifier,
        ForeignKey("webhook_messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("endpoint_id", Identifier, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_endpoint_id_attempted_at", "endpoint_id", "attempted_at"),
    Index("ix_webhook_attempts_message_row_id", "message_row_id"),
)
"""Every POST made: its status code (None: no answer) and error, newest shown first."""
