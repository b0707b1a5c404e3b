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
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis
from flask import Flask, Response, abort, make_response, render_template, request
from markupsafe import Markup
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from newsmon import keys, probe, stats, websub
from newsmon.alerts.translate import page_glosses
from newsmon.app.cli_status import duration
from newsmon.errors import ConfigError
from newsmon.languages import NAMES
from newsmon.models import BreakingEvent
from newsmon.settings import Config
from newsmon.status import LEVELS, collect, load_for_status
from newsmon.urls import mask_secrets, mask_url, readable_url

log = logging.getLogger(__name__)

COOKIE = "newsmon_token"

def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def when_in(zone: ZoneInfo) -> Callable[[Any], str]:
    """A template filter: a time (epoch seconds, datetime or ISO text; naive means UTC) in `zone`, to the
    second, with the zone's offset as the CLI and alerts write it (2026-12-03 19:28:50 +03)."""

    def when(value: Any) -> str:
        if value in (None, "", 0):
            return "-"
        try:
            if isinstance(value, int | float):
                moment = datetime.fromtimestamp(value, tz=UTC)
            elif isinstance(value, datetime):
                moment = value
            else:
                moment = datetime.fromisoformat(str(value))
        except (ValueError, OverflowError, OSError):
            return str(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S ") + _offset(moment.astimezone(zone))

    return when


def _offset(moment: datetime) -> str:
    """+03, +0330 or -05 (what `%Z` gives for zones without an abbreviation)."""
    return moment.tzname() or moment.strftime("%z")


def url_pieces(url: str) -> Markup:
    """A URL as read on the page: decoded (readable_url), each path piece in its own <bdi> so that an Arabic
    slug reads right to left inside a left-to-right address instead of mixing with its neighbours."""
    shown = readable_url(url)
    scheme, sep, rest = shown.partition("://")
    if not sep:
        return Markup("<bdi>{}</bdi>").format(shown)
    pieces = rest.split("/")
    isolated = (Markup("<bdi>{}</bdi>").format(p) for p in pieces)
    return Markup("{}://").format(scheme) + Markup("/").join(isolated)


class _Collector:
    """Prometheus metrics computed from the status at each scrape.

    Rolling last-24-hour figures are gauges (they go down as minutes leave the window); only
    monotonic counters (per-source polls by outcome, kept in each source's state) end in `_total`.
    """

    def __init__(self, status: Callable[[], tuple[Config, dict[str, Any]]], conn: redis.Redis) -> None:
        self.status, self.conn = status, conn

    def collect(self) -> Any:
        config, status = self.status()
        depth = GaugeMetricFamily("newsmon_queue_depth", "Jobs waiting in a queue", labels=["queue"])
        oldest = GaugeMetricFamily("newsmon_queue_oldest_job_age_seconds", "Age of the oldest waiting job",
                                   labels=["queue"])
        failed = GaugeMetricFamily(
            "newsmon_queue_failed_jobs", "Jobs in the failed registry", labels=["queue"]
        )
        for name, q in status["queues"].items():
            depth.add_metric([name], q["depth"])
            oldest.add_metric([name], q["oldest_age_seconds"] or 0)
            failed.add_metric([name], q["failed"])
        workers = GaugeMetricFamily("newsmon_workers_alive", "Workers with a recent heartbeat")
        workers.add_metric([], len(status["workers"]))
        healthy = GaugeMetricFamily("newsmon_healthy", "1 when the level is healthy (no problem open)")
        healthy.add_metric([], 1 if status["healthy"] else 0)
        level = GaugeMetricFamily("newsmon_health_level", "0 healthy, 1 degraded, 2 unhealthy")
        level.add_metric([], LEVELS.index(status["level"]))
        problems = GaugeMetricFamily(
            "newsmon_problems", "Open problems by kind and level", labels=["kind", "level"]
        )
        counted: dict[tuple[str, str], int] = {}
        for p in status["problems"]:
            counted[(p["kind"], p["level"])] = counted.get((p["kind"], p["level"]), 0) + 1
        for (kind, lvl), n in sorted(counted.items()):
            problems.add_metric([kind, lvl], n)
        outcomes = ("ok", "unchanged", "empty", "stale", "error")
        names = (
            [f"polls:{o}" for o in outcomes]
            + ["stories:processed", "breaking:cluster", "breaking:surge"]
            + [f"topic:{t}" for t in config.keywords.topics]
        )
        day = stats.totals(self.conn, names, 24 * 60)
        polls = GaugeMetricFamily(
            "newsmon_polls_24h", "Polls by outcome, last 24 h (rolling)", labels=["status"]
        )
        for outcome in outcomes:
            polls.add_metric([outcome], day[f"polls:{outcome}"])
        stories = GaugeMetricFamily("newsmon_stories_processed_24h", "Stories processed, last 24 h (rolling)")
        stories.add_metric([], day["stories:processed"])
        sent = GaugeMetricFamily("newsmon_alerts_sent_24h", "Alerts sent per channel, last 24 h (rolling)",
                                 labels=["channel"])
        retried = GaugeMetricFamily(
            "newsmon_alerts_retried_24h",
            "Failed delivery attempts per channel, last 24 h (rolling)",
            labels=["channel"],
        )
        dead = GaugeMetricFamily(
            "newsmon_alerts_failed", "Deliveries failed after their last retry", labels=["channel"]
        )
        for channel, d in status["deliveries"].items():
            sent.add_metric([channel], d["sent_24h"])
            retried.add_metric([channel], d["retried_24h"])
            dead.add_metric([channel], d["failed"])
        translation = status["translation"]
        glosses = GaugeMetricFamily("newsmon_glosses_24h", "Gloss texts by outcome, last 24 h (rolling): "
                                    "translated by the engine, from the cache, failed (timeouts included)",
                                    labels=["outcome"])
        for outcome in ("translated", "cached", "failed"):
            glosses.add_metric([outcome], translation[f"{outcome}_24h"])
        gloss_ms = GaugeMetricFamily("newsmon_gloss_call_mean_ms_24h",
                                     "Mean time of a call to the translation engine, last 24 h (rolling)")
        if translation["mean_ms"] is not None:
            gloss_ms.add_metric([], translation["mean_ms"])
        matches = GaugeMetricFamily(
            "newsmon_topic_matches_24h", "Stories matching each topic, last 24 h (rolling)", labels=["topic"]
        )
        for topic in config.keywords.topics:
            matches.add_metric([topic], day[f"topic:{topic}"])
        breaking_events = GaugeMetricFamily(
            "newsmon_breaking_events_24h",
            "Breaking events found, last 24 h (rolling): cluster (spreading across outlets) and surge",
            labels=["kind"],
        )
        for kind in ("cluster", "surge"):
            breaking_events.add_metric([kind], day[f"breaking:{kind}"])
        source_polls = CounterMetricFamily(
            "newsmon_source_polls",
            "Polls of a source by outcome, since it was first polled",
            labels=["source", "status"],
        )
        last_success = GaugeMetricFamily("newsmon_source_last_success_timestamp_seconds",
                                         "Unix time of the source's last successful poll (0: never)",
                                         labels=["source"])
        last_poll = GaugeMetricFamily("newsmon_source_last_poll_timestamp_seconds",
                                      "Unix time of the source's last poll (0: never)", labels=["source"])
        fails = GaugeMetricFamily(
            "newsmon_source_consecutive_failures", "Failed polls in a row", labels=["source"]
        )
        failing = GaugeMetricFamily(
            "newsmon_source_failing",
            "1 while the source counts as failing, by failure",
            labels=["source", "failure"],
        )
        failing_ids = {p["subject"] for p in status["problems"] if p["kind"] == "source-failing"}
        delay = HistogramMetricFamily(
            "newsmon_story_delay_seconds",
            "Seconds from a story's publication to newsmon's first sight of it (stage=seen) and to its first "
            "alert (stage=alert), stories of the last 24 h; sources whose clock is off are left out",
            labels=["source", "stage"],
        )
        clock_off = GaugeMetricFamily(
            "newsmon_source_clock_off",
            "1 when a source's publication times cannot be trusted (in the future, dates without times)",
            labels=["source"],
        )
        pushes = CounterMetricFamily("newsmon_websub_pushes", "WebSub notifications accepted (each a poll)",
                                     labels=["source"])
        refused = CounterMetricFamily("newsmon_websub_rejected",
                                      "WebSub notifications refused (unsigned, bad signature, no "
                                      "subscription)",
                                      labels=["source"])
        subscribed = GaugeMetricFamily("newsmon_websub_subscribed",
                                       "1 while the source's WebSub subscription is verified and its "
                                       "lease runs",
                                       labels=["source"])
        for row in status["sources"]:
            if not row["enabled"]:
                continue
            if row.get("websub"):
                pushes.add_metric([row["id"]], row["websub"]["pushes"])
                refused.add_metric([row["id"]], row["websub"]["rejected"])
                subscribed.add_metric([row["id"]], 1 if row["websub"]["pushed"] else 0)
            fresh = row["freshness"]
            clock_off.add_metric([row["id"]], 1 if fresh["clock"] else 0)
            for stage in ("seen", "alert"):
                day = fresh[stage]["day"]
                if day["n"]:
                    hist = day["histogram"]
                    buckets = [(str(le), n) for le, n in zip(hist["le"], hist["counts"], strict=True)]
                    delay.add_metric([row["id"], stage], buckets + [("+Inf", day["n"])], hist["sum"])
            for outcome, n in sorted(row["polls"].items()):
                source_polls.add_metric([row["id"], outcome], n)
            last_success.add_metric([row["id"]], row["last_success"] or 0)
            last_poll.add_metric([row["id"]], row["last_poll"] or 0)
            fails.add_metric([row["id"]], row["consecutive_failures"])
            failing.add_metric([row["id"], row["failure"] or ""], 1 if row["id"] in failing_ids else 0)
        yield from (
            depth,
            oldest,
            failed,
            workers,
            healthy,
            level,
            problems,
            polls,
            stories,
            sent,
            retried,
            dead,
            glosses,
            gloss_ms,
            matches,
            breaking_events,
            source_polls,
            last_success,
            last_poll,
            fails,
            failing,
            delay,
            clock_off,
            pushes,
            refused,
            subscribed,
        )


def spreading_now(conn: redis.Redis, hours: int = 6) -> list[dict[str, Any]]:
    """Breaking events of the last hours, newest first, for the page's "spreading now"."""

    since = time.time() - hours * 3600
    events = [
        BreakingEvent.model_validate_json(raw)
        for raw in conn.zrevrangebyscore(keys.BREAKING_EVENTS, "+inf", since)
    ]
    return [
        {
            "kind": e.kind,
            "at": e.at.timestamp(),
            "title": e.outlets[0].title if e.outlets else e.topic_name or e.topic,
            "url": e.outlets[0].url if e.outlets else None,
            "language": e.outlets[0].language if e.outlets else "en",
            "spread": (
                f"{len(e.outlets)} outlets in {round(e.minutes or 0)} min: "
                + ", ".join(s.outlet for s in e.outlets)
            )
            if e.kind == "cluster"
            else f"{e.count} new stories in the hour, usually {e.usual or 0:.1f}",
        }
        for e in events
    ]


def event_languages(story: dict[str, Any], members: list[dict[str, Any]],
                    zone: ZoneInfo | None = None) -> str:
    """The event's other reports in other languages: "in Sorani: Rudaw 10:12; in English: K24 10:20" (in
    `zone`, UTC without one)."""
    by_language: dict[str, list[str]] = {}
    for other in members:
        if other["id"] == story["id"] or other["language"] == story["language"]:
            continue
        at = other.get("published") or other.get("processed")
        if hasattr(at, "strftime"):
            moment = at if at.tzinfo else at.replace(tzinfo=UTC)
            local = moment.astimezone(zone or UTC)
            when = local.strftime("%H:%M ") + _offset(local)
        else:
            when = ""
        by_language.setdefault(NAMES.get(other["language"], other["language"]), []).append(
            f"{other['outlet']} {when}".strip())
    return "; ".join(f"in {language}: {', '.join(found)}" for language, found in by_language.items())


def _same(offered: str, token: str) -> bool:
    """Constant-time comparison of any offered string (non-ASCII, surrogates) with the token."""
    return hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
    )


