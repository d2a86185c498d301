"""The four subgraph services. None imports another (checked by import-linter)."""
