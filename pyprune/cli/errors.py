"""UserError: a mistake in the command line or its inputs."""

__all__ = ["UserError", "os_error"]


class UserError(Exception):
    """Reported as one line on stderr with exit code 2, no traceback."""


def os_error(e: OSError, what: str) -> UserError:
    """'cannot write out/m.pyprune: no such folder: out' from an OSError."""
    reason = e.strerror or str(e)
    return UserError(f"cannot {what}: {reason}: {e.filename}" if e.filename else f"cannot {what}: {reason}")