def create_app(config: Config, conn: redis.Redis, recent_stories: Callable[[int], list[dict[str, Any]]],
               host: str = "127.0.0.1", token: str | None = None, config_dir: Path | None = None,
               validate: Callable[[Config], object] | None = None, follow: bool = True,
               recent_deliveries: Callable[[int], list[dict[str, Any]]] | None = None) -> Flask:
    """The Flask app. With `config_dir`, the config is read again at each request: the running system's
    published version with `follow` (the page shows what runs: a source added by a reload appears at
    once), else the directory's; a directory that no longer loads shows as a problem.

    Raises:
        ConfigError: bound to a non-loopback address without a token.
    """
    if not _loopback(host) and not token:
        raise ConfigError("NEWSMON_WEB_TOKEN", "", f"set a token to serve the status page on {host}")
    app = Flask("newsmon", template_folder=str(Path(__file__).parent / "templates"))
    app.jinja_env.filters["url_pieces"] = url_pieces
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["readable_url"] = readable_url
    app.jinja_env.filters["masked_url"] = mask_url
    app.jinja_env.filters["mask"] = mask_secrets
    current = {"config": config}
    # times in web.timezone of the config the page shows (read again with it at each request)
    app.jinja_env.filters["when"] = lambda value: when_in(
        ZoneInfo(current["config"].pipeline.web.timezone))(value)

    def config_now() -> tuple[Config, str | None]:
        """The config the page reports with now, and the error of the directory when it does not load."""
        error = None
        if config_dir is not None:
            loaded, error = load_for_status(config_dir, conn, validate, follow=follow)
            if error is None or loaded.version != "none":
                current["config"] = loaded
        return current["config"], error

    def status_now() -> tuple[Config, dict[str, Any]]:
        cfg, error = config_now()
        return cfg, collect(cfg, conn, config_error=error)

    registry = CollectorRegistry()
    registry.register(_Collector(status_now, conn))

    @app.before_request
    def _guard() -> Response | None:
        # a WebSub hub cannot send the token: the callback answers only what newsmon itself asked for
        if token is None or request.path == "/healthz" or request.path.startswith("/websub/"):
            return None
        offered = request.args.get("token") or request.cookies.get(COOKIE)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = header.removeprefix("Bearer ")
        else:
            try:
                if request.authorization and request.authorization.password:
                    offered = request.authorization.password
            except (ValueError, UnicodeError):
                offered = None
        if offered and _same(offered, token):
            return None
        response = make_response("token required\n", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="newsmon"'
        return response

    @app.after_request
    def _remember(response: Response) -> Response:
        if token and request.args.get("token") and response.status_code < 400:
            response.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict")
        return response

    outage: dict[str, float] = {}  # when Redis was first found unreachable, while it is

    @app.errorhandler(redis.RedisError)
    def _redis_down(exc: redis.RedisError) -> Response:
        """Redis unreachable: a short 503 for each request and one log line per outage, not a traceback
        per request (a Prometheus scrape every 15 s would flood the log)."""
        if "since" not in outage:
            outage["since"] = time.monotonic()
            log.warning("web: Redis unreachable (%s: %s); pages answer 503 until it is back",
                        type(exc).__name__, exc)
        return Response(f"503 Service Unavailable: newsmon cannot reach Redis ({type(exc).__name__}); "
                        "this page returns when it is back\n", status=503, mimetype="text/plain")

    @app.after_request
    def _redis_back(response: Response) -> Response:
        if "since" in outage and response.status_code < 500:
            log.warning("web: Redis reachable again after %.0f s", time.monotonic() - outage.pop("since"))
        return response

    @app.get("/")
    def index() -> str:
        cfg, status = status_now()
        stories = [
            {**st, "affiliation": cfg.sources.outlet(st["outlet"]).affiliation} for st in recent_stories(30)
        ]
        for st in stories:  # the same happening's reports in other languages among the recent stories
            event = st.get("event_id") or st["cluster_id"]
            st["also_in"] = event_languages(
                st, [o for o in stories if (o.get("event_id") or o["cluster_id"]) == event],
                ZoneInfo(cfg.pipeline.web.timezone))
        for st, glosses in zip(stories, page_glosses(cfg, conn, stories)):
            st["glosses"] = glosses
        sent = recent_deliveries(20) if recent_deliveries is not None else []
        return render_template("index.html", s=status, stories=stories, spreading=spreading_now(conn),
                               sent=sent)

    @app.get("/sources/<source_id>")
    def source(source_id: str) -> str:
        cfg, status = status_now()
        found = cfg.source(source_id)
        if found is None:
            abort(404)
        polls = [json.loads(p) for p in conn.lrange(keys.poll_history(source_id), 0, -1)]
        row = next((r for r in status["sources"] if r["id"] == source_id), None)
        return render_template("source.html", source=found, row=row, polls=polls)

    def websub_source(source_id: str) -> bool:
        """Whether a source takes pushes in the config now running (a callback for any other is 404)."""
        cfg = config_now()[0]
        found = cfg.source(source_id)
        return bool(found and found.enabled and found.kind == "feed" and found.websub
                    and cfg.pipeline.web.public_url and cfg.pipeline.websub.enabled)

    @app.get("/websub/<source_id>")
    def websub_verify(source_id: str) -> Response:
        """A hub verifies newsmon's intent: the challenge back for a subscription newsmon asked for."""
        if not websub_source(source_id):
            return Response("no such subscription\n", status=404, mimetype="text/plain")
        code, body = websub.verify(conn, source_id, request.args.to_dict())
        return Response(body, status=code, mimetype="text/plain")

    @app.post("/websub/<source_id>")
    def websub_notify(source_id: str) -> Response:
        """A hub's notification: with a valid signature, a poll of the source (202 either way)."""
        if not websub_source(source_id):
            return Response("no such subscription\n", status=404, mimetype="text/plain")
        if (request.content_length or 0) > websub.NOTIFY_MAX_BYTES:
            return Response("too large\n", status=413, mimetype="text/plain")
        body = request.stream.read(websub.NOTIFY_MAX_BYTES + 1)
        if len(body) > websub.NOTIFY_MAX_BYTES:
            return Response("too large\n", status=413, mimetype="text/plain")
        websub.notify(conn, source_id, body, request.headers.get("X-Hub-Signature"))
        return Response("", status=202, mimetype="text/plain")

    @app.get("/api/status")
    def api_status() -> Response:
        return Response(json.dumps(status_now()[1], default=str), mimetype="application/json")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

    @app.get("/healthz")
    def healthz() -> Response:
        """200 when healthy or degraded (the body says which and why), 503 when unhealthy."""
        try:
            status = status_now()[1]
        except redis.RedisError as exc:
            return Response(f"unhealthy\nredis unreachable: {type(exc).__name__}\n", status=503,
                            mimetype="text/plain")
        body = status["level"] + "\n" + "".join(f"{p['id']}\n" for p in status["problems"])
        return Response(body, status=503 if status["level"] == "unhealthy" else 200, mimetype="text/plain")

    return app


def serve(app: Flask, host: str, port: int) -> None:
    """Serve with waitress until interrupted. The address is logged once the socket listens, with the
    port the system chose when `port` is 0 (so a caller can wait for that line instead of guessing)."""
    # imported here: the WSGI server loads only for `web`
    from waitress import create_server

    probe.clear()  # a restarted container's old address answers nothing until this server listens
    server = create_server(app, host=host, port=port, threads=4, ident="newsmon")
    log.info("status page on http://%s:%d/", host, int(server.effective_port))
    local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    local = f"[{local}]" if ":" in local else local
    # the address `newsmon healthcheck` asks, beside this process
    probe.beat("web", url=f"http://{local}:{int(server.effective_port)}/healthz")
    server.run()
