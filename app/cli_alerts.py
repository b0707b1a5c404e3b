"""`newsmon alerts preview|test|failed`: see what a desk would get, try its channels, handle failures."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from newsmon import keys
from newsmon.errors import DeliveryError, NewsmonError, NothingRunning
from newsmon.models import Delivery, Story, StoryAlert, as_utc, story_id_for, utcnow
from newsmon.redis_conn import RedisUnreachable, connect
from newsmon.settings import AppriseChannel, Config, EmailChannel, Runtime
from newsmon.urls import canonical_url, same_site


def add_parser(commands: Any) -> None:
    """Register `alerts preview`, `alerts test` and `alerts failed`."""
    alerts = commands.add_parser(
        "alerts", help="preview alerts, test a desk's channels, list failed deliveries"
    )
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    preview = actions.add_parser("preview", help="render exactly what each desk would be sent for a story")
    preview.add_argument(
        "--story", required=True, help="an archived story id, a text file (title first) or a URL"
    )
    preview.add_argument("--desk", default=None, help="only this desk")
    test = actions.add_parser("test", help="send a test message through every channel of a desk")
    test.add_argument("desk", help="desk (or route) id from alerts.yaml")
    sent = actions.add_parser("sent", help="what desks were sent (and what was held or refused), from the "
                                           "archive's delivery log")
    sent.add_argument("--desk", default=None, help="only this desk")
    sent.add_argument("--since", default="1d", help="how far back: 90m, 12h or 7d (default 1d)")
    sent.add_argument("--json", action="store_true", help="one JSON object per line")
    failed = actions.add_parser("failed", help="list deliveries that failed after their last retry")
    failed.add_argument("--requeue", action="store_true", help="put them back on the alerts queue")


def run(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO = sys.stdout) -> int:
    """Run an `alerts` action; returns the exit code."""
    if args.alerts_command == "preview":
        return _preview(args, config, runtime, out)
    if args.alerts_command == "test":
        return _test(args, config, out)
    if args.alerts_command == "sent":
        return _sent(args, config, runtime, out)
    return _failed(args, runtime, out)


def _sent(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO) -> int:
    """The delivery log: what each desk was sent, held or refused, newest first."""

    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.app.cli_archive import parse_since
    from newsmon.workers.archive import Archive, delivery_rows, drain_delivery_log, open_engine

    engine = open_engine(runtime.archive_url(must_exist=True))
    try:
        drain_delivery_log(connect(runtime.redis_url, runtime.data_dir), Archive(engine))
    except (NothingRunning, RedisUnreachable):
        pass  # the archive answers alone
    rows = delivery_rows(engine, desk=args.desk, since=parse_since(args.since), limit=10_000)
    desks = config.alerts.all_desks()
    for row in rows:
        at = as_utc(row["at"])
        if args.json:
            out.write(json.dumps({**row, "at": at.isoformat(timespec="seconds")}, ensure_ascii=False,
                                 default=str) + "\n")
            continue
        zone = ZoneInfo(desks[row["desk"]].timezone) if row["desk"] in desks else ZoneInfo("UTC")
        via = f" via {row['channel']}" if row["channel"] else ""
        note = f" ({row['note']})" if row["note"] else ""
        story = f"{row['story_id']} {row['outlet']}: {row['title']}" if row["story_id"] else "-"
        out.write(f"{at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}  {row['desk']}  {row['outcome']} "
                  f"{row['mode']}{via}  [{', '.join(row['topics'] or [])}]  {story}{note}\n")
    if not rows and not args.json:
        out.write(f"nothing in the delivery log since {args.since}"
                  f"{' for desk ' + args.desk if args.desk else ''}\n")
    return 0


def _outlet_of(url: str, config: Config) -> str:
    """The outlet a previewed URL belongs to: the catalogue's outlet on the same site, else the host."""


    for source in config.sources.sources:
        if same_site(source.url, url):
            return source.outlet
    for name, outlet in config.sources.outlets.items():
        if outlet.website and same_site(outlet.website, url):
            return name
    return urlsplit(url).hostname or url


def load_story(reference: str, runtime: Runtime, config: Config) -> Story:
    """A story from the archive (by id), a text file or a URL.

    A URL's story has the outlet of the catalogue's source on that site (else the host) and the page's
    date; a file's has the file's name as outlet and its modification time as date.

    Raises:
        NewsmonError: nothing found under that reference.
    """
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from newsmon.crawler.language import detect_language

    if reference.startswith(("http://", "https://")):
        from newsmon.app.cli_keywords import fetch_article

        extracted, language, final_url = fetch_article(reference)
        canonical = canonical_url(final_url)
        return Story(id=story_id_for(canonical), source_id="preview",
                     outlet=_outlet_of(final_url, config),
                     language=language or "en", url=final_url, canonical_url=canonical, title=extracted.title,
                     text=extracted.text, author=extracted.author, published=extracted.published)
    path = Path(reference)
    if path.is_file():
        title, _, text = path.read_text(encoding="utf-8").partition("\n")
        url = path.resolve().as_uri()
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return Story(
            id=story_id_for(url),
            source_id="preview",
            outlet=path.name,
            language=detect_language(text),
            url=url,
            canonical_url=url,
            title=title.strip(),
            text=text.strip(),
            published=modified,
        )
    from newsmon.workers.archive import Archive, open_engine

    row = Archive(open_engine(runtime.archive_url())).get(reference)
    if row is None:
        raise NewsmonError(f"no archived story, file or URL {reference!r}")
    return Archive.story_of(row)


