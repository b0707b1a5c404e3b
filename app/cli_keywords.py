"""`newsmon keywords check|test`: validate a keywords file and try it on a text, a file, a URL or JSONL."""

from __future__ import annotations

import argparse
import io
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from newsmon import jobcontext
from newsmon.errors import FetchError, UsageError
from newsmon.redis_conn import connect, describe
from newsmon.settings import KEYWORDS_FILE, Runtime, load_config, load_keywords, read_config_files

FETCH_TIMEOUT = 20


def add_parser(commands: Any) -> None:
    """Register `keywords check` and `keywords test` on the CLI's subcommands."""
    keywords = commands.add_parser("keywords", help="check a keywords file and test it on texts")
    actions = keywords.add_subparsers(dest="keywords_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate; print each topic with its normalized aliases")
    actions.add_parser("reload", help="validate the config directory and tell running workers to load it")
    check.add_argument("--keywords", type=Path, default=None, help="keywords file (default: config dir's)")
    test = actions.add_parser("test", help="show the topics and highlighted hits for a text, file or URL")
    test.add_argument("--keywords", type=Path, default=None, help="keywords file (default: config dir's)")
    source = test.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to test")
    source.add_argument("--file", type=Path, help="a text file to test (first line is the title)")
    source.add_argument("--url", help="a page to fetch and extract as the crawler does")
    source.add_argument("--jsonl", action="store_true",
                        help='read {"id", "text", "lang"} lines on stdin, write one result line each')
    test.add_argument(
        "--lang", default=None, help="language of the text (ar, ckb, kmr, en) for topic filters"
    )
    test.add_argument("--json", action="store_true", help="print the result as JSON")
    suggest = actions.add_parser("suggest", help="mine the archive for spellings the config misses")
    suggest.add_argument("--topic", default=None, help="only this topic")
    suggest.add_argument("--since", default="30d", help="archive period to read (default 30d)")
    suggest.add_argument("--limit", type=int, default=20, help="most suggestions per topic (default 20)")
    suggest.add_argument("--min-stories", type=int, default=2, help="stories a spelling needs (default 2)")
    suggest.add_argument("--json", action="store_true", help="one JSON object per suggestion")
    suggest.add_argument("--accept", nargs="+", metavar="ALIAS", default=None,
                         help="add these spellings to the topic's `any` aliases (needs --topic)")


def run(args: argparse.Namespace, config_dir: Path, out: TextIO = sys.stdout, explicit: bool = True) -> int:
    """Run a `keywords` action; returns the exit code."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.matcher import Matcher

    if args.keywords_command == "reload":
        return _reload(config_dir, out, explicit)
    if args.keywords_command == "suggest":
        return _suggest(args, config_dir, out)
    path = args.keywords or config_dir / KEYWORDS_FILE
    matcher = Matcher(load_keywords(path), source=str(path))
    if args.keywords_command == "check":
        _print_check(matcher, path, out)
        return 0
    if args.jsonl:
        for line in sys.stdin:
            if line.strip():
                out.write(json.dumps(_jsonl_result(matcher, json.loads(line)), ensure_ascii=False) + "\n")
        return 0
    title, text, language = _input(args)
    result = matcher.match(title, text, language or args.lang)
    if args.json:
        out.write(json.dumps(_as_json(result), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_result(result, title, text, out)
    return 0


def _reload(config_dir: Path, out: TextIO, explicit: bool = True) -> int:
    """Validate the whole config directory, then publish its version; a broken file is refused, and so
    is a directory other than the running system's unless --config-dir names it."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.matcher import Matcher

    files = read_config_files(config_dir)  # exactly these bytes are validated and published
    config = load_config(config_dir, files=files)  # raises ConfigError: exit 2, nothing is published
    Matcher(config.keywords, source=str(config.directory / KEYWORDS_FILE))
    runtime = Runtime.from_env()
    conn = connect(runtime.redis_url, runtime.data_dir)
    running = jobcontext.published_directory(conn)
    if not explicit and running is not None and running.resolve() != Path(config_dir).resolve():
        raise UsageError(f"the running system was started with the config in {running}; this is "
                         f"{Path(config_dir).resolve()}. Nothing was published: run `newsmon --config-dir "
                         f"{running} keywords reload` to reload the running config, or give --config-dir "
                         f"{config_dir} to replace it with this one")
    jobcontext.publish(conn, config, files)
    workers = _live_workers(conn)
    out.write(f"{config_dir}: valid; version {config.version} published to {describe(conn)}; "
              f"{workers} live worker(s) load it at their next job\n")
    return 0


