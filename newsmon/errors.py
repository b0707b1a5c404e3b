"""The few exception types newsmon raises.

    NewsmonError
    ├── ConfigError      a config file is missing, unparsable or invalid (names file and field)
    ├── FetchError       a source or page could not be fetched or parsed (names source and URL)
    ├── DeliveryError    an alert channel refused or failed a message (names channel)
    ├── UsageError       a command-line value that cannot be used (names the option and what it accepts)
    ├── MissingExtra     the configuration needs an optional extra that is not installed (names it)
    └── NothingRunning   no REDIS_URL and nothing started by `newsmon run` under the data directory
"""

from newsmon.paths import display_path


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


class UsageError(NewsmonError):
    """A command-line value that cannot be used: exit 2, as for argparse's own errors."""


class MissingExtra(NewsmonError):
    """What the configuration asks for needs an optional part of newsmon that is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        self.extra = extra
        super().__init__(f"{what} needs newsmon's `{extra}` extra, which is not installed: "
                         f"pip install 'newsmon[{extra}]' (in a checkout: pip install -e '.[{extra}]')")


class NothingRunning(NewsmonError):
    """No REDIS_URL (or DATABASE_URL) and nothing started by `newsmon run` under the data directory."""

    def __init__(self, data_dir: object, what: str = "") -> None:
        self.data_dir = data_dir
        where = display_path(data_dir)  # type: ignore[arg-type]
        if what == "archive":
            super().__init__(f"there is no archive under {where} yet: start newsmon with `newsmon run` "
                             f"(or set DATABASE_URL)")
        else:
            super().__init__(f"nothing is running under {where}: start it with `newsmon run` "
                             f"(or set REDIS_URL and DATABASE_URL)")
