"""fieldkit: an offline-first field clinic kit."""

__version__ = "0.1.0"
