"""Device identity, discovery and the sync protocol (knows nothing about screens)."""
