"""Errors a user can act on: the CLI prints them as one sentence, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or set-up; ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
