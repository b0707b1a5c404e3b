"""Events: the reports of one happening across languages, outlets and story clusters.

Clusters (workers/dedupe.py) hold the copies of one story in one language; an event holds the clusters
that report the same happening: an Arabic, a Sorani, a Kurmanji and an English report of one rocket
attack, or two Arabic reports written apart. Alerts are sent once per event and topic (a desk can ask
for every cluster with `events: false`), breaking counts an event's outlets whatever their language,
and digests, `explain` and the web page list an event's other reports.

How membership is decided (every threshold is in newsmon.yaml `events:`). A new report is compared
with the reports of the last `window_hours` that share a name or a number with it
(workers/eventfeatures.py reads them from the title and lead, and the concepts of what happened from
workers/eventconcepts.py):

    evidence = shared names (1 each, 0.5 for a name frequent among the window's reports) + shared numbers
    score    = evidence + concept_weight × shared concepts − late_penalty (reports over late_hours apart)
               + edition_bonus (one outlet's editions in two languages, edition_hours apart at most)
               − the conflict penalties (headlines about different people, different days of the week)

Two reports agree when evidence ≥ min_names and score ≥ min_score. The report joins the event of its
best-agreeing report when it also agrees with `agreement` of that event's reports in the window, or with
at least `agreement_reports` of them (so one lucky match does not chain two events together); otherwise
it opens an event of its own, named by its cluster. Precision comes first: a wrong merge hides a story
from a desk, so every membership keeps the evidence that made it (`Assignment.evidence`: which words
matched which, numbers, concepts, whether it was an edition, hours apart, how many of the event's reports
agreed), stored with the story in the archive.

The index lives in Redis so that every worker sees the same events (keys under keys.EVENTS_PREFIX, all
expiring after two windows). Two workers deciding related reports at the same moment may open two events
where one would do: the cost is one alert more, never a hidden story.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsmon import keys
from newsmon.models import Story
from newsmon.settings import EventSettings, PipelineFile
from newsmon.workers.eventfeatures import Features, features

__all__ = ["Assignment", "EventIndex", "Features", "agrees", "event_of", "features", "pair_score",
           "shared_events"]

MOST_CANDIDATES = 60  # reports compared with a new one: those sharing the most evidence keys with it
FREQUENT_SHARE = 0.1   # a name in more than this share of the window's reports (and in 3+) weighs half
MOST_HOLDERS = 500     # a key held by more reports than this is not read for candidates


@dataclass(frozen=True)
class Assignment:
    """The event a report belongs to, and the evidence that put it there (None: it opened the event,
    or it is a copy in a cluster whose event was already decided)."""

    event: str
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class PairScore:
    """How much two reports say they tell one happening."""

    score: float
    evidence: float
    names: list[tuple[str, str]]
    numbers: list[str]
    concepts: list[str]
    edition: bool = False


def pair_score(new: Features, other: Features, settings: EventSettings, hours: float,
               weight: Any = None, editions: bool = False) -> PairScore:
    """Score a new report against an earlier one (`weight(key)` weighs a shared name key; 1 without it).
    `editions`: the two come from one outlet in two languages."""
    by_word: dict[str, tuple[float, str]] = {}
    for key in new.names.keys() & other.names.keys():
        w = weight(key) if weight else 1.0
        word = new.names[key]
        if w > by_word.get(word, (0.0, ""))[0]:
            by_word[word] = (w, other.names[key])
    names = sum(w for w, _ in by_word.values())
    numbers = sorted(new.numbers & other.numbers)
    concepts = sorted(new.concepts & other.concepts)
    evidence = names + len(numbers)
    score = evidence + settings.concept_weight * len(concepts)
    if hours > settings.late_hours:
        score -= settings.late_penalty
    # an outlet's own language editions of one report (Kurdistan24 in Arabic at 07:00, in Sorani at
    # 08:10): an outlet does not tell one happening twice in one language, so two of its reports in two
    # languages, close in time and naming one name or number, are one report translated
    edition = editions and hours <= settings.edition_hours and evidence >= 1
    if edition:
        score += settings.edition_bonus
    if new.numbers and other.numbers and not numbers:  # each gives counts, none agree: 4 killed, 11 killed
        score -= settings.number_conflict_penalty
    if (new.first and other.first and not new.first & other.names.keys()
            and not other.first & new.names.keys()):  # each headline is about someone the other never names
        score -= settings.headline_conflict_penalty
    if new.days and other.days and not new.days & other.days:  # on Friday; on Saturday
        score -= settings.weekday_conflict_penalty
    matched = sorted((word, there) for word, (_, there) in by_word.items())
    return PairScore(round(score, 2), round(evidence, 2), matched, numbers, concepts, edition)


def agrees(pair: PairScore, settings: EventSettings) -> bool:
    """Whether a pair's evidence is enough for one happening."""
    return pair.evidence >= settings.min_names and pair.score >= settings.min_score


