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


class SafeTargetMiddleware:
    """Resolves each request's host (with the crawler's caching resolver) and refuses private targets."""

    def __init__(self, allowed_hosts: set[str]) -> None:
        self.allowed = allowed_hosts

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeTargetMiddleware:
        hosts = crawler.settings.getlist("NEWSMON_ALLOWED_PRIVATE_HOSTS")
        return cls({h.lower() for h in hosts})

    async def process_request(self, request: Request, spider: Any = None) -> None:
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if not host or f"{host}:{parts.port}" in self.allowed or host in self.allowed:
            return
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            from twisted.internet import reactor

            try:
                address = await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - DNS errors take many shapes; the download reports them
                log.debug("could not resolve %s before fetching: %s", host, exc)
                return
        if is_private(address):
            raise IgnoreRequest(f"refused: {host} is a private address ({address})")
        return
