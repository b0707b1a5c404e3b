"""Operator-written patterns that run on hostile input: URL regexes on RE2 (linear time, so no pattern
can make the crawler backtrack for minutes), CSS selectors and XPaths compiled before they are used.

Each `compile_*` raises ValueError with a message fit for `config check` when the pattern is refused.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def compile_link_pattern(pattern: str) -> Any:
    """An RE2 regex. Backreferences and lookaround have no linear-time form and are refused."""
    # imported here: these load only for configs with listing sources
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not supported by the linear-time regex engine (RE2: {detail}); backreferences "
                         f"and lookaround are not allowed") from None


@lru_cache(maxsize=256)
def css_to_xpath(selector: str) -> str:
    """The XPath of a CSS selector, checked to compile."""
    # imported here: these load only for configs with listing sources
    from cssselect import SelectorError
    from parsel.csstranslator import HTMLTranslator

    try:
        xpath = HTMLTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"not a valid CSS selector: {exc}") from None
    compile_xpath(xpath)
    return xpath


@lru_cache(maxsize=256)
def compile_xpath(xpath: str) -> Any:
    """An lxml XPath, checked to compile."""
    # imported here: these load only for configs with listing sources
    from lxml import etree

    try:
        return etree.XPath(xpath)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"not a valid XPath: {exc}") from None
