"""Platform kit shared by every service: settings, database, auth and scope, errors, federation, health.

Nothing in this package knows any one service (checked by the import contract in pyproject.toml).
"""
