"""``hotline``: start the system, mint development tokens, run migrations, load units."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from hotline.kit.auth import Role, mint_token
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

app = typer.Typer(help="hotline-eval developer commands.", no_args_is_help=True)
units_app = typer.Typer(help="The unit directory.", no_args_is_help=True)
app.add_typer(units_app, name="units")
console = Console()

STATE_DIR = Path(os.environ.get("HOTLINE_STATE_DIR", ".hotline"))
DATABASE_NAME = "hotline"

DEMO_TOKENS = [
    ("GD", ["admin", "organizer"], "province body 广东省 (admin, organizer)"),
    ("GD-GZ", ["organizer", "reviewer"], "city body 广州市 (organizer, reviewer)"),
    ("GZ-HOUSING", ["unit"], "undertaking unit 广州市住建局 (unit; its 2022 result is published and appealable)"),
    ("GD-SZ", ["viewer"], "city body 深圳市 (viewer)"),
]


def _secret() -> str:
    return os.environ.get("HOTLINE_JWT_SECRET", DEVELOPMENT_JWT_SECRET)


def _port(name: str) -> int:
    """``HOTLINE_<NAME>_PORT`` (what ``hotline up`` listens on), else the service's default port."""
    from hotline.kit.settings import SERVICE_DEFAULT_PORTS

    variable = f"HOTLINE_{name.upper()}_PORT"
    port = os.environ.get(variable) or str(SERVICE_DEFAULT_PORTS[name])
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{variable} must be a port number (1–65535), not {port!r}")
    return int(port)


def _service_url(name: str, given: str | None) -> str:
    """Where a command finds a service: the option, else ``HOTLINE_<NAME>_URL``, else 127.0.0.1 on ``_port``."""
    if given:
        return given.rstrip("/")
    if url := os.environ.get(f"HOTLINE_{name.upper()}_URL"):
        return url.rstrip("/")
    return f"http://127.0.0.1:{_port(name)}"


@contextmanager
def _reaching(name: str, url: str) -> Iterator[None]:
    """A service that does not answer is one line naming where it was looked for, not a traceback."""
    try:
        yield
    except httpx.TransportError as exc:
        env = f"HOTLINE_{name.upper()}"
        console.print(f"[red]cannot reach the {name} service at {url}:[/red] {exc or type(exc).__name__}")
        console.print(f"(where it listens: --{name}-url, {env}_URL or {env}_PORT)")
        raise typer.Exit(1) from exc


IngestUrl = Annotated[
    str | None,
    typer.Option(
        help="The ingest service (default: HOTLINE_INGEST_URL, else http://127.0.0.1:$HOTLINE_INGEST_PORT, "
        "else port 4101)"
    ),
]


def _resolve_database() -> tuple[str, object | None]:
    """The server URL to use and, when embedded, the handle that keeps it running."""
    from hotline.cli.database import ensure_database, start_embedded

    url = os.environ.get("HOTLINE_DATABASE_URL")
    if url:
        return url, None
    console.print(f"HOTLINE_DATABASE_URL is not set: starting an embedded PostgreSQL under {STATE_DIR}/pgdata")
    server = start_embedded(STATE_DIR)
    return ensure_database(server.get_uri(), DATABASE_NAME), server


@app.command()
def token(
    unit: Annotated[str, typer.Option("--unit", help="The caller's unit id, e.g. GD-GZ")],
    role: Annotated[list[str], typer.Option("--role", help="A role; repeat for several")],
    subject: Annotated[str | None, typer.Option(help="Token subject (default: dev:<unit>:<roles>)")] = None,
    hours: Annotated[int, typer.Option(help="Validity in hours")] = 12,
) -> None:
    """Print a development token (HS256, signed with HOTLINE_JWT_SECRET)."""
    try:
        roles = [Role(r).value for r in role]
    except ValueError as exc:
        raise typer.BadParameter(f"roles are: {', '.join(r.value for r in Role)}") from exc
    typer.echo(mint_token(secret=_secret(), unit_id=unit, roles=roles, subject=subject, ttl_seconds=hours * 3600))


