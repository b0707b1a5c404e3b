"""Dates as Iraqi and Kurdish outlets write them, normalized to UTC with the outlet's time zone.

Handles ISO 8601 and RFC 2822, and day–month–year dates with month names in English, Arabic
(يناير ... and the Levantine/Iraqi كانون الثاني, شباط, آذار ... تشرين الأول), Sorani (کانوونی
دووەم ... ) and Kurmanji (Kanûna Paşîn/Çile ... Berfanbar), in Arabic-Indic or ASCII digits,
with an optional time (and ص/م or AM/PM).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsmon.normalize import normalize_text

_MONTHS_RAW = {
    1: ["january", "jan", "يناير", "كانون الثاني", "کانوونی دووەم", "rêbendan", "kanûna paşîn", "çile"],
    2: ["february", "feb", "فبراير", "شباط", "شوبات", "reşemeh", "sibat"],
    3: ["march", "mar", "مارس", "آذار", "ازار", "ئازار", "adar"],
    4: ["april", "apr", "أبريل", "ابريل", "نيسان", "نیسان", "nîsan"],
    5: ["may", "مايو", "أيار", "ايار", "ئایار", "gulan"],
    6: ["june", "jun", "يونيو", "حزيران", "حوزەیران", "hezîran"],
    7: ["july", "jul", "يوليو", "تموز", "تەممووز", "tîrmeh"],
    8: ["august", "aug", "أغسطس", "اغسطس", "آب", "اب", "ئاب", "tebax"],
    9: ["september", "sep", "sept", "سبتمبر", "أيلول", "ايلول", "ئەیلوول", "îlon", "ilon"],
    10: ["october", "oct", "أكتوبر", "اكتوبر", "تشرين الأول", "تشرينی یەکەم", "cotmeh"],
    11: ["november", "nov", "نوفمبر", "تشرين الثاني", "تشرینی دووەم", "mijdar"],
    12: ["december", "dec", "ديسمبر", "كانون الأول", "کانوونی یەکەم", "berfanbar", "kanûna pêşîn"],
}
_MONTHS = {normalize_text(name): month for month, names in _MONTHS_RAW.items() for name in names}
_MONTH_ALTERNATION = "|".join(sorted((re.escape(n) for n in _MONTHS), key=len, reverse=True))
_AT = "|".join(re.escape(normalize_text(w)) for w in ("الساعة", "کاتژمێر", "saet", "at"))
_YEAR_WORD = "|".join(re.escape(normalize_text(w)) for w in ("سنة", "عام", "ساڵی", "sala"))
_AMPM = "|".join(re.escape(normalize_text(w)) for w in ("am", "pm", "ص", "م", "ب.ظ", "پ.ن", "د.ن"))
_PM = {normalize_text(w) for w in ("pm", "م", "ب.ظ", "د.ن")}
_AM = {normalize_text(w) for w in ("am", "ص", "پ.ن")}
_DMY = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s*(?:-|/|ي|e|a)?\s*(?P<month>{_MONTH_ALTERNATION})(?:ي|e|a)?"
    rf"(?:\s*\(\s*\d{{1,2}}\s*\))?\s*[,،]?\s*(?:{_YEAR_WORD})?\s*(?P<year>\d{{4}})"
    rf"(?:[\s,،-]*(?:{_AT})?\s*(?P<hour>\d{{1,2}})[:.](?P<minute>\d{{2}})(?:[:.]\d{{2}})?"
    rf"\s*(?P<ampm>{_AMPM})?(?!\w))?",
)
_EXPLICIT_ZONE = re.compile(r"(?:\bGMT|\bUTC|\bUT|[+-]\d{2}:?\d{2})\s*$")
_NUMERIC = re.compile(r"(?<!\d)(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})"
                      r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2}))?")


def zone(name: str | None) -> timezone | ZoneInfo:
    """A time zone by name; UTC when unknown."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def to_utc(value: datetime, tz_name: str | None) -> datetime:
    """A datetime in UTC; a naive one is read in the outlet's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz_name))
    return value.astimezone(UTC)


def _rfc2822(raw: str, tz_name: str | None) -> datetime | None:
    try:
        return to_utc(parsedate_to_datetime(raw), tz_name)
    except (TypeError, ValueError, IndexError):
        return None


def parse_date(text: str, tz_name: str | None = "Asia/Baghdad") -> datetime | None:
    """Parse a date as outlets write it; None when there is no date in the text."""
    if not text or not text.strip():
        return None
    raw = text.strip()
    try:
        return to_utc(datetime.fromisoformat(raw), tz_name)
    except ValueError:
        pass
    if _EXPLICIT_ZONE.search(raw) and (parsed := _rfc2822(raw, tz_name)):
        return parsed
    norm = normalize_text(raw)
    match = _DMY.search(norm)
    if match:
        month = _MONTHS[match.group("month")]
    else:
        match = _NUMERIC.search(norm)
        if not match:
            return _rfc2822(raw, tz_name)
        month = int(match.group("month"))
    try:
        hour = int(match.group("hour") or 0)
        ampm = match.groupdict().get("ampm")
        if ampm in _PM and hour < 12:
            hour += 12
        elif ampm in _AM and hour == 12:
            hour = 0
        value = datetime(int(match.group("year")), month, int(match.group("day")), hour,
                         int(match.group("minute") or 0))
    except ValueError:
        return None
    return to_utc(value, tz_name)
