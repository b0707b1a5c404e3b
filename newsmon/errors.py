"""The few exception types newsmon raises.

    NewsmonError
    ├── ConfigError      a config file is missing, unparsable or invalid (names file and field)
    ├── FetchError       a source or page could not be fetched or parsed (names source and URL)
    └── DeliveryError    an alert channel refused or failed a message (names channel)
"""


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""


class ConfigError(NewsmonError):
    """A config file is missing, unparsable or invalid."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")


class FetchError(NewsmonError):
    """A feed or page could not be fetched or used."""


class DeliveryError(NewsmonError):
    """An alert could not be delivered through a channel."""