@app.command()
def migrate() -> None:
    """Run every service's migrations up to head."""
    from hotline.cli.stack import SERVICES, migrate_all

    url, server = _resolve_database()
    migrate_all(url)
    console.print(f"migrated: {', '.join(s.name for s in SERVICES)}")
    del server


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Load the demo data")] = True,
    gateway_port: Annotated[
        int, typer.Option(help="Gateway port", envvar="HOTLINE_GATEWAY_PORT", min=1, max=65535)
    ] = 4000,
) -> None:
    """Start the database, run migrations, start services and gateway, load the demo data through their API,
    serve the reference portal; Ctrl-C stops all."""
    import asyncio

    from hotline.cli.demo import DemoLoadError, load_demo
    from hotline.cli.stack import PORTAL_DIR, PORTAL_PORT, SERVICES, Stack, StartupError, migrate_all

    ports = {spec.name: _port(spec.name) for spec in SERVICES}  # refuse a bad port before anything starts
    portal_port = os.environ.get("HOTLINE_PORTAL_PORT") or str(PORTAL_PORT)
    if not portal_port.isdigit() or not 0 < int(portal_port) < 65536:
        raise typer.BadParameter(f"HOTLINE_PORTAL_PORT must be a port number (1–65535), not {portal_port!r}")
    portal_origin = f"http://127.0.0.1:{portal_port}"
    with_portal = (PORTAL_DIR / "dist" / "index.html").exists()
    url, server = _resolve_database()
    migrate_all(url)
    console.print("migrations: done")
    stack = Stack(
        database_url=url, log_dir=STATE_DIR / "logs", jwt_secret=_secret(), ports=ports, gateway_port=gateway_port,
        # The reference portal is served from its own origin: the gateway lets exactly that origin call it.
        cors_origins=portal_origin if with_portal else "",
    )  # fmt: skip
    stopping = False

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    def load_demo_data() -> None:
        """The demo's units and records, through the running ingest service's REST API (as a client sends them)."""
        loaded = asyncio.run(load_demo(stack.service_url("ingest"), _secret()))
        console.print(f"demo units (through ingest's API): {loaded['units']}")
        for filename, counts in loaded["records"].items():
            console.print(f"demo records {filename}: {counts}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start(meanwhile=load_demo_data if demo else None)
    except StartupError as exc:
        console.print(f"[red]start-up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    except (DemoLoadError, httpx.HTTPError) as exc:
        console.print(f"[red]demo data failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if demo:
        from hotline.cli.demo_evaluation import DemoError, seed_demo_evaluation

        try:
            console.print(
                f"demo evaluation (through the gateway): {seed_demo_evaluation(stack.gateway_url, _secret())}"
            )
        except (DemoError, httpx.HTTPError) as exc:
            console.print(f"[red]demo evaluation failed:[/red] {exc}")
            stack.stop()
            raise typer.Exit(1) from exc
    if with_portal:
        try:
            stack.start_portal(portal_port, stack.gateway_url, STATE_DIR / "tokens.txt")
            stack.wait_ready("portal", f"{portal_origin}/config.json", timeout=30.0)
        except StartupError as exc:
            console.print(f"[red]portal start-up failed:[/red] {exc}")
            stack.stop()
            raise typer.Exit(1) from exc
    lines = []
    for unit_id, roles, label in DEMO_TOKENS:
        lines += [f"# {label}", mint_token(secret=_secret(), unit_id=unit_id, roles=roles), ""]
    (STATE_DIR / "tokens.txt").write_text("\n".join(lines))
    console.print("Demo tokens (header  Authorization: Bearer <token>; also in .hotline/tokens.txt):\n")
    console.print("\n".join(lines), soft_wrap=True, highlight=False)
    if with_portal:
        console.print(f"Portal: {portal_origin}/   (sign in with a demo token above)")
    else:
        console.print("Portal: not built (make install builds portal/dist)")
    console.print(f"GraphiQL: {stack.gateway_url}/graphql   (logs: {STATE_DIR}/logs)")
    console.print("Press Ctrl-C to stop.")
    try:
        while not stopping:
            for name, process in list(stack.processes.items()):
                if process.poll() is not None:
                    console.print(f"[red]{name} stopped (exit {process.returncode}):[/red]\n{stack.log_tail(name)}")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        stack.stop()
        del server
    console.print("stopped")


@app.command()
def schema(
    check: Annotated[
        bool, typer.Option(help="Only compare the committed files with the code; exit 1 if they differ")
    ] = False,
) -> None:
    """Regenerate the schema contract: schema/<service>.graphql, schema/supergraph.graphql and
    gateway/persisted-documents.json (what `make schema` runs; no stack needed)."""
    from hotline.cli import schema_files

    try:
        files = schema_files.generate()
    except schema_files.SchemaContractError as exc:
        console.print(f"[red]schema:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if check:
        if differing := schema_files.drift(files):
            console.print(schema_files.drift_message(differing), highlight=False)
            raise typer.Exit(1)
        console.print("the committed schema contract matches the code")
        return
    changed = schema_files.write(files)
    console.print(
        f"written: {', '.join(changed)}" if changed else "unchanged: the committed files match the code", soft_wrap=True
    )


@units_app.command("load")
def units_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON file of units")],
    ingest_url: IngestUrl = None,
    unit: Annotated[str, typer.Option(help="Caller's unit for the development token")] = "GD",
    dry_run: Annotated[bool, typer.Option(help="Report without writing")] = False,
) -> None:
    """Register or update units from a file through the ingest service's bulk endpoint."""
    ingest_url = _service_url("ingest", ingest_url)
    bearer = os.environ.get("HOTLINE_TOKEN") or mint_token(secret=_secret(), unit_id=unit, roles=["admin"])
    with _reaching("ingest", ingest_url), file.open("rb") as handle:
        response = httpx.post(
            f"{ingest_url}/units/bulk",
            params={"dry_run": str(dry_run).lower()},
            files={"file": (file.name, handle)},
            headers={"authorization": f"Bearer {bearer}"},
            timeout=300,
        )
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    report = response.json()
    console.print(report["counts"])
    for row in report["rows"]:
        for problem in row["problems"]:
            console.print(
                f"row {row['row']} ({row['unitId']}): {problem['field']}={problem['value']!r}: {problem['message']}"
            )
    if report["counts"]["rejected"]:
        raise typer.Exit(2)


def _upload_chunks(file: Path, progress, task, chunk_size: int = 1 << 20):
    """The file in 1 MiB chunks, advancing the progress bar (httpx streams a generator body)."""
    with file.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            progress.update(task, advance=len(chunk))
            yield chunk


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, TSV, NDJSON or XLSX file")],
    kind: Annotated[str, typer.Option(help="Record type: call, work_order, rating, inspection, callback, …")],
    source: Annotated[str, typer.Option(help="Sending system (default `source` of the rows)")],
    mapping: Annotated[
        str | None, typer.Option(help="Saved mapping name, or a .json mapping file (saved under its file name)")
    ] = None,
    time_zone: Annotated[str | None, typer.Option(help="Zone of naive timestamps (default Asia/Shanghai)")] = None,
    expected_rows: Annotated[int | None, typer.Option(help="Rows the source says it sent")] = None,
    ingest_url: IngestUrl = None,
    unit: Annotated[str, typer.Option(help="Caller's unit for the development token")] = "GD",
) -> None:
    """Send a file of raw records to the ingest service's bulk endpoint (streamed) and print the batch report."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn, TransferSpeedColumn

    ingest_url = _service_url("ingest", ingest_url)
    bearer = os.environ.get("HOTLINE_TOKEN") or mint_token(secret=_secret(), unit_id=unit, roles=["admin"])
    headers = {"authorization": f"Bearer {bearer}"}
    if mapping and mapping.endswith(".json"):
        path = Path(mapping)
        name = path.stem
        with _reaching("ingest", ingest_url):
            response = httpx.put(
                f"{ingest_url}/mappings/{name}",
                content=path.read_bytes(),
                headers={**headers, "content-type": "application/json"},
                timeout=60,
            )
        if response.status_code != 200:
            console.print(f"[red]mapping refused ({response.status_code}):[/red] {response.text}")
            raise typer.Exit(1)
        mapping = name
    params = {"kind": kind, "source": source, "filename": file.name}
    params |= {
        k: v
        for k, v in {"mapping": mapping, "time_zone": time_zone, "expected_rows": expected_rows}.items()
        if v is not None
    }
    columns = ["{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn()]
    with _reaching("ingest", ingest_url), Progress(*columns, console=console) as progress:
        task = progress.add_task(f"uploading {file.name}", total=file.stat().st_size)
        response = httpx.post(
            f"{ingest_url}/batches",
            params=params,
            content=_upload_chunks(file, progress, task),
            headers={**headers, "content-type": "application/octet-stream"},
            timeout=None,
        )
        progress.update(task, description=f"processed {file.name}")
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    report = response.json()
    console.print(f"batch {report['batchId']}: {report['status']}  {report['counts']}")
    for problem in report["problems"][:20]:
        console.print(f"row {problem['row']}: {problem['field']}={problem['value']!r}: {problem['reason']}")
    if report["counts"]["rejected"] > 20:
        console.print(f"… {report['counts']['rejected'] - 20} more rejected rows (GET /batches/{report['batchId']})")


if __name__ == "__main__":
    app()
