"""UserError: a mistake in the command line or its inputs."""

__all__ = ["UserError"]


class UserError(Exception):
    """Reported as one line on stderr with exit code 2, no traceback."""
