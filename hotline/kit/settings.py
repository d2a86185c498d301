"""Settings read from the environment (prefix ``HOTLINE_``) with pydantic-settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that must never reach production: rejected outside development.
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "development-only-secret-not-for-production"}
DEVELOPMENT_JWT_SECRET = "development-only-secret-not-for-production"


class Settings(BaseSettings):
    """Everything a service needs from its environment."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str | None = None
    # Development: HS256 with a shared secret. Production: RS256/ES256 verified against a JWKS.
    jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    db_pool_size: int = 5
    db_echo: bool = False

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.env == "production":
            if self.jwks_url is None and (
                self.jwt_secret is None or self.jwt_secret.get_secret_value() in _PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    "HOTLINE_JWKS_URL (or a real HOTLINE_JWT_SECRET) is required in production; "
                    "placeholder secrets are refused"
                )
        elif self.jwt_secret is None and self.jwks_url is None:
            self.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
        return self

    @property
    def async_database_url(self) -> str:
        """The database URL in the form SQLAlchemy's asyncpg dialect expects."""
        if not self.database_url:
            raise RuntimeError("HOTLINE_DATABASE_URL is not set")
        return to_async_url(self.database_url)


def to_async_url(url: str) -> str:
    """Turn ``postgresql://…`` (or ``postgres://``) into ``postgresql+asyncpg://…``."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
