"""Shared fixtures: a real Redis, a real SMTP server, a chat webhook receiver, the replay site, roles."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from aiosmtpd.controller import Controller

from newsmon.app.replay import Article, Feed, ReplaySite

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED_CONFIG = ROOT / "config"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts newsmon's role processes (the `roles` fixture) is end-to-end, wherever it lives:
    `-m "not e2e"` leaves it out of the fast subset."""
    for item in items:
        if "roles" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: twice the cores, at most 8 (and so at most 8 Redis databases below
    NEWSMON_TEST_REDIS_URL's): the tests mostly wait on real processes, so two share a core well."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Redis ----------------------------------------------------------------------------------------


def worker_database(url: str, worker: str | None) -> str:
    """The Redis database a pytest-xdist worker uses: NEWSMON_TEST_REDIS_URL's database for the first
    (gw0), the ones below it for the others (gw1 the next lower, ...), so parallel workers never flush each
    other's keys."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    if not worker or not worker.startswith("gw"):
        return url
    index = int(worker[2:])
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    unix = parts.scheme == "unix"
    base = int((query.get("db", ["0"])[0] if unix else parts.path.strip("/")) or 0)
    if base - index < 0:
        raise pytest.UsageError(f"NEWSMON_TEST_REDIS_URL's database {base} leaves none for xdist worker "
                                f"{worker}: name a higher one (15) or run fewer workers")
    if unix:
        return f"unix://{parts.path}?{urlencode({**query, 'db': [str(base - index)]}, doseq=True)}"
    return urlunsplit(parts._replace(path=f"/{base - index}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """NEWSMON_TEST_REDIS_URL (a database the tests may flush; one per xdist worker, counting down), else a
    private embedded Redis."""
    explicit = os.environ.get("NEWSMON_TEST_REDIS_URL")
    if explicit:
        yield worker_database(explicit, os.environ.get("PYTEST_XDIST_WORKER"))
        return
    from newsmon.redis_conn import EmbeddedRedis

    directory = tempfile.mkdtemp(prefix="newsmon-test-redis-")
    server = EmbeddedRedis(Path(directory), persist=False).start()
    yield server.url
    server.stop(save=False)
    shutil.rmtree(directory, ignore_errors=True)


def db_clients(conn: redis.Redis, **kwargs: Any) -> list[dict[str, Any]]:
    """CLIENT LIST, of this connection's database only: the list is the server's, and other tests (xdist
    workers) may run roles on other databases of the same server."""
    db = str(conn.connection_pool.connection_kwargs.get("db", 0))
    return [c for c in conn.client_list(**kwargs) if str(c.get("db")) == db]


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to the test Redis, flushed before and after the test."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


# --- SMTP -----------------------------------------------------------------------------------------


class Mailbox:
    """Collects messages received by the test SMTP server."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the bytes received, for decoders other than Python's
        self.logins: list[tuple[str, str]] = []
        self.on_message: Callable[[EmailMessage], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.raw.append(envelope.content)
        self.messages.append(message)  # type: ignore[arg-type]
        if self.on_message:
            self.on_message(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback that can be stopped and started on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 and its key, made for this test run."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class TlsSmtpServer(SmtpServer):
    """An SMTP server that requires STARTTLS and AUTH (user `desk`, password `s3cret`)."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.cert_file, self.key_file = _self_signed(directory)
        self.mailbox.logins = []

    def start(self) -> None:
        import ssl

        from aiosmtpd.smtp import AuthResult, LoginPassword

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        mailbox = self.mailbox

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            if isinstance(data, LoginPassword):
                user, password = data.login.decode(), data.password.decode()
                if (user, password) == ("desk", "s3cret"):
                    mailbox.logins.append((user, password))
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, auth_required=True, authenticator=authenticate,
                                     auth_require_tls=True)
        self.controller.start()


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[TlsSmtpServer]:
    server = TlsSmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()


# --- chat webhook receiver -------------------------------------------------------------------------


class WebhookReceiver:
    """A local HTTP receiver for Apprise json:// posts; records each JSON body."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.attempts = 0
        self.status = 200
        self.script: list[int] = []  # statuses to answer first, one per request, then `status`
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.attempts += 1
                status = receiver.script.pop(0) if receiver.script else receiver.status
                if status == 200:
                    receiver.posts.append(json.loads(body))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


# --- replay site ----------------------------------------------------------------------------------


@pytest.fixture
def replay() -> Iterator[ReplaySite]:
    site = ReplaySite()
    site.start()
    yield site
    site.stop()


def make_article(path: str, title: str, paragraphs: list[str], language: str = "en",
                 outlet: str = "Test Outlet", published: str | None = None) -> Article:
    """An article published an hour ago, unless `published` says when."""
    from datetime import datetime, timedelta

    when = datetime.fromisoformat(published) if published else datetime.now(UTC) - timedelta(hours=1)
    return Article(path=path, title=title, paragraphs=paragraphs, language=language, outlet=outlet,
                   published=when)


def add_feed(site: ReplaySite, path: str, articles: list[Article], language: str = "en",
             outlet: str = "Test Outlet") -> Feed:
    return site.add_feed(Feed(path=path, title=f"{outlet} feed", language=language, outlet=outlet,
                              articles=list(articles)))


# --- the web page -------------------------------------------------------------------------------------


def start_web_process(args: list[str], env: dict[str, str], log_path: Path,
                      cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """`newsmon <args> web --port 0 ...`: the system picks a free port (no race with parallel tests for a
    port chosen in advance) and the server logs it once it listens, which is the readiness signal."""
    import re

    log_file = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "newsmon", *args, "--port", "0"], env=env, cwd=cwd,
                               stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()

    def listening() -> int | None:
        found = re.search(r"status page on http://[^:]+:(\d+)/", log_path.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise AssertionError(f"newsmon web exited with {process.returncode}: "
                                 f"{log_path.read_text(errors='replace')[-2000:]}")
        return None

    try:
        port = wait_for(listening, timeout=60, what="the web server to listen")
    except BaseException:
        process.kill()  # a server that never said it listens is not left running after the test
        process.wait(timeout=30)
        raise
    return process, port


# --- archive ---------------------------------------------------------------------------------------


def archive_story(archive: Any, story: Any, topics: list[Any], content_hash: str, config_version: str,
                  cluster_id: str | None = None) -> bool:
    """Archive one story as the workers do (Archive.record_many); True when it was new, False when the
    archive already held it (a retried job)."""
    from newsmon.workers.archive import Record

    outcome = archive.record_many([Record(story, topics, content_hash, config_version, cluster_id or story.id,
                                          "new")])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome[1] != "url"


def polls_total(conn: redis.Redis, source_id: str) -> int:
    from newsmon import keys

    return int(conn.hget(keys.source_state(source_id), "polls_total") or 0)


def poll_finished(conn: redis.Redis, source_id: str, before: int, timeout: float = 60) -> None:
    """Wait for the end of a source's poll: recorded (its polls_total past `before`) and its lease released,
    which comes just after (a poll asked for in between finds the source busy)."""
    from newsmon import keys

    wait_for(lambda: polls_total(conn, source_id) > before and not conn.exists(keys.poll_lock(source_id)),
             timeout=timeout, what=f"the poll of {source_id} to end")


def settled(conn: redis.Redis, *queues: str, timeout: float = 60) -> None:
    """Wait until the RQ queues have nothing queued, running or waiting for a retry: the readiness signal
    that nothing more will be processed or sent, so a test can assert that something did not happen."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    from newsmon import keys
    from newsmon.serializer import JobSerializer

    def idle() -> bool:
        for name in queues or (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE):
            queue = Queue(name, connection=conn, serializer=JobSerializer)
            registries = (StartedJobRegistry(queue=queue), ScheduledJobRegistry(queue=queue))
            if queue.count or any(registry.count for registry in registries):
                return False
        return True

    wait_for(idle, timeout=timeout, what=f"the queues {queues or 'process, alerts'} to settle")


# --- the process and alerts roles in this process -------------------------------------------------


def run_decisions() -> dict[str, int]:
    """Run the `decide_stories` jobs the workers handed to the alerts role, as an alerts worker would,
    with the installed job context; the route jobs they enqueue stay queued for the test to read.
    Returns the desks alerted per story id."""
    from rq import Queue

    from newsmon import jobcontext, keys
    from newsmon.alerts.decide import decide_stories
    from newsmon.serializer import JobSerializer

    conn = jobcontext.current().redis
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer)
    alerted: dict[str, int] = {}
    for job in queue.jobs:
        if job.func_name != keys.DECIDE_JOB:
            continue
        queue.remove(job.id)
        for decided in decide_stories(*job.args)["stories"]:
            alerted[decided["story"]] = alerted.get(decided["story"], 0) + decided["alerts"]
        job.delete()
    return alerted


def process_and_decide(payload: dict[str, Any]) -> dict[str, Any]:
    """`process_story`, then the alerts role's decisions on it: its result with `alerts`, the desks
    handed the story (or a breaking event of it)."""
    from newsmon.workers.jobs import process_story

    result = process_story(payload)
    return {**result, "alerts": run_decisions().get(result["story"], 0)}


def batch_and_decide(payloads: list[Any]) -> dict[str, Any]:
    """`process_stories`, then the alerts role's decisions: each story's result with `alerts`."""
    from newsmon.workers.jobs import process_stories

    result = process_stories(payloads)
    alerted = run_decisions()
    return {**result, "stories": [{**r, "alerts": alerted.get(r["story"], 0)} for r in result["stories"]]}


# --- config directories ---------------------------------------------------------------------------


def write_config(
    directory: Path,
    sources: list[dict[str, Any]],
    alerts: dict[str, Any],
    keywords: Path = SHIPPED_CONFIG / "keywords.yaml",
    outlets: dict[str, Any] | None = None,
) -> Path:
    """Write a config dir with the given sources, outlet catalogue and alerts and the shipped keywords."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(yaml.safe_dump({"outlets": outlets or {}, "sources": sources},
                                                           allow_unicode=True))
    (directory / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True))
    shutil.copyfile(keywords, directory / "keywords.yaml")
    return directory


def feed_source(source_id: str, url: str, language: str = "en", interval: int = 60,
                outlet: str = "Test Outlet") -> dict[str, Any]:
    return {"id": source_id, "name": source_id, "outlet": outlet, "language": language, "kind": "feed",
            "url": url, "interval": interval, "jitter": 0}


# --- role processes -------------------------------------------------------------------------------


class Roles:
    """Starts newsmon role processes against the test Redis and stops them after the test."""

    def __init__(self, redis_url: str, workdir: Path) -> None:
        self.redis_url = redis_url
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.handles: list[Any] = []

    def start(self, name: str, config_dir: Path, *args: str,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = dict(os.environ, REDIS_URL=self.redis_url, NEWSMON_DATA_DIR=str(self.workdir / "data"),
                   **(env or {}))
        log_path = self.workdir / f"{name}.log"
        handle = log_path.open("ab")  # closed in stop_all, after the process is gone
        self.handles.append(handle)
        process = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
            env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True,
        )
        self.processes[name] = process
        self.logs[name] = log_path
        return process

    def log(self, name: str) -> str:
        return self.logs[name].read_text(encoding="utf-8", errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the role and whatever it forked (RQ's scheduler process), as a machine failure would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            try:
                os.killpg(process.pid, signal.SIGKILL)  # nothing the role forked outlives the test
            except (ProcessLookupError, PermissionError):
                pass
        for handle in self.handles:
            handle.close()


@pytest.fixture
def roles(
    redis_url: str, redis_conn: redis.Redis, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Roles]:
    started = Roles(redis_url, tmp_path)
    yield started
    started.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for name in started.logs:
            sys.stderr.write(f"\n----- {name} log -----\n{started.log(name)[-6000:]}\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- capabilities that CI must have ---------------------------------------------------------------

STRICT = os.environ.get("NEWSMON_TEST_STRICT") == "1"  # set by .ci/run: a missing capability fails


def require(available: bool, reason: str) -> None:
    """Skip a test whose capability is missing here, visibly; under NEWSMON_TEST_STRICT=1 (CI) fail."""
    if available:
        return
    if STRICT:
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


ARCHIVE_BACKENDS = ["sqlite", "postgresql"]  # PostgreSQL cases always exist; without a server they skip


@pytest.fixture(params=ARCHIVE_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty archive database URL: a SQLite file, or a private schema on NEWSMON_TEST_DATABASE_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.sqlite'}"
        return
    base = os.environ.get("NEWSMON_TEST_DATABASE_URL")
    require(bool(base), "PostgreSQL: set NEWSMON_TEST_DATABASE_URL (.ci/run does)")
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(str(base).replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        require(False, f"PostgreSQL at {base} does not answer ({str(exc.orig).splitlines()[0][:160]})")
    try:
        yield str(base) + ("&" if "?" in str(base) else "?") + f"options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def queued_stories(conn: redis.Redis) -> list[dict[str, Any]]:
    """The stories waiting on the `process` queue, in order (a job holds one story or a poll's batch)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    from newsmon import keys

    out: list[dict[str, Any]] = []
    for job in Queue(keys.PROCESS_QUEUE, connection=conn, serializer=JSONSerializer).jobs:
        out += job.args[0] if job.func_name == keys.PROCESS_BATCH_JOB else [job.args[0]]
    return out