def _preview(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO) -> int:
    """Each desk's message for the story, rendered as it would be sent: an instant alert, or for a
    digest desk the digest of its next slot (with this story; others held by then join it)."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.alerts.building import snippets
    from newsmon.alerts.channels import chat_dialect
    from newsmon.alerts.desks import next_digest
    from newsmon.alerts.render import CHAT_DIALECT_NAMES, render_delivery
    from newsmon.alerts.translate import dress
    from newsmon.workers.matcher import matcher_for

    story = load_story(args.story, runtime, config)
    result = matcher_for(config).match(story.title, story.text, story.language)
    out.write(f"story {story.id} [{story.language}] {story.title}\n"
              f"topics: {', '.join(m.topic for m in result.matches) or 'none'}\n")
    out.writelines(
        f"suppressed: {topic} by {', '.join(repr(h.text) for h in hits)}\n"
        for topic, hits in result.suppressed.items()
    )
    urgent = {t for t, topic in config.keywords.topics.items() if topic.urgent}
    now = utcnow()
    for desk_id, desk in config.alerts.all_desks().items():
        if args.desk and desk_id != args.desk:
            continue
        topics = [m for m in result.matches if desk.wants(m.topic, story.language, story.outlet)]
        if not topics:
            out.write(f"\n=== desk {desk_id}: would not receive it (no followed topic for {story.language}, "
                      f"{story.outlet})\n")
            continue
        alert = StoryAlert(story_id=story.id, cluster_id=story.id, title=story.title, url=story.url,
                           outlet=story.outlet, affiliation=config.sources.outlet(story.outlet).affiliation,
                           language=story.language, published=story.published,
                           snippets=snippets(story, topics), topics=topics,
                           urgent=any(t.topic in urgent for t in topics))
        [alert] = dress(config.pipeline.translate, None, desk, [alert])  # the desk's glosses, as sent
        if desk.mode == "digest":
            slot = next_digest(desk, now)
            kind, items = "digest", [alert]
            mode = (f"digest of {slot.astimezone(ZoneInfo(desk.timezone)).strftime('%Y-%m-%d %H:%M %Z')}"
                    " (with this story; others held by then join it)")
        else:
            slot, kind, items = None, "instant", [alert]
            mode = "instant (unless quiet hours or throttling hold it)"
        for channel_id in desk.channels:
            channel = config.alerts.channels[channel_id]
            delivery = Delivery(desk_id=desk_id, channel_id=channel_id, kind=kind, items=items,  # type: ignore[arg-type]
                                timezone=desk.timezone, slot=slot)
            rendered = render_delivery(delivery, config.directory / "templates")
            out.write(f"\n=== desk {desk_id} · channel {channel_id} ({channel.type}) · {mode}\n")
            if isinstance(channel, AppriseChannel):
                dialect = chat_dialect(channel.url.get_secret_value())
                title, body = rendered.chat(dialect)
                out.write(f"({CHAT_DIALECT_NAMES[dialect]})\ntitle: {title}\n\n{body}\n")
            elif isinstance(channel, EmailChannel):
                out.write(f"Subject: {rendered.subject}\nTo: {', '.join(channel.to)}\n\n--- text/plain\n"
                          f"{rendered.text}\n--- text/html\n{rendered.html}\n")
            else:
                out.write(f"{rendered.subject}\n\n{rendered.text}\n")
    return 0


def _test(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    # imported here: Jinja2 and Apprise load only for the commands that render or send
    from newsmon.alerts.channels import masked_url
    from newsmon.alerts.jobs import send

    desk = config.alerts.all_desks().get(args.desk)
    if desk is None:
        out.write(f"unknown desk {args.desk!r}; desks: {', '.join(sorted(config.alerts.all_desks()))}\n")
        return 2
    sample = StoryAlert(story_id="test", cluster_id="test", title="newsmon test message · رسالة اختبار",
                        url="https://example.org/newsmon-test", outlet="newsmon", language="en",
                        published=utcnow(), snippets=["If you can read this, the channel works."], topics=[])
    failures = 0
    for channel_id in desk.channels:
        channel = config.alerts.channels[channel_id]
        target = (masked_url(channel.url.get_secret_value()) if isinstance(channel, AppriseChannel)
                  else ", ".join(channel.to) if isinstance(channel, EmailChannel) else channel.type)
        delivery = Delivery(desk_id=args.desk, channel_id=channel_id, kind="test", items=[sample],
                            timezone=desk.timezone)
        try:
            send(config, delivery)
        except DeliveryError as exc:
            failures += 1
            out.write(f"{channel_id} ({target}): FAILED: {exc}\n")
        else:
            out.write(f"{channel_id} ({target}): ok\n")
    return 1 if failures else 0


def _failed(args: argparse.Namespace, runtime: Runtime, out: TextIO) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app.cli_status import print_failed

    conn = connect(runtime.redis_url, runtime.data_dir)
    action = "requeue" if args.requeue else "list"
    print_failed(conn, keys.ALERTS_QUEUE, action, out, "{count} failed deliveries")
    return 0
