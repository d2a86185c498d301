"""The gateway image holds every module the gateway imports (a missing one fails only when the image starts)."""

from __future__ import annotations

import re
from pathlib import Path

from hotline.cli.stack import GATEWAY_DIR, REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "gateway.Dockerfile"


def local_imports(module: Path) -> set[str]:
    """The gateway's own modules ``module`` imports, directly or through each other."""
    found: set[str] = set()
    pending = [module]
    while pending:
        text = pending.pop().read_text()
        for name in re.findall(r"""(?:from|import)\s*\(?\s*['"]\./([\w.-]+\.mjs)['"]""", text):
            if name not in found:
                found.add(name)
                pending.append(module.parent / name)
    return found


def copied_files() -> set[str]:
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY ") and "--from" not in line]
    return {name for line in lines for name in line.split()[1:-1]}


def test_the_image_copies_every_module_the_server_imports():
    modules = local_imports(GATEWAY_DIR / "server.mjs")
    assert {"compose.mjs", "trusted-documents.mjs"} <= modules
    assert modules | {"server.mjs"} <= copied_files(), sorted(modules - copied_files())


def test_the_check_sees_a_module_left_out(tmp_path):
    (tmp_path / "server.mjs").write_text("import { a } from './a.mjs';\n")
    (tmp_path / "a.mjs").write_text("import { b } from './b.mjs';\nexport const a = 1;\n")
    (tmp_path / "b.mjs").write_text("export const b = 2;\n")
    assert local_imports(tmp_path / "server.mjs") == {"a.mjs", "b.mjs"}
    assert not {"a.mjs", "b.mjs"} <= copied_files()
