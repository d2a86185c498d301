"""Which database errors a client sees as 503 DATABASE_UNAVAILABLE (retry) rather than a 500 (a bug)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from hotline.kit.errors import BadRequestError, DatabaseUnavailableError, api_error_from_database


def wrapped(error: BaseException) -> DBAPIError:
    """The error as SQLAlchemy hands it on (the driver's error as ``orig``)."""
    return DBAPIError("SELECT 1", None, error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),  # 57P01: a fast restart
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),  # 57P02
        asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.ConnectionFailureError("connection failure"),  # 08006
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("as_sqlalchemy_gives_it", [False, True])
def test_a_server_going_away_or_restarting_is_unavailable_not_a_bug(error, as_sqlalchemy_gives_it):
    mapped = api_error_from_database(wrapped(error) if as_sqlalchemy_gives_it else error)
    assert isinstance(mapped, DatabaseUnavailableError) and mapped.status_code == 503


def test_other_database_errors_stay_what_they_are():
    assert isinstance(api_error_from_database(asyncpg.CharacterNotInRepertoireError("bad byte")), BadRequestError)
    assert api_error_from_database(asyncpg.UniqueViolationError("duplicate key")) is None  # a bug: 500, logged
    assert api_error_from_database(asyncpg.DivisionByZeroError("division by zero")) is None
