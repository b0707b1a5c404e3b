"""Downloader middleware that refuses requests to private addresses (a hostile feed must not make the
crawler probe the internal network). Only the hosts of configured sources may be such addresses."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future

log = logging.getLogger(__name__)

_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


def is_private(address: str) -> bool:
    """Loopback, private, link-local, reserved, multicast, unspecified or a cloud metadata address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip in _METADATA
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or (ip.version == 4 and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def source_hosts(config: Any) -> set[str]:
    """The hosts (`host` and `host:port`) of every configured source."""
    hosts = set()
    for source in config.sources.sources:
        parts = urlsplit(source.url)
        host = (parts.hostname or "").lower()
        hosts.add(f"{host}:{parts.port}" if parts.port else host)
    return hosts


class SafeTargetMiddleware:
    """Resolves each request's host (with the crawler's caching resolver) and refuses private targets."""

    def __init__(self, allowed_hosts: set[str], crawler: Crawler | None = None) -> None:
        self._allowed = allowed_hosts
        self._crawler = crawler
        self._version: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeTargetMiddleware:
        hosts = crawler.settings.getlist("NEWSMON_ALLOWED_PRIVATE_HOSTS")
        return cls({h.lower() for h in hosts}, crawler)

    @property
    def allowed(self) -> set[str]:
        """The configured sources' hosts, which may be private: those of the spider's running config (a
        source added by a reload is allowed at once), else the start-up settings'."""
        spider = getattr(self._crawler, "spider", None)
        config = getattr(spider, "config", None)
        if config is not None and getattr(config, "version", None) != self._version:
            self._allowed = source_hosts(config)
            self._version = config.version
        return self._allowed

    async def process_request(self, request: Request, spider: Any = None) -> None:
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        allowed = self.allowed
        if not host or f"{host}:{parts.port}" in allowed or host in allowed:
            return
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            # imported here: importing the reactor installs one; Scrapy installs its own first
            from twisted.internet import reactor

            try:
                address = await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - DNS errors take many shapes; the download reports them
                log.debug("could not resolve %s before fetching: %s", host, exc)
                return
        if is_private(address):
            raise IgnoreRequest(f"refused: {host} is a private address ({address})")
        return
