"""The developer command line: ``hotline up``, ``hotline token``, ``hotline migrate``."""
