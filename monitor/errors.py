"""The exception tree: every error we raise on purpose is a MonitorError."""


class MonitorError(Exception):
    """Base class; its message is one sentence that names the fix."""


class ConfigError(MonitorError):
    """config.toml is missing, malformed or invalid."""


class LockHeldError(MonitorError):
    """Another run holds the run lock."""


class SourceError(MonitorError):
    """A data source answered with something we cannot use."""


class MalformedResponse(SourceError):
    """A response whose shape is not what the source's parser knows: names the field."""
