"""Exceptions that the CLI turns into one-line messages instead of tracebacks."""


class FervidError(Exception):
    """A user-facing error: bad input, a file that does not fit, a failed run.

    The message must name the file (or setting) and the problem on one line.
    """


class PretrainedMismatchError(FervidError):
    """A weights file whose keys or shapes do not fit the model."""
