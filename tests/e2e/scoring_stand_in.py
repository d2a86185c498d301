"""A stand-in for the scoring service in end-to-end tests, until scoring runs in the stack: the same fake
the appeals tests use (contracts §6), served over HTTP by uvicorn in a thread on a free port."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.appeals.conftest import FakeScoring


def stand_in_app(fake: FakeScoring) -> Starlette:
    async def endpoint(request: Request) -> Response:
        forwarded = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=await request.body()
        )
        answer = fake.handle(forwarded)
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


class StandIn:
    def __init__(self, port: int) -> None:
        self.fake = FakeScoring(published_at=datetime.now(UTC) - timedelta(days=1))
        config = uvicorn.Config(stand_in_app(self.fake), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scoring stand-in did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
