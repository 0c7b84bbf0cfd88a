"""The one exception type whose message is shown to a user as it is: one line, no traceback."""


class FieldkitError(Exception):
    """A failure the user can act on; the message is a complete sentence fragment, one line."""


class WrongPassphrase(FieldkitError):
    pass


class ChainError(FieldkitError):
    """Received journal entries that do not extend the chain we hold: nothing was applied."""


def disk_refused(error: BaseException) -> str | None:
    """"full" or "failed" when the disk refused a write (SQLite's "database or disk is full" or the
    system's ENOSPC; SQLite's "disk I/O error", which a full disk also gives when SQLite grows its
    shared-memory index), else None. Such a write was rolled back: nothing of it was kept."""
    if isinstance(error, OSError):
        return "full" if error.errno == 28 else None  # ENOSPC
    if type(error).__name__ != "OperationalError":  # any SQLite driver's
        return None
    if "database or disk is full" in str(error):
        return "full"
    return "failed" if "disk I/O error" in str(error) else None
