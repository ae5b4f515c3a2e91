"""Errors that end a command with exit 2 and a one-line message (never a traceback)."""


class UsageError(Exception):
    """Bad arguments, bad config, or an input that is not a dataset."""


class NotADatasetError(UsageError):
    """The path exists but holds no dataset detlint can read."""


class OutOfMemoryError(MemoryError):
    """Memory ran out while reading a known file: the message can name it."""

    def __init__(self, path: object) -> None:
        self.path = str(path)
        super().__init__(f"while reading {self.path}")


def out_of_memory(error: MemoryError, command: str) -> str:
    """The message for a MemoryError, whose own str is usually empty: what ran out, and on what.

    ``out of memory while reading data/labels/x.txt (detlint check data)`` when a file is known,
    else ``out of memory while running detlint check data`` plus numpy's detail when it gave one.
    """
    if isinstance(error, OutOfMemoryError):
        return f"out of memory while reading {error.path} ({command})"
    detail = str(error).strip()
    return f"out of memory while running {command}" + (f": {detail}" if detail else "")
