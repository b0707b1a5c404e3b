"""newsmon kernel: settings, data models, the Redis connection and the CLI shared by every role."""

__version__ = "0.1.0"
