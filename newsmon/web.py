"""`newsmon web`: the status page, each source's recent polls, /api/status, /metrics and /healthz.

Flask renders the pages and waitress serves them. Bound to a loopback address the page is open;
bound anywhere else it requires NEWSMON_WEB_TOKEN, given as a bearer token, as the password of
basic auth, or once as `?token=` (which sets a cookie).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, Response, abort, make_response, render_template_string, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from newsmon import keys, stats
from newsmon.errors import ConfigError
from newsmon.settings import Config
from newsmon.status import collect

log = logging.getLogger(__name__)

COOKIE = "newsmon_token"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>newsmon status</title>
<meta http-equiv="refresh" content="30">
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.bad{color:#b00;font-weight:bold}.ok{color:#070}</style>
</head><body>
<h1>newsmon <span id="health" class="{{ 'ok' if s.healthy else 'bad' }}">{{ 'healthy' if s.healthy else 'UNHEALTHY' }}</span></h1>
{% if s.problems %}<ul id="problems">{% for p in s.problems %}<li class="bad">{{ p.kind }}: {{ p.message }}</li>{% endfor %}</ul>{% endif %}
<h2>Queues</h2>
<table id="queues"><tr><th>queue</th><th>depth</th><th>oldest job (s)</th><th>in/min</th><th>out/min</th><th>running</th><th>failed</th></tr>
{% for name, q in s.queues.items() %}<tr data-queue="{{ name }}"><td>{{ name }}</td><td class="depth">{{ q.depth }}</td><td>{{ q.oldest_age_seconds or '-' }}</td><td>{{ q.in_per_minute }}</td><td>{{ q.out_per_minute }}</td><td>{{ q.started }}</td><td>{{ q.failed }}</td></tr>{% endfor %}</table>
<h2>Workers</h2>
<table id="workers"><tr><th>host</th><th>pid</th><th>queues</th><th>state</th><th>job</th><th>heartbeat (s ago)</th></tr>
{% for w in s.workers %}<tr><td>{{ w.host }}</td><td>{{ w.pid }}</td><td>{{ w.queues|join(', ') }}</td><td>{{ w.state }}</td><td>{{ w.current_job or '-' }}</td><td>{{ w.last_heartbeat_age_seconds }}</td></tr>{% else %}<tr><td colspan="6" class="bad">no worker alive</td></tr>{% endfor %}</table>
<h2>Scheduler</h2><p id="scheduler" class="{{ 'ok' if s.scheduler.alive else 'bad' }}">{{ 'alive, leader ' ~ s.scheduler.leader if s.scheduler.alive else 'not running' }}</p>
<h2>Sources</h2>
<table id="sources"><tr><th>source</th><th>outlet</th><th>kind</th><th>status</th><th>failure</th><th>last poll</th><th>last success</th><th>failures</th><th>backoff (s)</th></tr>
{% for src in s.sources if src.enabled %}<tr data-source="{{ src.id }}"><td><a href="{{ url('source', src.id) }}">{{ src.id }}</a></td><td>{{ src.outlet }}</td><td>{{ src.kind }}</td><td>{{ src.status or 'never polled' }}</td><td>{{ src.failure or '' }}</td><td>{{ when(src.last_poll) }}</td><td>{{ when(src.last_success) }}</td><td>{{ src.consecutive_failures }}</td><td>{{ src.backoff_remaining_seconds or '' }}</td></tr>{% endfor %}</table>
<h2>Deliveries (last 24 h)</h2>
<table id="deliveries"><tr><th>channel</th><th>sent</th><th>retried</th><th>failed</th></tr>
{% for c, d in s.deliveries.items() %}<tr><td>{{ c }}</td><td>{{ d.sent_24h }}</td><td>{{ d.retried_24h }}</td><td>{{ d.failed }}</td></tr>{% endfor %}</table>
<h2>Recent stories</h2>
<table id="stories"><tr><th>processed</th><th>outlet</th><th>title</th><th>topics</th><th>cluster</th><th>kind</th></tr>
{% for st in stories %}<tr><td>{{ st.processed }}</td><td>{{ st.outlet }}</td><td lang="{{ st.language }}" dir="auto"><a href="{{ st.url }}">{{ st.title }}</a></td><td>{{ st.topics|map(attribute='topic')|join(', ') }}</td><td>{{ st.cluster_id }}</td><td>{{ st.dedupe_kind }}</td></tr>{% endfor %}</table>
</body></html>"""

