"""Every ``CAMPAIGND_*`` variable, with a default that works on one machine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["all", "api", "scheduler", "worker"]


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
    public_url: str = "http://127.0.0.1:8000"
    cooldown_days: int = Field(90, ge=0)
    cooldown_scope: Literal["global", "organization"] = "global"
    scheduler_interval: float = Field(1.0, gt=0)
    misfire_grace: float = Field(600.0, ge=0)
    lock_ttl: float = Field(30.0, gt=0)
    smtp_connections: int = Field(8, ge=1, le=1000)
    send_rate: float = Field(0.0, ge=0)
    max_send_errors: int = Field(100, ge=1)
    max_attempts: int = Field(5, ge=1)
    lease_seconds: float = Field(60.0, gt=0)
    retry_backoff: float = Field(60.0, ge=0)  # seconds before the first retry; doubles
    upcoming_hours: float = Field(24.0, gt=0)
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    session_secret: str | None = None
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    batch_size: int = Field(200, ge=1, le=10_000)
    template_timeout: float = Field(1.0, gt=0, le=60)  # seconds per render of one message
    template_max_output: int = Field(1_000_000, ge=1024)  # bytes of subject and bodies
    template_max_iterations: int = Field(100_000, ge=1)  # loop iterations per render
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if not (scheme.startswith("sqlite") or scheme.startswith("postgres")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("email_transport")
    @classmethod
    def _known_transport(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"file", "smtp", "smtp+starttls", "smtps"} or "://" not in value:
            raise ValueError("must be file://DIR, smtp://, smtp+starttls:// or smtps://")
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad value raises SettingsError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            problems.append(f"CAMPAIGND_{field.upper()}: {item['msg']}")
        raise SettingsError("; ".join(problems)) from None
