"""Domain data shared by several services as data, not as code copies: the measure catalog and the
formula language indicators are written in. Knows no service (checked by the import contract)."""