def _live_workers(conn: Any) -> int:
    # imported here: RQ loads only for the commands that read the queues
    from rq import Worker

    return len(Worker.all(connection=conn))


def _print_check(matcher: Any, path: Path, out: TextIO) -> None:
    # imported here: numpy loads only for the commands that normalize text
    from newsmon.normalize import normalize

    topics = matcher.keywords.topics
    out.write(f"{path}: valid ({len(topics)} topics, {matcher.alias_count} alias keys)\n")
    for topic_id, topic in topics.items():
        langs = f" [{', '.join(topic.languages)}]" if topic.languages else ""
        out.write(f"\n{topic_id}: {topic.name}{langs}\n")
        for role, rule in matcher.rules[topic_id]:
            flags = []
            if rule.suffixes is None:
                flags.append("any ending")
            elif not rule.suffixes:
                flags.append("no suffix")
            if not rule.prefixes:
                flags.append("exact")
            if rule.case_sensitive:
                flags.append("capitals only")
            note = f"  ({', '.join(flags)})" if flags else ""
            keys = " | ".join(rule.keys)
            shown = normalize(rule.term.rstrip("*")).text
            out.write(f"  {role:<10} {rule.term}  →  {shown}   keys: {keys}{note}\n")
            out.writelines(f"  {'':<10} left out: {form} (a generated form that is {why}; "
                          f"`keep: [{form}]` matches it)\n" for form, why in rule.dropped)


def _input(args: argparse.Namespace) -> tuple[str, str, str | None]:
    if args.text is not None:
        return "", args.text, None
    if args.file is not None:
        title, _, body = args.file.read_text(encoding="utf-8").partition("\n")
        return title.strip(), body, None
    return fetch_and_extract(args.url)


def fetch_and_extract(url: str) -> tuple[str, str, str | None]:
    """Fetch a page and extract it with the crawler's extractor: (title, text, language)."""
    extracted, language, _final = fetch_article(url)
    return extracted.title, extracted.text, language


