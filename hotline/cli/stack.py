"""Starting and stopping the services and the gateway as child processes (``hotline up``, e2e tests)."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hotline.kit import migrations

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_DIR = REPO_ROOT / "gateway"
PORTAL_DIR = REPO_ROOT / "portal"
PORTAL_PORT = 5173


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"services.{self.name}"

    @property
    def service_dir(self) -> Path:
        return importlib.import_module(self.module).SERVICE_DIR


# The four subgraphs; the gateway composes the supergraph from all of them.
SERVICES = (
    ServiceSpec("ingest", 4101),
    ServiceSpec("indicators", 4102),
    ServiceSpec("scoring", 4103),
    ServiceSpec("appeals", 4104),
)
GATEWAY_PORT = 4000
# How long a service keeps an idle client connection open: longer than its clients keep one idle (Node's HTTP agent
# in the gateway 5 s, httpx 5 s), so that the client, not the service, closes it. With uvicorn's default of 5 s
# both sides closed an idle connection at the same moment, and a request sent on it just then got no answer
# ("socket hang up" at the gateway, ReadError at a Python client; seen under load at 50 clients).
KEEP_ALIVE_SECONDS = 65


def default_ports() -> dict[str, int]:
    """Each service's port: ``HOTLINE_<NAME>_PORT`` if set, else its default."""
    return {s.name: int(os.environ.get(f"HOTLINE_{s.name.upper()}_PORT", s.port)) for s in SERVICES}


def migrate_all(database_url: str) -> None:
    """Run every service's Alembic history up to head."""
    for spec in SERVICES:
        migrations.upgrade(spec.service_dir, database_url)


class StartupError(RuntimeError):
    pass


@dataclass
class Stack:
    """The running system: one process per service, plus the gateway."""

    database_url: str
    log_dir: Path
    jwt_secret: str
    ports: dict[str, int] = field(default_factory=lambda: default_ports())
    gateway_port: int = field(default_factory=lambda: int(os.environ.get("HOTLINE_GATEWAY_PORT", GATEWAY_PORT)))
    env: str = "development"
    # Origins a browser may call the gateway from (HOTLINE_GATEWAY_CORS_ORIGINS), e.g. the portal's; none if empty.
    cors_origins: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Children run in other working directories (the gateway in gateway/).
        self.log_dir = Path(self.log_dir).resolve()

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOTLINE_DATABASE_URL=self.database_url,
            HOTLINE_JWT_SECRET=self.jwt_secret,
            HOTLINE_ENV=self.env,
            PYTHONUNBUFFERED="1",
        )
        # Each service finds the others where this stack started them.
        for spec in SERVICES:
            env[f"HOTLINE_{spec.name.upper()}_URL"] = self.service_url(spec.name)
        return env

    def _spawn(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_service(self, spec: ServiceSpec) -> None:
        args = [
            sys.executable, "-m", "uvicorn", f"{spec.module}.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.ports[spec.name]), "--no-access-log",
            "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
        ]  # fmt: skip
        self._spawn(spec.name, args, REPO_ROOT, self._environment())

    def start_gateway(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise StartupError("node is not installed: the gateway needs Node.js 20+")
        if not (GATEWAY_DIR / "node_modules").exists():
            raise StartupError("gateway dependencies are missing: run `npm ci` in gateway/ (make install does)")
        env = self._environment()
        env.update(
            HOTLINE_GATEWAY_PORT=str(self.gateway_port),
            HOTLINE_SUBGRAPHS=",".join(f"{s.name}={self.service_url(s.name)}/graphql" for s in SERVICES),
            HOTLINE_SUPERGRAPH_PATH=str(self.log_dir / "supergraph.graphql"),
        )
        if self.cors_origins and not env.get("HOTLINE_GATEWAY_CORS_ORIGINS"):
            env["HOTLINE_GATEWAY_CORS_ORIGINS"] = self.cors_origins
        self._spawn("gateway", [node, "server.mjs"], GATEWAY_DIR, env)

    def start_portal(self, port: int, gateway_url: str, tokens_file: Path | None = None) -> None:
        """The reference portal (portal/dist, built by `make install`) served by portal/serve.mjs on ``port``,
        talking to the gateway at ``gateway_url``; ``tokens_file`` offers its tokens on the sign-in screen."""
        node = shutil.which("node")
        if node is None:
            raise StartupError("node is not installed: the portal's server needs Node.js 20+")
        if not (PORTAL_DIR / "dist" / "index.html").exists():
            raise StartupError(
                "the portal is not built: run `make install` (or `cd portal && npm ci && npm run build`)"
            )
        env = dict(os.environ)
        env.update(
            HOTLINE_PORTAL_HOST="127.0.0.1", HOTLINE_PORTAL_PORT=str(port), HOTLINE_PORTAL_GATEWAY_URL=gateway_url
        )
        if tokens_file is not None:
            env["HOTLINE_PORTAL_DEV_TOKENS"] = str(Path(tokens_file).resolve())
        self._spawn("portal", [node, "serve.mjs"], PORTAL_DIR, env)

    def wait_ready(self, name: str, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise StartupError(f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StartupError(f"{name} was not ready at {url} within {timeout:.0f}s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def start(self, *, gateway: bool = True, meanwhile: Callable[[], object] | None = None) -> None:
        """Start every service, wait until each is ready, then the gateway. ``meanwhile`` (``hotline up``'s demo
        load through ingest's API) runs once the services are ready, while the gateway composes the supergraph.
        Whatever fails, everything started is stopped again."""
        try:
            for spec in SERVICES:
                self.start_service(spec)
            for spec in SERVICES:
                self.wait_ready(spec.name, f"{self.service_url(spec.name)}/readyz")
            if gateway:
                self.start_gateway()
            if meanwhile is not None:
                meanwhile()
            if gateway:
                self.wait_ready("gateway", f"{self.gateway_url}/healthz", timeout=90.0)
        except BaseException:
            self.stop()
            raise

    def stop_one(self, name: str, timeout: float = 10.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except BaseException as exc:  # it took too long, or the wait was interrupted: killed either way
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if not isinstance(exc, (subprocess.TimeoutExpired, ProcessLookupError)):  # gone already: stopped
                raise

    def stop(self) -> None:
        """Stop the portal and the gateway first, then the services. Interrupted (a second Ctrl-C while a process
        takes its time to stop), it kills the ones not stopped yet before it gives way: each process runs in a
        session of its own, so one left behind would keep running, and logging, with nobody to stop it."""
        names = ["portal", "gateway", *[s.name for s in SERVICES]]
        try:
            for name in names:
                self.stop_one(name)
        except BaseException:
            for name in names:
                process = self.processes.pop(name, None)
                if process is not None and process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            raise
