"""newsmon kernel: what every role shares (settings, models, keys, normalization, URLs, the Redis
connection, the live config); the roles and the application are installed beside it
(`newsmon.crawler`, `newsmon.workers`, `newsmon.alerts`, `newsmon.app`) from their own top-level folders."""

__version__ = "0.1.0"