# One round trip each way for the evidence keys (a report has some 20 to 40): for each key, how many
# reports of the last two windows hold it and, when that is not too many, which of them lie within the
# window; and registering a report under all its keys, dropping the reports gone out of the index's span.
_READ_KEYS = """
-- KEYS: evidence keys; ARGV: since (two windows back), low, high, most holders
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('zcount', key, ARGV[1], ARGV[3])
  local members = {}
  if count > 0 and count <= tonumber(ARGV[4]) then
    members = redis.call('zrangebyscore', key, ARGV[2], ARGV[3])
  end
  out[i] = {count, members}
end
return out
"""
_REGISTER_KEYS = """
-- KEYS: evidence keys; ARGV: story, time, oldest time kept, ttl
for _, key in ipairs(KEYS) do
  redis.call('zadd', key, ARGV[2], ARGV[1])
  redis.call('zremrangebyscore', key, '-inf', ARGV[3])
  redis.call('expire', key, ARGV[4])
end
return #KEYS
"""


class EventIndex:
    """Decides the event of each report; shared by every worker through Redis."""

    def __init__(self, conn: Any, settings: EventSettings, copy_days: int = 14) -> None:
        self.conn = conn
        self.settings = settings
        self.window = settings.window_hours * 3600
        self.ttl = int(2 * self.window) + 60
        self.copy_ttl = max(copy_days * 86400, self.ttl)  # a copy may come as late as dedupe finds it
        self._read_keys = conn.register_script(_READ_KEYS)
        self._register_keys = conn.register_script(_REGISTER_KEYS)

    @staticmethod
    def _key(*parts: str) -> str:
        return ":".join((keys.EVENTS_PREFIX, *parts))

    def copy_event(self, cluster: str) -> str:
        """The event of a cluster's copies: the cluster's event, or the cluster itself."""
        found = self.conn.get(self._key("cluster", cluster))
        return found.decode() if isinstance(found, bytes) else (found or cluster)

    def assign(self, story_id: str, cluster: str, report: Features, at: datetime | float, language: str,
               outlet: str) -> Assignment:
        """The event of a report that opened a cluster; registers it for the reports to come. Asking again
        for the same story returns the first answer (a retried job changes nothing)."""
        ts = at.timestamp() if isinstance(at, datetime) else float(at)
        stored = self.conn.get(self._key("report", story_id))
        if stored:
            data = json.loads(stored)
            return Assignment(data["event"], data.get("evidence"))
        recent = self._key("recent")
        self.conn.zremrangebyscore(recent, "-inf", ts - self.ttl)
        evidence_keys = list(report.names) + [f"#{n}" for n in report.numbers]
        assignment = Assignment(cluster)
        if evidence_keys and self.settings.enabled:
            assignment = self._decide(story_id, report, ts, evidence_keys, language, outlet) or assignment
        self._register(story_id, cluster, report, ts, language, outlet, evidence_keys, assignment)
        return assignment

    def _decide(self, story_id: str, report: Features, ts: float, evidence_keys: list[str], language: str,
                outlet: str) -> Assignment | None:
        low, high = ts - self.window, ts + self.window
        # how frequent each key is among the reports of the last two windows (the index's span), and the
        # window's reports that hold it; a key most of them hold is not read for candidates (other keys
        # bring the reports that matter)
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcount(self._key("recent"), ts - 2 * self.window, high)
        self._read_keys(keys=[self._key("key", k) for k in evidence_keys],
                        args=[ts - 2 * self.window, low, high, MOST_HOLDERS], client=pipe)
        total, found = pipe.execute()
        frequent = max(2.0, FREQUENT_SHARE * max(int(total), 1))
        weights = {key: (1.0 if key.startswith("#") or count <= frequent else 0.5)
                   for key, (count, _) in zip(evidence_keys, found)}
        shared: dict[str, float] = {}
        for key, (_, members) in zip(evidence_keys, found):
            for member in members:
                other = member.decode() if isinstance(member, bytes) else member
                if other != story_id:
                    shared[other] = shared.get(other, 0.0) + weights[key]
        near = sorted(shared, key=lambda s: -shared[s])[:MOST_CANDIDATES]
        if not near:
            return None

        def weight(key: str) -> float:
            return weights.get(key, 1.0)

        raws = self.conn.mget([self._key("report", s) for s in near])
        reports = {s: json.loads(raw) for s, raw in zip(near, raws) if raw}
        scored: list[tuple[PairScore, str, dict[str, Any]]] = []
        for other_id, other in reports.items():
            hours = abs(other["ts"] - ts) / 3600
            editions = bool(outlet) and other["outlet"] == outlet and other["language"] != language
            pair = pair_score(report, Features.from_dict(other["features"]), self.settings, hours, weight,
                              editions)
            if agrees(pair, self.settings):
                scored.append((pair, other_id, other))
        scored.sort(key=lambda item: -item[0].score)
        tried: set[str] = set()
        for pair, other_id, other in scored:
            event = other["event"]
            if event in tried:
                continue
            tried.add(event)
            agreeing, compared = self._agreement(event, ts, {s for _, s, o in scored if o["event"] == event})
            if compared and (agreeing / compared + 1e-9 >= self.settings.agreement
                             or agreeing >= self.settings.agreement_reports):
                return Assignment(event, {
                    "matched": other_id, "matched_language": other["language"],
                    "matched_outlet": other["outlet"],
                    "score": pair.score, "names": [list(n) for n in pair.names], "numbers": pair.numbers,
                    "concepts": pair.concepts, "hours": round(abs(other["ts"] - ts) / 3600, 1),
                    "edition": pair.edition,
                    "agreeing": agreeing, "compared": compared,
                })
        return None

    def _agreement(self, event: str, ts: float, agreeing: set[str]) -> tuple[int, int]:
        """(reports of the event in the window that agree with the new one, reports of it in the window)"""
        found = self.conn.smembers(self._key("members", event))
        members = [m.decode() if isinstance(m, bytes) else m for m in found]
        if not members:
            return 0, 0
        times = self.conn.zmscore(self._key("recent"), members)
        within = [m for m, t in zip(members, times) if t is not None and abs(t - ts) <= self.window]
        return sum(1 for m in within if m in agreeing), len(within)

    def _register(self, story_id: str, cluster: str, report: Features, ts: float, language: str, outlet: str,
                  evidence_keys: list[str], assignment: Assignment) -> None:
        pipe = self.conn.pipeline(transaction=False)
        record = {"cluster": cluster, "event": assignment.event, "evidence": assignment.evidence, "ts": ts,
                  "language": language, "outlet": outlet, "features": report.as_dict()}
        pipe.set(self._key("report", story_id), json.dumps(record, ensure_ascii=False), ex=self.ttl)
        pipe.zadd(self._key("recent"), {story_id: ts})
        pipe.expire(self._key("recent"), self.ttl)
        if evidence_keys:
            self._register_keys(keys=[self._key("key", k) for k in evidence_keys],
                                args=[story_id, ts, ts - self.ttl, self.ttl], client=pipe)
        pipe.sadd(self._key("members", assignment.event), story_id)
        pipe.expire(self._key("members", assignment.event), self.ttl)
        pipe.set(self._key("cluster", cluster), assignment.event, ex=self.copy_ttl, nx=True)
        pipe.execute()


_indexes: dict[tuple[int, str], EventIndex] = {}


def shared_events(conn: Any, pipeline: PipelineFile) -> EventIndex:
    """The event index on a connection, made once per process and settings."""
    key = (id(conn), pipeline.events.model_dump_json() + str(pipeline.dedupe.window_days))
    if key not in _indexes:
        _indexes[key] = EventIndex(conn, pipeline.events, pipeline.dedupe.window_days)
    return _indexes[key]


def event_of(index: EventIndex, story: Story, cluster: str, kind: str, decide: bool) -> Assignment:
    """A processed story's event: a copy takes its cluster's; a story that opened a cluster is decided when
    `decide` (it carries a topic: stories no desk will hear of are not compared), else its cluster is
    its event."""
    if kind != "new":
        return Assignment(index.copy_event(cluster))
    if not decide or not index.settings.enabled:
        return Assignment(cluster)
    return index.assign(story.id, cluster, features(story.title, story.text, story.language, story.published),
                        story.published or story.fetched, story.language, story.outlet)
