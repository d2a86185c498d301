"""Scoring service: not started yet — it is built in its own issue (see the README's roadmap).

Until then it has no schema, no migrations and no subgraph, and the gateway does not compose it.
"""
