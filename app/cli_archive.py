"""`newsmon search`, `newsmon backtest` and `newsmon explain`: looking back at the archive."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.breaking import event_record
from newsmon.errors import NewsmonError, NothingRunning, UsageError
from newsmon.languages import LANGUAGES
from newsmon.languages import NAMES as LANGUAGE_NAMES
from newsmon.models import as_utc
from newsmon.redis_conn import RedisUnreachable, connect
from newsmon.settings import Config, Runtime, load_keywords

DEFAULT_ZONE = "Asia/Baghdad"  # a desk's default zone


def add_parser(commands: Any) -> None:
    """Register `search`, `backtest` and `explain`."""
    search = commands.add_parser("search", help="search the archive (Arabic/Kurdish normalization applied)")
    search.add_argument("query", help="words that must all occur")
    search.add_argument("--topic", default=None, help="only stories tagged with this topic id")
    search.add_argument("--outlet", default=None, help="only stories from this outlet")
    search.add_argument(
        "--lang", default=None, help="only stories in this language (ar, ckb, kmr, en, tr, fa)"
    )
    search.add_argument("--since", default=None, help="only stories from the last period: 30m, 12h, 7d")
    search.add_argument("--limit", type=int, default=20, help="most stories shown (default 20)")
    search.add_argument(
        "--tz", default=DEFAULT_ZONE, help=f"show times in this zone (default {DEFAULT_ZONE})"
    )
    search.add_argument("--json", action="store_true", help="one JSON object per story")
    backtest = commands.add_parser("backtest", help="run a candidate keywords file over the archive")
    backtest.add_argument("--keywords", default=None, help="the candidate keywords.yaml")
    backtest.add_argument("--breaking", action="store_true",
                          help="list the breaking events the archive would have produced instead")
    backtest.add_argument("--events", action="store_true",
                          help="group the archive's stories into events: alerts saved per desk, "
                               "and the merges")
    backtest.add_argument(
        "--outlets", type=int, default=3, help="with --breaking: outlets that make a story breaking"
    )
    backtest.add_argument(
        "--minutes", type=int, default=30, help="with --breaking: ... within this many minutes"
    )
    backtest.add_argument("--since", default="30d", help="archive period to replay (default 30d)")
    backtest.add_argument("--samples", type=int, default=5, help="sample stories per change (default 5)")
    backtest.add_argument("--json", action="store_true", help="the report as JSON")
    explain = commands.add_parser("explain", help="why a story did or did not alert")
    explain.add_argument("story", help="archived story id or URL")


def parse_since(value: str | None) -> datetime | None:
    """`7d`, `12h` or `30m` before now."""
    if not value:
        return None
    match = re.fullmatch(r"(\d+)([mhd])", value.strip())
    if not match:
        raise NewsmonError(f"--since {value!r}: expected a number and m, h or d (30m, 12h, 7d)")
    amount, unit = int(match.group(1)), match.group(2)
    units = {"m": "minutes", "h": "hours", "d": "days"}
    return datetime.now(UTC) - timedelta(**{units[unit]: amount})


def run(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO = sys.stdout) -> int:
    """Run one of the commands; returns the exit code."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.archive import open_engine

    engine = open_engine(runtime.archive_url(must_exist=True))
    if args.command == "search":
        return _search(args, config, engine, out)
    if args.command == "backtest" and args.breaking:
        return _backtest_breaking(args, config, engine, out)
    if args.command == "backtest" and args.events:
        return _backtest_events(args, config, engine, out)
    if args.command == "backtest" and args.keywords is None:
        raise UsageError("backtest needs --keywords FILE (a candidate keywords file), --breaking or --events")
    if args.command == "backtest":
        from newsmon.workers.backtest import backtest

        report = backtest(engine, config.keywords, load_keywords(args.keywords), parse_since(args.since),
                          samples=args.samples, candidate_source=args.keywords)
        if args.json:
            out.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
        else:
            print_report(report, out)
        return 0
    from newsmon.alerts.desks import next_digest
    from newsmon.workers.explain import explain

    try:
        conn, note = connect(runtime.redis_url, runtime.data_dir), None
    except (NothingRunning, RedisUnreachable) as exc:
        conn, note = None, str(exc)  # the archive still answers for topics and dedupe
    report = explain(config, engine, conn, args.story, note)
    now = datetime.now(UTC)
    for desk_id, found in report["desks"].items():  # when a story still held will go out
        routing, desk = found["routing"], config.alerts.all_desks().get(desk_id)
        if (
            routing
            and routing["decision"].startswith("held")
            and not routing.get("digest")
            and desk is not None
        ):
            found["next_digest"] = next_digest(desk, now)
    print_explanation(report, out)
    return 0


