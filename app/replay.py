"""A local replay site of outlet feeds and article pages, served on 127.0.0.1 (demo, tests, benchmarks).

Feeds are rendered as RSS 2.0 on each request from the items published so far, with ETag and
Last-Modified validators, so conditional GET works as on a real outlet. Articles are rendered as
outlet-like HTML pages (navigation, related links, footer around the story). Any path can also be
given a fixed response (a status, a body, a content type, a delay) to replay broken outlets.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml

from newsmon.languages import RIGHT_TO_LEFT
from newsmon.models import as_utc

DEMO_SITE = Path(__file__).parent / "demo_site"


@dataclass
class Article:
    """One story on the replay site."""

    path: str
    title: str
    paragraphs: list[str]
    language: str
    outlet: str
    published: datetime
    author: str = ""


@dataclass
class Feed:
    """One RSS feed on the replay site and the articles it lists, newest last."""

    path: str
    title: str
    language: str
    outlet: str
    articles: list[Article] = field(default_factory=list)
    hub: str | None = None  # a WebSub hub the feed names (with its own address as the topic)


@dataclass
class Fixed:
    """A fixed response for a path."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class ReplaySite:
    """The replay site's content; thread-safe, changed by tests while the server runs."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.articles: dict[str, Article] = {}
        self.fixed: dict[str, Fixed] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.honor_conditional = True  # False: answer like outlets that ignore If-None-Match
        self.accept_posts = False  # True (the compose stack's replay service): POST /_publish adds a story

    # --- content ------------------------------------------------------------------------------

    def add_feed(self, feed: Feed) -> Feed:
        """Publish a feed (and the articles already in it)."""
        with self.lock:
            self.feeds[feed.path] = feed
            for article in feed.articles:
                self.articles[article.path] = article
        return feed

    def publish(self, feed_path: str, article: Article) -> None:
        """Add a new article to a feed, as an outlet publishing a story."""
        with self.lock:
            self.feeds[feed_path].articles.append(article)
            self.articles[article.path] = article

    def add_article(self, article: Article) -> None:
        """Serve an article page that no feed lists (found through a listing, sitemap or post)."""
        with self.lock:
            self.articles[article.path] = article

    def set_fixed(self, path: str, response: Fixed) -> None:
        """Serve a fixed response at `path` (overrides feeds and articles)."""
        with self.lock:
            self.fixed[path] = response

    @classmethod
    def demo(cls, directory: Path = DEMO_SITE, now: datetime | None = None) -> ReplaySite:
        """The bundled demo site: Kurdish and Iraqi outlets in Arabic, Sorani, Kurmanji and English. With
        `now`, its stories are dated as if just published (redate)."""
        site = cls()
        spec = yaml.safe_load((directory / "site.yaml").read_text(encoding="utf-8"))
        for feed_spec in spec["feeds"]:
            feed = Feed(feed_spec["path"], feed_spec["title"], feed_spec["language"], feed_spec["outlet"])
            for item in feed_spec["items"]:
                if "file" in item:
                    title, paragraphs = read_story_file(directory / item["file"])
                else:
                    title, paragraphs = item["title"], item["paragraphs"]
                feed.articles.append(Article(
                    path=item["path"], title=title, paragraphs=paragraphs, language=feed.language,
                    outlet=feed.outlet, published=as_utc(item["published"]), author=item.get("author", ""),
                ))
            site.add_feed(feed)
        if now is not None:
            redate([a for f in site.feeds.values() for a in f.articles], now)
        return site

    # --- rendering ----------------------------------------------------------------------------

    def render_feed(self, feed: Feed, base: str) -> bytes:
        """RSS 2.0 of a feed, newest first."""
        items = []
        for article in reversed(feed.articles):
            link = html.escape(base + quote(article.path))
            items.append(
                f"<item><title>{html.escape(article.title)}</title><link>{link}</link>"
                f"<guid isPermaLink=\"true\">{link}</guid>"
                f"<pubDate>{format_datetime(article.published)}</pubDate>"
                f"<description>{html.escape(article.paragraphs[0][:200])}</description></item>"
            )
        hub = (f'<atom:link rel="hub" href="{html.escape(feed.hub)}"/>'
               f'<atom:link rel="self" href="{html.escape(base + quote(feed.path))}"/>' if feed.hub else "")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>{html.escape(feed.title)}</title><link>{html.escape(base)}/</link>{hub}"
            f"<language>{feed.language}</language><description>{html.escape(feed.outlet)}</description>"
            + "".join(items)
            + "</channel></rss>\n"
        ).encode("utf-8")

    @staticmethod
    def render_article(article: Article, base: str) -> bytes:
        """An outlet-like article page."""
        direction = "rtl" if article.language in RIGHT_TO_LEFT else "ltr"
        url = html.escape(base + quote(article.path))
        body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
        nav = "".join(
            f'<li><a href="/section/{i}">{html.escape(article.outlet)} {i}</a></li>' for i in range(1, 9)
        )
        related = "".join(f'<li><a href="/related/{i}">Related story {i}</a></li>' for i in range(1, 6))
        author = f'<meta name="author" content="{html.escape(article.author)}">' if article.author else ""
        return f"""<!DOCTYPE html>
