"""Every ``CAMPAIGND_*`` variable, with a default that works on one machine."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaignd.domain.addresses import InvalidAddress, parse_mailbox

Role = Literal["all", "api", "scheduler", "worker"]

MIN_JWT_SECRET_BYTES = 32
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAMPAIGND_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite:///./campaignd.db"
    redis_url: str | None = None
    email_transport: str = "file://./outbox"
    from_address: str = "campaigns@localhost"
    public_url: str = DEFAULT_PUBLIC_URL  # unset: follows `serve --host/--port`
    cooldown_days: int = Field(90, ge=0)
    cooldown_scope: Literal["global", "organization"] = "global"
    scheduler_interval: float = Field(1.0, gt=0)
    misfire_grace: float = Field(600.0, ge=0)
    lock_ttl: float = Field(30.0, gt=0)
    smtp_connections: int = Field(8, ge=1, le=1000)
    smtp_pipelining: Literal["auto", "off"] = "auto"  # auto: when the server offers it
    send_rate: float = Field(0.0, ge=0)
    max_send_errors: int = Field(100, ge=1)
    max_attempts: int = Field(5, ge=1)
    lease_seconds: float = Field(60.0, gt=0)
    lease_margin: float | None = Field(None, ge=0)  # unset: a third of LEASE_SECONDS
    retry_backoff: float = Field(60.0, ge=0)  # seconds before the first retry; doubles
    upcoming_hours: float = Field(24.0, gt=0)
    retention_days: int | None = Field(None, ge=1)  # unset: keep every delivery row
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    session_secret: str | None = None
    session_max_age: float = Field(7 * 24 * 3600.0, gt=0)  # seconds an admin session lasts
    login_max_failures: int = Field(10, ge=1)  # wrong tokens per client address and window
    login_failure_window: float = Field(60.0, gt=0)  # seconds
    subscribe_max_requests: int = Field(10, ge=1)  # public subscribe posts per client and window
    subscribe_window: float = Field(600.0, gt=0)  # seconds
    test_send_max_requests: int = Field(20, ge=1)  # test sends per organization and window
    test_send_window: float = Field(3600.0, gt=0)  # seconds
    images_dir: str | None = None  # unset: "images" beside the SQLite file, else ./images
    image_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)  # largest image upload
    trusted_proxies: str = ""  # addresses or networks whose X-Forwarded-For/-Proto count
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(4 * 1024**3, ge=1024)  # a streamed contact import (CSV, JSONL)
    # limits on what a request may hold (bad input answers 422 naming the limit)
    max_json_depth: int = Field(32, ge=4, le=256)
    max_vars_depth: int = Field(10, ge=1, le=64)
    max_vars_keys: int = Field(100, ge=1, le=10_000)
    max_vars_bytes: int = Field(64 * 1024, ge=256, le=16 * 1024 * 1024)
    max_csv_columns: int = Field(100, ge=2, le=10_000)
    max_csv_field_chars: int = Field(64 * 1024, ge=256, le=16 * 1024 * 1024)
    batch_size: int = Field(200, ge=1, le=10_000)
    redis_prefix: str | None = Field(None, min_length=1, max_length=100)
    redis_connect_timeout: float = Field(5.0, gt=0)
    redis_socket_timeout: float = Field(5.0, gt=0)
    database_connect_timeout: int = Field(10, ge=1)
    database_statement_timeout: float = Field(300.0, ge=0)  # 0: no limit
    database_keepalive_idle: int = Field(30, ge=1)
    template_timeout: float = Field(1.0, gt=0, le=60)  # seconds per render of one message
    template_max_output: int = Field(1_000_000, ge=1024)  # bytes of subject and bodies
    template_max_iterations: int = Field(100_000, ge=1)  # loop iterations per render
    dns_nameservers: str = ""  # DNS servers for the DKIM record check; empty: the system's
    dns_timeout: float = Field(3.0, gt=0, le=60)  # seconds per DNS lookup
    # bounces and complaints (docs/deliverability.md)
    bounce_domain: str | None = None  # set: envelope sender bounces+<token>@BOUNCE_DOMAIN
    soft_bounce_limit: int = Field(3, ge=1)  # soft bounces (distinct messages) that suppress
    bounce_pause_rate: float = Field(0.05, gt=0, le=1)  # hard-bounce rate that pauses
    complaint_pause_rate: float = Field(0.003, gt=0, le=1)  # complaint rate that pauses
    feedback_minimum_sent: int = Field(1000, ge=1)  # messages sent before rates count
    bounce_imap_url: str | None = None  # imaps://user:password@host:993/INBOX
    bounce_imap_interval: float = Field(60.0, gt=0)  # seconds between mailbox polls
    postmark_webhook_secret: str | None = None  # the password of Postmark's Basic auth
    sendgrid_webhook_public_key: str | None = None  # base64 DER (SendGrid's settings)
    mailgun_signing_key: str | None = None  # Mailgun's webhook signing key
    ses_topic_arns: str = ""  # comma-separated SNS topics whose notifications count
    webhook_max_age: float = Field(86400.0, gt=0)  # seconds a signed webhook stays valid
    metrics_port: int | None = Field(None, ge=1, le=65535)  # /metrics of non-api roles
    webhook_timeout: float = Field(10.0, gt=0, le=120)  # seconds for one POST, all in
    webhook_concurrency: int = Field(32, ge=1, le=1000)  # POSTs in flight per instance
    webhook_endpoint_concurrency: int = Field(4, ge=1, le=100)  # of them to one endpoint
    webhook_poll_interval: float = Field(1.0, gt=0)  # seconds between looks for due events
    webhook_allow_loopback: bool = False  # loopback URLs (and http to them): tests, dev
    webhook_allow_private: bool = False  # private networks (10/8, 192.168/16, fc00::/7...)
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("bounce_domain")
    @classmethod
    def _bounce_domain(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parse_mailbox(f"bounces@{value}", special_use_domain=True)
        except InvalidAddress:
            raise ValueError(f"'{value}' is not a domain name") from None
        return value.lower()

    @field_validator("bounce_imap_url")
    @classmethod
    def _bounce_mailbox(cls, value: str | None) -> str | None:
        if not value:
            return None
        from campaignd.feedback.mailbox import MailboxTarget

        MailboxTarget.from_url(value)  # ValueError names what is wrong
        return value

    @field_validator("sendgrid_webhook_public_key")
    @classmethod
    def _sendgrid_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        from campaignd.feedback.sendgrid import public_key

        public_key(value)  # ValueError names what is wrong
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if not (scheme.startswith("sqlite") or scheme.startswith("postgres")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"'{item.strip()}' is not an IP address or network (like 10.0.0.0/8)"
                    ) from None
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers(cls, value: str) -> str:
        nameserver_addresses(value)
        return value

    @field_validator("email_transport")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"file", "smtp", "smtp+starttls", "smtps"} or "://" not in value:
            raise ValueError("must be file://DIR, smtp://, smtp+starttls:// or smtps://")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: str | None) -> str | None:
        if not value:
            return None  # set but empty: JWTs stay off
        if len(value.encode("utf-8")) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_BYTES} bytes long (HS256 needs a secret as "
                f"long as its hash); this one has {len(value.encode('utf-8'))}. "
                "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _one_mailbox(cls, value: str) -> str:
        """The default sender is parsed as every sender is (a special-use domain such as
        ``localhost`` is allowed here), so a bad one stops the start instead of every send."""
        try:
            parse_mailbox(value, special_use_domain=True)
        except InvalidAddress as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def public_url_is_set(self) -> bool:
        """Whether PUBLIC_URL was given (environment or .env), not left to its default."""
        return "public_url" in self.model_fields_set

    def serving(self, host: str, port: int) -> Settings:
        """These settings for an instance that serves ``host:port``: an unset PUBLIC_URL
        becomes that address, so unsubscribe and admin links lead to it."""
        if self.public_url_is_set:
            return self
        settings = self.model_copy(update={"public_url": served_url(host, port)})
        settings.__pydantic_fields_set__.discard("public_url")
        return settings

    @property
    def lease_safety_margin(self) -> float:
        """How much of a lease must be left for a worker to start a transaction under it."""
        if self.lease_margin is not None:
            return min(self.lease_margin, self.lease_seconds / 2)
        return self.lease_seconds / 3

    @property
    def redis_key_prefix(self) -> str:
        """What every Redis key starts with: ``REDIS_PREFIX``, or one derived from the
        database URL, so that two deployments (two databases) on one Redis never collide."""
        if self.redis_prefix:
            return self.redis_prefix
        digest = hashlib.sha256(database_identity(self.database_url).encode()).hexdigest()[:12]
        return f"campaignd:{digest}"


def nameserver_addresses(text: str) -> list[tuple[str, int]]:
    """``DNS_NAMESERVERS`` (``192.0.2.53``, ``192.0.2.53:5353``, ``[2001:db8::53]:5353``,
    comma-separated) as (address, port) pairs; ValueError naming a bad item."""
    servers: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        address, port = item, "53"
        if item.startswith("["):
            address, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") if rest else "53"
        elif item.count(":") == 1:
            address, _, port = item.partition(":")
        try:
            ipaddress.ip_address(address)
            number = int(port)
        except ValueError:
            raise ValueError(
                f"'{item}' is not an IP address with an optional port (like 192.0.2.53:53)"
            ) from None
        if not 0 < number < 65536:
            raise ValueError(f"'{item}': the port must be 1 to 65535")
        servers.append((address, number))
    return servers


def database_identity(url: str) -> str:
    """The database URL with a relative SQLite path made absolute: the default
    ``sqlite:///./campaignd.db`` in two folders is two databases, and two prefixes."""
    scheme, separator, rest = url.partition(":///")
    if not scheme.startswith("sqlite") or not separator:
        return url
    path, question, query = rest.partition("?")
    if not path or path.startswith("/") or path == ":memory:" or path.startswith("file:"):
        return url
    return f"{scheme}:///{os.path.abspath(path)}{question}{query}"


def served_url(host: str, port: int) -> str:
    """``http://host:port`` of a listening address; one on every address (``0.0.0.0``,
    ``::``) is reached here as 127.0.0.1."""
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def serves(public_url: str, host: str, port: int) -> bool:
    """Whether ``public_url`` names the address served at ``host:port`` (same port, and the
    same host, a loopback name for a loopback address, or any host for a wildcard)."""
    parts = urlsplit(public_url)
    try:
        public_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    public_host = (parts.hostname or "").lower()
    served_host = host.strip("[]").lower()
    if public_port != port:
        return False
    if served_host in WILDCARD_HOSTS or public_host == served_host:
        return True
    return public_host in LOOPBACK_NAMES and served_host in LOOPBACK_NAMES


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad value raises SettingsError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"CAMPAIGND_{field.upper()}: {message}")
        raise SettingsError("; ".join(problems)) from None