def _backtest_breaking(args: argparse.Namespace, config: Config, engine: Any, out: TextIO) -> int:
    """The breaking events the archive's stories would have made with these thresholds."""

    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.backtest import replay_archive

    names = {t: topic.name for t, topic in config.keywords.topics.items()}
    events = replay_archive(engine, parse_since(args.since), args.outlets, args.minutes, names)
    zone = ZoneInfo(DEFAULT_ZONE)
    for event in events:
        if args.json:
            out.write(json.dumps(event_record(event, {}), ensure_ascii=False) + "\n")
            continue
        when = event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        if event.kind == "cluster":
            first = event.outlets[0]
            carried = ", ".join(
                f"{s.outlet} {s.at.astimezone(zone).strftime('%H:%M')}" for s in event.outlets
            )
            out.write(f"{when}  BREAKING {first.title} ({first.story_id}): {len(event.outlets)} outlets in "
                      f"{round(event.minutes or 0)} min: {carried}\n")
        else:
            out.write(
                f"{when}  SURGE {event.topic_name or event.topic}: {event.count} new stories in the hour, "
                f"usually {event.usual:.1f}\n"
            )
    out.write(f"{len(events)} breaking event{'' if len(events) == 1 else 's'} with --outlets {args.outlets} "
              f"--minutes {args.minutes} (nothing was changed or sent)\n")
    return 0


