"""The kit's version: the one source (``pyproject.toml`` reads it, reports and certificates carry it)."""

__version__ = "0.2.0"