SOURCE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ source_id }} polls</title></head><body>
<p><a href="{{ url('index') }}">back</a></p><h1>Recent polls of {{ source_id }}</h1>
<table id="polls" border="1"><tr><th>at</th><th>status</th><th>failure</th><th>HTTP</th><th>bytes</th><th>items</th><th>new</th><th>seconds</th><th>error</th></tr>
{% for p in polls %}<tr><td>{{ when(p.at) }}</td><td>{{ p.status }}</td><td>{{ p.failure or '' }}</td><td>{{ p.http or '' }}</td><td>{{ p.bytes }}</td><td>{{ p.items }}</td><td>{{ p.new }}</td><td>{{ p.seconds }}</td><td>{{ p.error or '' }}</td></tr>{% endfor %}</table>
</body></html>"""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _when(value: float | None) -> str:
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class _Collector:
    """Prometheus metrics computed from the status at each scrape."""

    def __init__(self, config: Config, conn: redis.Redis) -> None:
        self.config, self.conn = config, conn

    def collect(self) -> Any:
        status = collect(self.config, self.conn)
        depth = GaugeMetricFamily("newsmon_queue_depth", "Jobs waiting in a queue", labels=["queue"])
        oldest = GaugeMetricFamily("newsmon_queue_oldest_job_age_seconds", "Age of the oldest waiting job",
                                   labels=["queue"])
        failed = GaugeMetricFamily("newsmon_queue_failed_jobs", "Jobs in the failed registry", labels=["queue"])
        for name, q in status["queues"].items():
            depth.add_metric([name], q["depth"])
            oldest.add_metric([name], q["oldest_age_seconds"] or 0)
            failed.add_metric([name], q["failed"])
        workers = GaugeMetricFamily("newsmon_workers_alive", "Workers with a recent heartbeat")
        workers.add_metric([], len(status["workers"]))
        healthy = GaugeMetricFamily("newsmon_healthy", "1 when no admin problem is open")
        healthy.add_metric([], 1 if status["healthy"] else 0)
        outcomes = ("ok", "unchanged", "empty", "stale", "error")
        names = [f"polls:{o}" for o in outcomes] + ["stories:processed"] + [
            f"topic:{t}" for t in self.config.keywords.topics]
        day = stats.totals(self.conn, names, 24 * 60)
        polls = CounterMetricFamily("newsmon_polls_24h", "Polls by outcome, last 24 h", labels=["status"])
        for outcome in outcomes:
            polls.add_metric([outcome], day[f"polls:{outcome}"])
        stories = CounterMetricFamily("newsmon_stories_processed_24h", "Stories processed, last 24 h")
        stories.add_metric([], day["stories:processed"])
        sent = CounterMetricFamily("newsmon_alerts_sent_24h", "Alerts sent per channel, last 24 h", labels=["channel"])
        retried = CounterMetricFamily("newsmon_alerts_retried_24h", "Failed delivery attempts per channel, last 24 h",
                                      labels=["channel"])
        dead = GaugeMetricFamily("newsmon_alerts_failed", "Deliveries failed after their last retry", labels=["channel"])
        for channel, d in status["deliveries"].items():
            sent.add_metric([channel], d["sent_24h"])
            retried.add_metric([channel], d["retried_24h"])
            dead.add_metric([channel], d["failed"])
        matches = CounterMetricFamily("newsmon_topic_matches_24h", "Stories matching each topic, last 24 h",
                                      labels=["topic"])
        for topic in self.config.keywords.topics:
            matches.add_metric([topic], day[f"topic:{topic}"])
        yield from (depth, oldest, failed, workers, healthy, polls, stories, sent, retried, dead, matches)


def create_app(config: Config, conn: redis.Redis, recent_stories: Callable[[int], list[dict[str, Any]]],
               host: str = "127.0.0.1", token: str | None = None) -> Flask:
    """The Flask app.

    Raises:
        ConfigError: bound to a non-loopback address without a token.
    """
    if not _loopback(host) and not token:
        raise ConfigError("NEWSMON_WEB_TOKEN", "", f"set a token to serve the status page on {host}")
    app = Flask("newsmon")
    registry = CollectorRegistry()
    registry.register(_Collector(config, conn))

    @app.before_request
    def _guard() -> Response | None:
        if token is None or request.path == "/healthz":
            return None
        offered = request.args.get("token") or request.cookies.get(COOKIE)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = header.removeprefix("Bearer ")
        elif request.authorization and request.authorization.password:
            offered = request.authorization.password
        if offered and hmac.compare_digest(offered, token):
            return None
        response = make_response("token required\n", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="newsmon"'
        return response

    @app.after_request
    def _remember(response: Response) -> Response:
        if token and request.args.get("token") and response.status_code < 400:
            response.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict")
        return response

    def page(template: str, **values: Any) -> str:
        from flask import url_for

        return render_template_string(template, url=lambda name, *a: url_for(name, source_id=a[0]) if a
                                      else url_for(name), when=_when, **values)

    @app.get("/")
    def index() -> str:
        return page(PAGE, s=collect(config, conn), stories=recent_stories(30))

    @app.get("/sources/<source_id>")
    def source(source_id: str) -> str:
        if config.source(source_id) is None:
            abort(404)
        polls = [json.loads(p) for p in conn.lrange(keys.poll_history(source_id), 0, -1)]
        return page(SOURCE_PAGE, source_id=source_id, polls=polls)

    @app.get("/api/status")
    def api_status() -> Response:
        return Response(json.dumps(collect(config, conn), default=str), mimetype="application/json")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            status = collect(config, conn)
        except redis.RedisError as exc:
            return Response(f"redis unreachable: {type(exc).__name__}\n", status=503, mimetype="text/plain")
        body = "ok\n" if status["healthy"] else "".join(f"{p['id']}\n" for p in status["problems"])
        return Response(body, status=200 if status["healthy"] else 503, mimetype="text/plain")

    return app


def serve(app: Flask, host: str, port: int) -> None:
    """Serve with waitress until interrupted."""
    from waitress import serve as waitress_serve

    log.info("status page on http://%s:%d/", host, port)
    waitress_serve(app, host=host, port=port, threads=4, ident="newsmon")