def _backtest_events(args: argparse.Namespace, config: Config, engine: Any, out: TextIO) -> int:
    """How many alerts per desk events would have saved on the archive, and every merge with its evidence."""

    # imported here: the archive, the event features and an embedded Redis load only where used
    from newsmon.app.cli_dedupe import scratch_index
    from newsmon.workers.backtest import replay_events
    from newsmon.workers.events import EventIndex

    pipeline = config.pipeline
    with scratch_index(pipeline.dedupe, None) as dedupe:
        stories = replay_events(engine, parse_since(args.since),
                                EventIndex(dedupe.conn, pipeline.events, pipeline.dedupe.window_days))
    desks = {}
    for desk_id, desk in config.alerts.all_desks().items():
        by_cluster, by_event = set(), set()
        for story in stories:
            for topic in story["topics"]:
                if desk.wants(topic, story["language"], story["outlet"]):
                    by_cluster.add((story["cluster"], topic))
                    by_event.add((story["event"], topic))
        desks[desk_id] = {"per_cluster": len(by_cluster), "per_event": len(by_event),
                          "saved": len(by_cluster) - len(by_event), "events": desk.events}
    titles = {s["id"]: s for s in stories}
    merges = [{"story": s["id"], "title": s["title"], "outlet": s["outlet"], "language": s["language"],
               "at": s["at"].isoformat(), "event": s["event"],
               "event_title": titles.get(s["event"], {}).get("title"), "evidence": s["evidence"]}
              for s in stories if s["evidence"]]
    report = {"stories": len(stories), "events": len({s["event"] for s in stories}),
              "clusters": len({s["cluster"] for s in stories}), "desks": desks, "merges": merges}
    if args.json:
        out.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
        return 0
    out.write(f"events over {report['stories']} archived stories with topics ({args.since}): "
              f"{report['clusters']} clusters, {report['events']} events (nothing was changed or sent)\n")
    for desk_id, found in desks.items():
        note = "" if found["events"] else " (this desk has events: false and keeps its per-cluster alerts)"
        out.write(f"  desk {desk_id}: {found['per_cluster']} alerts per cluster, {found['per_event']} "
                  f"per event, {found['saved']} saved{note}\n")
    zone = ZoneInfo(DEFAULT_ZONE)
    for merge in merges:
        evidence = merge["evidence"]
        when = datetime.fromisoformat(merge["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        names = ", ".join(f"{a}={b}" if a != b else a for a, b in evidence["names"]) or "-"
        out.write(f"{when}  {merge['title']} ({merge['outlet']}, {merge['language']}, {merge['story']})\n"
                  f"    joined: {merge['event_title']} ({merge['event']})\n"
                  f"    evidence: score {evidence['score']}; names {names}; numbers "
                  f"{', '.join(evidence['numbers']) or '-'}; concepts "
                  f"{', '.join(evidence['concepts']) or '-'}; "
                  + ("the outlet's edition in another language; " if evidence.get("edition") else "")
                  + f"{evidence['hours']} h apart; agreed with {evidence['agreeing']} of the event's "
                  f"{evidence['compared']} reports\n")
    return 0


def _one_of(option: str, value: str, valid: list[str]) -> None:
    """Refuse a filter value no story can have, naming what is valid (or the closest values)."""

    if value in valid:
        return
    close = difflib.get_close_matches(value, valid, n=5, cutoff=0.5)
    listed = close if close and len(valid) > 12 else valid
    what = "did you mean" if listed is close else "expected one of"
    raise UsageError(f"{option} {value!r}: not known; {what} {', '.join(sorted(listed))}")


def validate_search(args: argparse.Namespace, config: Config, engine: Any) -> Any:
    """Check --lang, --topic, --outlet and --tz against the config (and the archive's outlets);
    returns the zone to print times in.

    Raises:
        UsageError: a value no story can have.
    """

    if args.lang is not None:
        _one_of("--lang", args.lang, list(LANGUAGES))
    if args.topic is not None:
        _one_of("--topic", args.topic, list(config.keywords.topics))
    if args.outlet is not None:
        outlets = {s.outlet for s in config.sources.sources} | set(config.sources.outlets)
        if args.outlet not in outlets:
            # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
            from sqlalchemy import text

            with engine.connect() as conn:  # an outlet no longer configured but still in the archive
                outlets |= {row[0] for row in conn.execute(text("SELECT DISTINCT outlet FROM stories"))}
        _one_of("--outlet", args.outlet, sorted(outlets))
    try:
        return ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"--tz {args.tz!r}: not a time zone (for example Asia/Baghdad, UTC)") from exc


def _time(value: Any, zone: Any) -> datetime | None:
    """A time from an archive row (a datetime, or SQLite's text), in `zone`; stored times are UTC."""
    return None if value is None else as_utc(value).astimezone(zone)


def _search(args: argparse.Namespace, config: Config, engine: Any, out: TextIO) -> int:
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.search import search

    zone = validate_search(args, config, engine)
    # copies of one story (one dedupe cluster) are one row: fetch more so that --limit counts stories
    hits = search(engine, args.query, topic=args.topic, outlet=args.outlet, language=args.lang,
                  since=parse_since(args.since), limit=args.limit * 5)
    groups: dict[str, list[Any]] = {}
    for hit in hits:
        groups.setdefault(hit.story["cluster_id"] or hit.story["id"], []).append(hit)
    for cluster, members in list(groups.items())[: args.limit]:
        # the story the cluster is named after when it matched too, else its earliest matching copy
        members.sort(key=lambda h, c=cluster: (h.story["id"] != c,
                                               str(h.story["published"] or h.story["processed"])))
        hit, copies = members[0], members[1:]
        story = hit.story
        published = _time(story["published"], zone)
        when = published or _time(story["processed"], zone)
        record = {
            "id": story["id"],
            "published": published.isoformat() if published else None,
            "outlet": story["outlet"],
            "language": story["language"],
            "title": story["title"],
            "url": story["url"],
            "topics": [t["topic"] for t in story["topics"]],
            "cluster": story["cluster_id"],
            "snippet": hit.snippet,
            "copies": [{"id": c.story["id"], "outlet": c.story["outlet"], "url": c.story["url"],
                        "published": (_time(c.story["published"], zone) or _time(c.story["processed"], zone)
                                      ).isoformat()} for c in copies],
        }
        if args.json:
            out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            stamp = when.strftime("%Y-%m-%d %H:%M %Z") if when else "time unknown"
            out.write(f"{stamp}  [{story['language']}] {story['outlet']}: "
                      f"{story['title']}\n    {hit.snippet}\n    {story['url']}  topics: "
                      f"{', '.join(record['topics']) or '-'}  story {story['id']}\n")
            if copies:
                outlets = sorted({c.story["outlet"] for c in copies})
                noun = "copy" if len(copies) == 1 else "copies"
                out.write(f"    and {len(copies)} {noun}: {', '.join(outlets)}\n")
    if not hits and not args.json:
        out.write("no story found\n")
    return 0


def print_explanation(report: dict[str, Any], out: TextIO) -> None:
    """The explanation as text."""
    story = report["story"]
    out.write(
        f"story {story['id']} [{story['language']}] {story['outlet']}: {story['title']}\n{story['url']}\n"
    )
    out.write(f"tagged when processed (config {story['config_version']}): "
              f"{', '.join(report['stored_topics']) or 'no topic'}\n")
    out.write("topics with the current config: " + (", ".join(
        f"{t} ({', '.join(w)})" for t, w in report["topics_now"].items()) or "none") + "\n")
    out.writelines(
        f"suppressed: {topic} by the none term(s) {', '.join(words)}\n"
        for topic, words in report["suppressed"].items()
    )
    d = report["dedupe"]
    kind = {"new": "a new story", "url": "a URL seen before (edit or re-poll)", "exact": "an exact copy",
            "near": f"a near copy (similarity {d['similarity']})"}.get(d["kind"], d["kind"])
    out.write(
        f"dedupe: {kind}; cluster {d['cluster']} with {d['cluster_members']} member(s), first story "
        f"{d['cluster_first_story']}" + (f"; copy of {d['duplicate_of']}" if d["duplicate_of"] else "") + "\n"
    )
    event = report.get("event") or {}
    evidence = event.get("evidence")
    if evidence:
        names = ", ".join(f"{a}={b}" if a != b else a for a, b in evidence["names"]) or "none"
        out.write(
            f"event {event['id']}: joined through story {evidence['matched']} ({evidence['matched_outlet']}, "
            f"{evidence['matched_language']}), {evidence['hours']} h apart, score {evidence['score']}: names "
            f"{names}; numbers {', '.join(evidence['numbers']) or 'none'}; concepts "
            f"{', '.join(evidence['concepts']) or 'none'}; "
            + ("the outlet's own edition in another language; " if evidence.get("edition") else "")
            + f"agreed with {evidence['agreeing']} of the event's "
            f"{evidence['compared']} reports in the window\n")
    elif event:
        out.write(f"event {event['id']}: "
                  + ("opened by this story's cluster\n" if event["id"] == report["dedupe"]["cluster"]
                     else "its cluster's event\n"))
    by_language: dict[str, list[str]] = {}
    for other in event.get("reports") or []:
        by_language.setdefault(other["language"], []).append(
            f"{other['outlet']} {_local(other['at'], DEFAULT_ZONE)} ({other['story']})")
    if by_language:
        out.write("also in the event: " + "; ".join(
            f"in {LANGUAGE_NAMES.get(language, language)}: {', '.join(found)}"
            for language, found in by_language.items()) + "\n")
    if report.get("redis"):
        out.write(f"alert records and routing: {report['redis']}\n")
    for desk_id, desk in report["desks"].items():
        out.write(f"desk {desk_id}:\n")
        if not desk["topics"]:
            out.write("  no topic of the story\n")
        out.writelines(f"  {topic}: {why}\n" for topic, why in desk["topics"].items())
        for row in reversed(desk.get("deliveries") or []):
            via = f" via {row['channel']}" if row["channel"] else ""
            note = f" ({row['note']})" if row.get("note") else ""
            out.write(f"  delivery log: {row['outcome']} {row['mode']}{via} at "
                      f"{_local(row['at'], desk['timezone'])}{note}\n")
        if desk["routing"]:
            out.write(
                f"  routing: {routing_line(desk['routing'], desk['timezone'], desk.get('next_digest'))}\n"
            )
        if desk.get("breaking"):
            out.write(
                f"  breaking alert with this story: {routing_line(desk['breaking'], desk['timezone'])}\n"
            )
        elif desk.get("cluster_broke"):
            out.write(
                "  its cluster broke (spread across outlets): the breaking alert named the cluster's "
                "first story\n"
            )


def _local(moment: str | datetime, zone: str, seconds: bool = False) -> str:
    """An ISO time (or datetime) in the desk's zone, as desks read it."""
    local = as_utc(moment).astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def routing_line(routing: dict[str, Any], zone: str, next_digest: datetime | None = None) -> str:
    """What routing did with the story for one desk: sent at once; held (when and why) and in which
    digest it went out, or that it is still waiting (for the next digest, when known); not alerted."""
    decision = routing["decision"]
    note = f" ({routing['note']})" if routing.get("note") else ""
    if decision == "sent at once":
        return f"sent at once at {_local(routing['at'], zone)}"
    if not decision.startswith("held"):
        return f"{decision}{note}"
    line = f"held for the next digest at {_local(routing['at'], zone)}{note}; "
    if routing.get("digest"):
        count = routing.get("digest_stories")
        size = f" ({count} stor{'y' if count == 1 else 'ies'})" if count else ""
        return (
            line + f"went out in the digest of {_local(routing['digest'], zone)}{size}, handed to the desk's "
            f"channels at {_local(routing['digest_sent'], zone, seconds=True)}"
        )
    if next_digest is not None:
        return line + f"still waiting for the digest of {_local(next_digest, zone)}"
    return line + "still waiting"


def print_report(report: dict[str, Any], out: TextIO) -> None:
    """The backtest as text for an operator."""
    out.write(
        f"backtest over {report['stories']} archived stories ({report['stories_per_second']} stories/s); "
        "nothing was changed or sent\n"
    )
    out.write(f"\n{'topic':<20} {'newly match':>12} {'stop matching':>14} {'unchanged':>10}\n")
    out.writelines(
        f"{topic:<20} {t['new']:>12} {t['gone']:>14} {t['kept']:>10}\n"
        for topic, t in report["topics"].items()
    )
    for topic, t in report["topics"].items():
        for change, label in (("new", "would newly match"), ("gone", "would stop matching")):
            if not t["samples"].get(change):
                continue
            by = ", ".join(
                f"{k.split(':', 1)[1]} {v.get(change, 0)}" for k, v in t["by"].items() if v.get(change)
            )
            out.write(f"\n{topic}: {label} ({by})\n")
            for sample in t["samples"][change]:
                matched = f"  [{', '.join(sample['matched'])}]" if sample["matched"] else ""
                out.write(f"  [{sample['language']}] {sample['outlet']}: {sample['title'][:80]}{matched}\n"
                          f"      {sample['url']}\n")
