"""Error types shared by every service.

``ApiError`` subclasses carry an HTTP status and a GraphQL error code, so one exception maps to a
REST response and to a GraphQL error alike. Expected, per-item problems (validation of rows,
refused transitions) are returned as data instead; these errors are for whole-request failures.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request-level failure the caller is meant to see."""

    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


class UnauthenticatedError(ApiError):
    """No token, or a token that does not verify."""

    status_code = 401
    code = "UNAUTHENTICATED"


class TokenExpiredError(UnauthenticatedError):
    """The token that opened a subscription has expired: the subscription ends (an expected end, not logged)."""


class ForbiddenError(ApiError):
    """Authenticated, but the caller's roles do not allow the action."""

    status_code = 403
    code = "FORBIDDEN"


class NotFoundError(ApiError):
    """Does not exist, or exists outside the caller's scope (the two are never told apart)."""

    status_code = 404
    code = "NOT_FOUND"


class BadRequestError(ApiError):
    """Malformed input that cannot be processed at all (a bad file, a bad argument)."""

    status_code = 400
    code = "BAD_REQUEST"


class PayloadTooLargeError(ApiError):
    """The request body (an upload) is larger than the endpoint accepts."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class ConflictError(ApiError):
    """A concurrent change won, or the request conflicts with stored state."""

    status_code = 409
    code = "CONFLICT"


# PostgreSQL refuses these characters in text (NUL, or a character the encoding cannot hold): the client's
# input, not a fault of the service, so a 400 rather than a 500.
_BAD_INPUT_SQLSTATES = {"22021": "a text value contains a character PostgreSQL cannot store (e.g. NUL)",
                        "22P05": "a text value contains a character PostgreSQL cannot store"}  # fmt: skip


class DatabaseUnavailableError(ApiError):
    """The database connection was lost during the request (a restart, a failover): retry shortly."""

    status_code = 503
    code = "DATABASE_UNAVAILABLE"


def _unavailable_sqlstate(sqlstate: object) -> bool:
    """Class 08 (connection exception) and 57P01–57P03 (admin or crash shutdown, cannot connect now):
    the server went away or is restarting, not a fault of the request."""
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03"))


def api_error_from_database(exc: BaseException) -> ApiError | None:
    """The ``BadRequestError`` for a database error caused by unstorable input text, a
    ``DatabaseUnavailableError`` for a lost connection or a server that is shutting down or starting up
    (a restart, a failover), else None (a bug: logged and answered 500)."""
    # SQLAlchemy wraps the driver's error (``orig``); code on the raw asyncpg driver sees it bare.
    driver_error = getattr(exc, "orig", exc)
    text = str(driver_error)
    sqlstate = getattr(driver_error, "sqlstate", None)
    if (
        getattr(exc, "connection_invalidated", False)
        or "connection is closed" in text
        or "connection was closed" in text
        or _unavailable_sqlstate(sqlstate)
        or isinstance(driver_error, ConnectionError)  # refused or reset while (re)connecting
    ):
        return DatabaseUnavailableError("the database connection was lost; retry the request")
    message = _BAD_INPUT_SQLSTATES.get(sqlstate) if isinstance(sqlstate, str) else None
    return BadRequestError(message) if message else None
