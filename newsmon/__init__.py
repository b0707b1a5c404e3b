"""newsmon kernel: what every role shares (settings, models, keys, normalization, URLs, the Redis
connection, the live config); the application (CLI, web, demo, supervisor) lives in `newsmon.app`."""

__version__ = "0.1.0"
