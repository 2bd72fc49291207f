"""UserError: a mistake in the command line or its inputs."""

import os

__all__ = ["UserError", "check_output", "os_error"]


class UserError(Exception):
    """Reported as one line on stderr with exit code 2, no traceback."""


def os_error(e: OSError, what: str) -> UserError:
    """'cannot write out/m.pyprune: no such folder: out' from an OSError."""
    reason = e.strerror or str(e)
    return UserError(f"cannot {what}: {reason}: {e.filename}" if e.filename else f"cannot {what}: {reason}")


def check_output(path: str) -> None:
    """Refuses an output file whose folder is missing before any work is done (the same words
    as pyprune.pack.save would use after it)."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path}: {'not a folder' if os.path.exists(folder) else 'no such folder'}: {folder}")
