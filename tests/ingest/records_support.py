"""Helpers for the raw-record tests: register the small tree, upload batches, read measures."""

from __future__ import annotations

import csv
import io

from tests.support import TREE, auth

ADMIN = auth("GD", "admin")
GZ = auth("GD-GZ", "organizer")
EXTRA_UNITS = [{"id": "GZ-T1-A002", "parent_id": "GZ-T1", "kind": "agent", "name_zh": "坐席 李娜"}]


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


async def register_tree(client) -> None:
    response = await client.post(
        "/units/bulk", files={"file": ("units.csv", to_csv([*TREE, *EXTRA_UNITS]).encode())}, headers=ADMIN
    )
    assert response.status_code == 200, response.text


async def send(
    client, kind: str, content: bytes | str, *, headers=ADMIN, source="test-src", filename="rows.csv", **params
):
    body = content.encode() if isinstance(content, str) else content
    return await client.post(
        "/batches",
        params={"kind": kind, "source": source, "filename": filename, **params},
        content=body,
        headers={**headers, "content-type": "application/octet-stream"},
    )


async def measures(client, units, codes, start="2025-01-01", end="2025-01-31", by="total", headers=ADMIN) -> dict:
    response = await client.post(
        "/measures/query", json={"units": units, "measures": codes, "from": start, "to": end, "by": by}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def values(result: dict) -> dict[str, dict[str, float]]:
    """``{unit: {measure: value}}`` of a ``by=total`` answer."""
    return {row[0]: dict(zip(result["measures"], row[-1], strict=True)) for row in result["rows"]}


ORDER_RECEIVERS = ["GD-GZ", "GZ-HOUSING", "GZ-T1-A001"]
ORDER_HANDLERS = ["", "GZ-HOUSING", "GZ-T1-A002", "SZ-T1-A001"]


def work_order(i: int, day: int, rng, seconds: bool = False) -> dict:
    """A canonical work order of February ``day`` (record id ``w<i>``): received by one of three units, handled by
    none or one of three (another city's agent among them), dispatched the same day, closed the next, due the day
    after; ``rng`` picks the hours. ``seconds``: times written with seconds (the plain form the direct path takes)."""
    tail = ":00" if seconds else ""
    hour = rng.randrange(8, 16)
    return {"record_id": f"w{i:04d}", "unit_id": ORDER_RECEIVERS[i % 3], "channel": "app",
            "received_at": f"2025-02-{day:02d} {hour:02d}:00{tail}", "handling_unit_id": ORDER_HANDLERS[i % 4],
            "dispatched_at": f"2025-02-{day:02d} {hour + 1:02d}:{rng.randrange(60):02d}{tail}",
            "closed_at": f"2025-02-{day + 1:02d} 09:00{tail}", "due_at": f"2025-02-{day + 2:02d} 09:00{tail}"}  # fmt: skip