def fetch_article(url: str) -> tuple[Any, str | None, str]:
    """Fetch a page and extract it with the crawler's extractor: (what was extracted, its language, the
    URL after redirects).

    Raises:
        FetchError: the page could not be fetched or holds no article.
    """
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from w3lib.encoding import html_to_unicode

    from newsmon.crawler.extract import extract_article
    from newsmon.crawler.language import detect_language

    request = urllib.request.Request(url, headers={"User-Agent": "newsmon keywords test"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            body = response.read()
            content_type = response.headers.get("Content-Type")
            final_url = response.geturl()
    except OSError as exc:
        raise FetchError(f"could not fetch {url}: {exc}") from exc
    _encoding, html = html_to_unicode(content_type, body)
    extracted = extract_article(html, final_url)
    return extracted, detect_language(extracted.text, extracted.language, "en"), final_url


def _hits(result: Any) -> list[dict[str, Any]]:
    return [
        {"topic": m.topic, "alias": h.term, "match": h.text, "start": h.start, "end": h.end, "field": h.field}
        for m in result.matches
        for h in m.hits
    ]


def _as_json(result: Any) -> dict[str, Any]:
    return {
        "topics": [m.topic for m in result.matches],
        "hits": _hits(result),
        "suppressed": {topic: [h.text for h in hits] for topic, hits in result.suppressed.items()},
    }


def _jsonl_result(matcher: Any, record: dict[str, Any]) -> dict[str, Any]:
    # imported here: the crawler's modules load only for the commands that need them
    from newsmon.crawler.language import detect_language

    title, text = record.get("title") or "", record.get("text") or ""
    # the line's language, else the one the crawler would detect: printed, so detection can be scored
    language = record.get("lang") or detect_language(f"{title}\n{text}")
    result = matcher.match(title, text, language)
    hits = [{k: v for k, v in hit.items() if k != "field"} for hit in _hits(result) if hit["field"] == "text"]
    return {"id": record.get("id"), "language": language, "topics": [m.topic for m in result.matches],
            "hits": hits}


def _print_result(result: Any, title: str, text: str, out: TextIO) -> None:
    if not result.matches:
        out.write("no topic matched\n")
    for match in result.matches:
        out.write(f"{match.topic}: {match.name}\n")
        spans: dict[tuple[str, int, int], list[str]] = {}
        for hit in match.hits:
            spans.setdefault((hit.field, hit.start, hit.end), []).append(hit.term)
        for (field, start, end), aliases in spans.items():
            source = title if field == "title" else text
            before = source[max(0, start - 40):start].replace("\n", " ")
            after = source[end:end + 40].replace("\n", " ")
            out.write(
                f"  {field} {start}-{end} [{', '.join(aliases)}]: …{before}[[{source[start:end]}]]{after}…\n"
            )
    out.writelines(
        f"{topic}: suppressed by {', '.join(repr(h.text) for h in hits)}\n"
        for topic, hits in result.suppressed.items()
    )


def _suggest(args: argparse.Namespace, config_dir: Path, out: TextIO) -> int:
    """List the spellings the archive holds that the config misses, or add accepted ones."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.app.cli_archive import parse_since
    from newsmon.workers.archive import open_engine
    from newsmon.workers.suggest import suggest

    path = config_dir / KEYWORDS_FILE
    keywords = load_keywords(path)
    if args.topic is not None and args.topic not in keywords.topics:
        raise UsageError(f"--topic {args.topic!r}: not in {path.name}; topics: {', '.join(keywords.topics)}")
    if args.accept:
        if args.topic is None:
            raise UsageError("--accept needs --topic: the topic whose aliases the spellings join")
        added = accept_aliases(path, args.topic, args.accept)
        out.write(f"added to topics.{args.topic}.any in {path}: {', '.join(added) or 'nothing new'}\n"
                  "run `newsmon keywords reload` to give running workers the new aliases\n")
        return 0
    engine = open_engine(Runtime.from_env().archive_url(must_exist=True))
    found = suggest(engine, keywords, parse_since(args.since), args.topic, args.limit, args.min_stories)
    for topic, suggestions in found.items():
        if args.json:
            out.writelines(json.dumps(s.as_dict(), ensure_ascii=False) + "\n" for s in suggestions)
            continue
        out.write(f"{topic}: {len(suggestions) or 'no'} suggestion{'' if len(suggestions) == 1 else 's'}\n")
        for s in suggestions:
            out.write(f"  {s.candidate}  ({s.kind} {s.like}; {s.stories} stories, {s.new} not tagged yet; "
                      f"context {s.context:.2f})\n")
            out.writelines(f"      {example}\n" for example in s.examples)
    if not args.json and any(found.values()):
        out.write("add one with: newsmon keywords suggest --topic TOPIC --accept SPELLING\n")
    return 0


def accept_aliases(path: Path, topic: str, aliases: list[str]) -> list[str]:
    """Append aliases to a topic's `any` list in keywords.yaml, keeping the file's comments and layout
    (ruamel.yaml round trip); the file is checked before it is replaced. Returns those added.

    Raises:
        ConfigError: the result would not load (the file is left as it was).
    """

    # imported here: ruamel.yaml loads only for `keywords suggest --accept`
    from ruamel.yaml import YAML  # round-trips comments and layout, which PyYAML drops

    from newsmon.workers.matcher import Matcher

    yaml = YAML()  # round-trip mode: comments, order and quoting kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the shipped files' layout: "    any:\n      - alias"
    original = path.read_text(encoding="utf-8")
    data = yaml.load(original)
    known = {str(a) if isinstance(a, str) else str(a.get("term")) for a in data["topics"][topic]["any"]}
    added = [a for a in dict.fromkeys(aliases) if a not in known]
    data["topics"][topic]["any"].extend(added)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    tmp = path.with_name(f".{path.name}.accept")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        Matcher(load_keywords(tmp), source=str(path))  # refuse what would not load, before replacing the file
    except BaseException:
        tmp.unlink()
        raise
    tmp.replace(path)
    return added
