"""newsmon's config: one schema module per file, the loader apart.

- `sources` (sources.yaml), `keywords` (keywords.yaml), `alerts` (alerts.yaml), `pipeline` (the optional
  newsmon.yaml): pydantic models, each with the rules of its own file;
- `common`: what the schemas share (strict frozen models, the id pattern, time zones);
- `loader`: reading a directory (YAML without aliases, `${VAR}` in every file, size limit), validation
  with errors naming file and field, the checks across files (a desk's topics and channels exist), and
  the `Config` it returns;
- `runtime`: deployment facts from the environment (REDIS_URL, DATABASE_URL, NEWSMON_DATA_DIR).

Everything public is importable from `newsmon.settings` itself.
"""

from newsmon.settings.alerts import (
    ALERTS_FILE,
    AdminSettings,
    AlertsFile,
    AppriseChannel,
    Breaking,
    Channel,
    ConsoleChannel,
    Desk,
    EmailChannel,
    OutboxChannel,
    QuietHours,
    RetrySettings,
    Route,
    SmtpSettings,
    Throttle,
)
from newsmon.settings.common import (
    ID_PATTERN,
    check_zone,
)
from newsmon.settings.keywords import (
    KEYWORDS_FILE,
    Alias,
    AliasSpec,
    KeywordsFile,
    Near,
    Topic,
    alias_term,
)
from newsmon.settings.loader import (
    CONFIG_FILES,
    MAX_CONFIG_BYTES,
    Config,
    default_config_dir,
    expand_env,
    load_config,
    load_keywords,
    read_config_files,
)
from newsmon.settings.pipeline import (
    PIPELINE_FILE,
    ArchiveSettings,
    CrawlerSettings,
    DedupeSettings,
    EventSettings,
    PipelineFile,
    WorkerSettings,
)
from newsmon.settings.runtime import (
    Runtime,
)
from newsmon.settings.sources import (
    SOURCE_KINDS,
    SOURCES_FILE,
    Outlet,
    Source,
    SourceKind,
    SourcesFile,
)

__all__ = [
    "ALERTS_FILE",
    "CONFIG_FILES",
    "ID_PATTERN",
    "KEYWORDS_FILE",
    "MAX_CONFIG_BYTES",
    "PIPELINE_FILE",
    "SOURCES_FILE",
    "SOURCE_KINDS",
    "AdminSettings",
    "AlertsFile",
    "Alias",
    "AliasSpec",
    "AppriseChannel",
    "ArchiveSettings",
    "Breaking",
    "Channel",
    "Config",
    "ConsoleChannel",
    "CrawlerSettings",
    "DedupeSettings",
    "Desk",
    "EmailChannel",
    "EventSettings",
    "KeywordsFile",
    "Near",
    "OutboxChannel",
    "Outlet",
    "PipelineFile",
    "QuietHours",
    "RetrySettings",
    "Route",
    "Runtime",
    "SmtpSettings",
    "Source",
    "SourceKind",
    "SourcesFile",
    "Throttle",
    "Topic",
    "WorkerSettings",
    "alias_term",
    "check_zone",
    "default_config_dir",
    "expand_env",
    "load_config",
    "load_keywords",
    "read_config_files",
]
