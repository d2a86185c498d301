"""The committed supergraph is the one the running gateway composes from the running subgraphs (their
`_service { sdl }`), not only the one printed in-process by `make schema`."""

from __future__ import annotations

import re

from hotline.cli.schema_files import REPO_ROOT, SUPERGRAPH
from hotline.cli.stack import SERVICES


def test_the_gateway_composes_at_start_up_exactly_the_committed_supergraph(stack):
    composed = (stack.log_dir / "supergraph.graphql").read_text()
    # The running subgraphs listen on free ports; the committed file records the default ones.
    for spec in SERVICES:
        composed = composed.replace(
            f'url: "{stack.service_url(spec.name)}/graphql"', f'url: "http://127.0.0.1:{spec.port}/graphql"'
        )
    assert re.findall(r'@join__graph\(name: "(\w+)", url: "([^"]+)"\)', composed)
    assert composed == (REPO_ROOT / SUPERGRAPH).read_text(), "run `make schema`"
