"""Errors that end a command with exit 2 and a one-line message (never a traceback)."""


class UsageError(Exception):
    """Bad arguments, bad config, or an input that is not a dataset."""


class NotADatasetError(UsageError):
    """The path exists but holds no dataset detlint can read."""
