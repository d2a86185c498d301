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
