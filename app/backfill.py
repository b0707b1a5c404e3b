"""`newsmon backfill`: each enabled source's recent history into the archive, without alerts.

Every source is polled once (all of them in one crawler process, with the crawler's politeness and
per-poll budgets) as it would be on its first poll, but reading further back: sitemaps and Telegram
pages take items up to `--days` old, newest first, up to 1,000 per source; feeds give what they list.
The stories found are archived as a worker would (dedupe, clusters, topics) and never alerted, and every
entry the source listed is marked seen, so the first real poll alerts only what is new. A source done
is remembered in Redis; a second backfill resumes with the others (`--again` redoes them).
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import replace
from typing import Any, TextIO

from newsmon.app.cli_history import Tally, archive_batches, context
from newsmon.errors import UsageError
from newsmon.models import PollRequest, utcnow
from newsmon.settings import Config, Runtime

DONE_KEY = "newsmon:backfill:done:{source}"  # when a backfill finished the source (epoch seconds)
MAX_ITEMS = 1000


def backfill(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO) -> int:
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from newsmon.crawler import polls
    from newsmon.crawler.runner import history_polls

    ctx = context(config, runtime)  # the running system's Redis and archive (says so if nothing runs)
    sources = [s for s in config.enabled_sources() if args.source in (None, s.id)]
    if args.source and not sources:
        raise UsageError(f"no enabled source {args.source!r}; `newsmon sources list` shows them")
    todo = [s for s in sources if args.again or not ctx.redis.exists(DONE_KEY.format(source=s.id))]
    for source in sources:
        if source not in todo:
            out.write(f"{source.id}: done by an earlier backfill (--again to redo it)\n")
    if not todo:
        return 0
    wider = [s.model_copy(update={"max_age_days": args.days, "max_items": MAX_ITEMS}) for s in todo]
    others = [s for s in config.sources.sources if s.id not in {w.id for w in wider}]
    deep = replace(config, sources=config.sources.model_copy(update={"sources": [*others, *wider]}))
    out.write(f"backfill: reading {len(todo)} source(s) back {args.days:g} days ...\n")
    out.flush()
    started = time.monotonic()
    requests: list[PollRequest] = []
    owners = []
    for source in todo:
        pages = [None]  # the source's own URL, then a listing's further pages where configured
        if source.kind == "listing" and source.page_url:
            pages += [source.page_url.replace("{page}", str(n)) for n in range(2, source.backfill_pages + 1)]
        for url in pages:
            requests.append(PollRequest(source_id=source.id, poll_id=uuid.uuid4().hex, lock_token="backfill",
                                        requested_at=utcnow(), url_override=url))
            owners.append(source.id)
    found: dict[str, tuple[Any, list[dict[str, Any]], list[str]]] = {}
    for owner, (poll, stories, listed) in zip(owners, history_polls(deep, requests)):
        if owner not in found:
            found[owner] = (poll, [], [])
        elif poll is not None and poll.failure is not None and found[owner][0].failure is None:
            found[owner] = (poll, found[owner][1], found[owner][2])  # a page that failed is said
        found[owner][1].extend(stories)
        found[owner][2].extend(listed)
    total = Tally()
    code = 0
    for source in todo:
        poll, stories, listed = found[source.id]
        stories = list({story["id"]: story for story in stories}.values())  # a story on two pages once
        tally = Tally()
        payloads: list[dict[str, Any]] = [{**story, "history": "backfill"} for story in stories]
        archive_batches(ctx, payloads, tally)
        if listed:
            polls.mark_seen(ctx.redis, source.id, *listed)  # the first real poll alerts only what is new
        failure = f"; poll {poll.status}: {poll.failure.message}" if poll is not None and poll.failure else ""
        out.write(f"{source.id}: {len(listed)} listed, {len(stories)} stories read: {tally.line()}"
                  f"{failure}\n")
        out.flush()
        for name, value in tally.counts.items():
            total.counts[name] += value
        if poll is not None and poll.status in ("ok", "stale", "unchanged"):
            ctx.redis.set(DONE_KEY.format(source=source.id), str(time.time()))
        else:
            code = 1
    out.write(f"backfill: {total.line()} in {time.monotonic() - started:.0f} s; nothing was alerted\n")
    return code
