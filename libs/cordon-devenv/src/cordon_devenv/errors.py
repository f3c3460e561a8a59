"""Exception raised when local infrastructure cannot be started, reused or stopped."""


class InfraError(RuntimeError):
    """A local server could not be fetched, started, reached or stopped; the message says why."""
