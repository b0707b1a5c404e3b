"""One sanitation step for text that comes from outside (feeds, pages, posts), applied when a story is
made, in the crawler and again when a worker reads a job, so no role ever sees worse.

- Lone surrogates (which cannot be encoded as UTF-8) become U+FFFD.
- C0 and C1 control characters are removed everywhere but for tab and newline in bodies.
- In one-line fields (titles, outlet names, authors, and so subjects and chat titles) bidi embeddings,
  overrides and isolates (LRE RLE PDF LRO RLO LRI RLI FSI PDI) are removed as well, and any line break
  becomes a space: a headline cannot reorder or break the line around it. What Arabic and Kurdish text
  needs is kept: ZWNJ, ZWJ, and the LRM/RLM/ALM marks.
- An RFC 2047 encoded word in a one-line field (`=?utf-8?q?...?=`, which a mail client would decode) whose
  decoded text holds a control, a line break or a bidi override is replaced by its decoded text, cleaned:
  what decodes to a control is removed like a control (the mail subject encodes `=?` itself, so a
  harmless encoded word stays literal text).
- Titles are capped at TITLE_MAX characters and texts at TEXT_MAX, with "…" and a note saying so.
"""

from __future__ import annotations

import re
from email.header import decode_header

TITLE_MAX = 300
TEXT_MAX = 100_000
TEXT_CUT_NOTE = "\n\n[newsmon: text cut at 100,000 characters]"

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROLS_BODY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029\x85]+")
_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,40}\?[qQbB]\?[^?\s]*\?=")


def _decoded(word: str) -> str:
    """What a mail client would show for one encoded word (the word itself when it does not decode)."""
    try:
        parts = decode_header(word)
        return "".join(part.decode(charset or "ascii", "replace") if isinstance(part, bytes) else part
                       for part, charset in parts)
    except (ValueError, LookupError):
        return word


def _defuse_word(match: re.Match[str]) -> str:
    decoded = _decoded(match.group(0))
    if _CONTROLS_LINE.search(decoded) or _LINE_BREAKS.search(decoded):
        return " ".join(_CONTROLS_LINE.sub("", _LINE_BREAKS.sub(" ", decoded)).split())
    return match.group(0)


def clean_body(text: str, limit: int = TEXT_MAX) -> str:
    """A body text: surrogates replaced, control characters removed (tab and newlines kept), capped."""
    text = _CONTROLS_BODY.sub("", _SURROGATE.sub("\ufffd", text)).replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        text = text[:limit].rstrip() + "…" + TEXT_CUT_NOTE
    return text


def clean_line(text: str, limit: int = TITLE_MAX) -> str:
    """A one-line field: surrogates replaced, encoded words that decode to controls defused, controls and
    bidi embeddings/overrides/isolates removed, line breaks folded to spaces, capped with "…"."""
    text = _SURROGATE.sub("\ufffd", text)
    if "=?" in text:
        text = _ENCODED_WORD.sub(_defuse_word, text)
    text = _LINE_BREAKS.sub(" ", text)
    text = " ".join(_CONTROLS_LINE.sub("", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
