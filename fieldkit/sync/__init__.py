"""Device identity, discovery and the sync protocol (knows nothing about screens)."""

# Fixed, so an address can be read out and typed where mDNS is blocked; enrolment listens on the next.
DEFAULT_PORT = 7300
ENROL_PORT = DEFAULT_PORT + 1
