"""The exception tree: every error we raise on purpose is a MonitorError.

Each class carries the exit code the command line gives it: 2 for what the user
must fix before anything can run (the config, a path, the database file), 1 for a
run or command that failed, 3 for a held lock.
"""


class MonitorError(Exception):
    """Base class; its message is one sentence that names the fix."""

    exit_code = 1


class ConfigError(MonitorError):
    """config.toml is missing, malformed or invalid, or names a path we cannot use."""

    exit_code = 2


class StoreError(MonitorError):
    """The database file cannot be used as asked: not ours, newer, damaged, not writable."""

    exit_code = 2


class DiskFullError(MonitorError):
    """The disk filled up while writing; what was written before is kept."""

    exit_code = 1


class LockHeldError(MonitorError):
    """Another run holds the run lock."""

    exit_code = 3


class Interrupted(BaseException):
    """SIGINT or SIGTERM: the command stops at a safe point; exits 128 + the signal number.

    Not an error, and like KeyboardInterrupt not an Exception: no ``except Exception``
    (a source's, a step's) can swallow it on its way out.
    """

    def __init__(self, signum: int, name: str):
        super().__init__(f"stopped by {name}")
        self.signum = signum
        self.exit_code = 128 + signum


class SourceError(MonitorError):
    """A data source answered with something we cannot use."""


class MalformedResponse(SourceError):
    """A response whose shape is not what the source's parser knows: names the field."""


class WrongWork(SourceError):
    """An answer about another work than the one asked for: never a count for the work asked."""

    def __init__(self, answered: str, asked: str | None = None):
        said = f" (asked for {asked})" if asked else ""
        super().__init__(f"answered for another work: {answered}{said}")
