"""The one exception type whose message is shown to a user as it is: one line, no traceback."""


class FieldkitError(Exception):
    """A failure the user can act on; the message is a complete sentence fragment, one line."""


class WrongPassphrase(FieldkitError):
    pass


class ChainError(FieldkitError):
    """Received journal entries that do not extend the chain we hold: nothing was applied."""
