"""The application layer: what a person runs and reads, on top of the roles.

The CLI (`cli` and its `cli_*` command modules), the status web page (`web`), the demo and its replay
site (`demo`, `replay`), and the supervisor that `newsmon run` uses to start and restart role processes.
Presentation (printed text, HTML) lives here. It may import the roles (crawler, workers, alerts) and the
kernel (`newsmon.*`); neither the kernel nor a role imports anything from here (tests/test_cli.py).
"""
