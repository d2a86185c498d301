"""Finding or starting the database: ``HOTLINE_DATABASE_URL``, else an embedded PostgreSQL under ``.hotline/``."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether something listens at the URL's TCP host and port (unix-socket URLs count as reachable)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return True
    try:
        with socket.create_connection((parts.hostname, parts.port or 5432), timeout=timeout):
            return True
    except OSError:
        return False


def start_embedded(state_dir: Path):
    """Start (or reuse) the embedded PostgreSQL in ``state_dir/pgdata``; returns its handle.

    pgserver ships PostgreSQL binaries in its wheel: no system install is needed. The server stops
    when the last handle in this process is closed.
    """
    import warnings

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only the embedded path needs it

    state_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(state_dir / "pgdata", cleanup_mode="stop")


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _exists(url: str, name: str) -> bool:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if it does not exist; return its URL."""
    admin_url = with_database(server_url, "postgres")

    async def run() -> None:
        if not await _exists(admin_url, name):
            await _admin(admin_url, f'CREATE DATABASE "{name}"')

    asyncio.run(run())
    return with_database(server_url, name)


async def create_database(server_url: str, name: str) -> str:
    await _admin(with_database(server_url, "postgres"), f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    await _admin(with_database(server_url, "postgres"), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