<html lang="{article.language}" dir="{direction}">
<head><meta charset="utf-8"><title>{html.escape(article.title)} | {html.escape(article.outlet)}</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="{html.escape(article.title)}">
<meta property="article:published_time" content="{article.published.isoformat()}">{author}
</head>
<body>
<header><div class="logo">{html.escape(article.outlet)}</div><nav><ul>{nav}</ul></nav></header>
<main><article>
<h1>{html.escape(article.title)}</h1>
<time datetime="{article.published.isoformat()}">{article.published:%Y-%m-%d %H:%M}</time>
<div class="article-body">
{body}
</div>
</article>
<aside><h3>More news</h3><ul>{related}</ul></aside></main>
<footer><p>&copy; {html.escape(article.outlet)}. All rights reserved.</p></footer>
</body></html>
""".encode()

    # --- serving ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        site = self

        class Handler(_Handler):
            replay = site

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="replay-site", daemon=True).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """The base URL of the running server."""
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class _Handler(BaseHTTPRequestHandler):
    replay: ReplaySite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:

        path = unquote(urlsplit(self.path).path)
        site = self.replay
        # links as the asker reached the site (a service name in a compose network), not the bound address
        host = self.headers.get("Host", "")
        base = f"http://{host}" if host and "/" not in host and " " not in host else site.base_url
        with site.lock:
            site.hits[path] = site.hits.get(path, 0) + 1
            fixed = site.fixed.get(path)
            feed = site.feeds.get(path)
            article = site.articles.get(path)
            if fixed is None and feed is not None:
                body = site.render_feed(feed, base)
            elif fixed is None and article is not None:
                body = site.render_article(article, base)
        if fixed is not None:
            if fixed.delay:
                time.sleep(fixed.delay)
            return self._send(fixed.status, fixed.body, fixed.content_type, fixed.headers)
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if feed is not None:
            return self._send_validated(body, "application/rss+xml; charset=utf-8")
        if article is not None:
            return self._send(200, body, "text/html; charset=utf-8")
        return self._send(404, b"<html><body>not found</body></html>", "text/html")

    def do_POST(self) -> None:
        """`POST /_publish` {"feed": path, "path": ..., "title": ..., "paragraphs": [...]}: the feed
        publishes a story dated now (only with `accept_posts`: the deployment check's new stories)."""
        site = self.replay
        if not site.accept_posts or urlsplit(self.path).path != "/_publish":
            return self._send(404, b"not found\n", "text/plain")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            item = json.loads(self.rfile.read(min(length, 1_000_000)))
            feed = site.feeds[item["feed"]]
            site.publish(feed.path, Article(path=str(item["path"]), title=str(item["title"]),
                                            paragraphs=[str(p) for p in item["paragraphs"]],
                                            language=feed.language, outlet=feed.outlet,
                                            published=datetime.now(UTC)))
        except (ValueError, KeyError, TypeError) as exc:
            return self._send(400, f"bad story: {exc!r}\n".encode(), "text/plain")
        return self._send(201, b"published\n", "text/plain")

    def _send_validated(self, body: bytes, content_type: str) -> None:
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.replay.honor_conditional and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, body, content_type, {"ETag": etag})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


APART_HOURS = 25  # redate: two stories more than a day apart (events.window_hours) stay this far apart


def redate(articles: list[Article], now: datetime) -> None:
    """Date stories as if just published, keeping their order and what is one day's news: the newest 10
    minutes before `now`, each older one as far behind the one after it as it was, except that a gap of
    more than a day (years between the 2017 seed story and the rest) shrinks to APART_HOURS. Stories of
    one day stay minutes apart; stories of different days stay more than a day apart, so redating
    never makes one event of two. A demo's stories are then news, not years-old pages that a first poll
    or a stale check would set aside."""
    ordered = sorted(articles, key=lambda a: a.published, reverse=True)
    if not ordered:
        return
    originals = [a.published for a in ordered]
    moment = now - timedelta(minutes=10)
    for index, article in enumerate(ordered):
        if index:
            moment -= min(originals[index - 1] - originals[index], timedelta(hours=APART_HOURS))
        article.published = moment


def read_story_file(path: Path) -> tuple[str, list[str]]:
    """A story text file: the first line is the title, blank-line separated paragraphs follow."""
    lines = path.read_text(encoding="utf-8").strip().split("\n\n")
    return lines[0].strip(), [p.strip() for p in lines[1:] if p.strip()]


def main(argv: list[str] | None = None) -> int:
    """`python -m newsmon.app.replay`: the demo's replay site as a service of its own (the compose stack's
    `replay` profile), accepting `POST /_publish`, until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m newsmon.app.replay", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    args = parser.parse_args(argv)
    site = ReplaySite.demo()
    site.accept_posts = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"replay site on {site.start(args.host, args.port)}/ with {len(site.feeds)} feeds", flush=True)
    stop.wait()
    site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
