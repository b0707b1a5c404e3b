"""Adaptive polling: spend a request budget so that few new stories wait long for their poll.

What a plan predicts. A source posting r stories an hour and polled f times in that hour, evenly, leaves
each new story waiting between 0 and 1/f hours, evenly; so over the sources i and the next 24 hours h,
the share of stories that wait longer than d is sum r_ih (1 - d f_ih)+ / sum r_ih, and the mean wait is
sum r_ih / (2 f_ih) / sum r_ih. The rates come from each source's posting profile (newsmon/profile.py).

How a plan is chosen. Every REPLAN seconds the planner lays out the polls of the next 24 hours within
the budget (24 x budget_per_hour, less what fixed sources spend), each source's [min_interval,
max_interval] and each host's `host_polls_per_hour`, which wins over everything else. Its candidates:
the square-root rule (polls in proportion to sqrt(r), the least mean wait: Sia, Cho and Cho), each
source-hour held to at most one poll every `cap` seconds for CAPS caps, the polls a cap saves going
to the others (the square-root rule alone polls the quietest sources least, and their stories make a long
tail); and even polls, as fixed intervals spend them. It keeps the candidates whose predicted 95th
percentile is within TAIL_SLACK of the least, and of those the one with the least mean wait. Only the first
hour's polls are used: the next plan starts from then.

Left out on purpose: the plan that buys the least 95th percentile outright (source-hours in order of rate
polled every d seconds until the budget is spent, the rest at max_interval; `least_p95`). On rates known
exactly it beats the capped square-root rule, but it puts the tail at a cliff edge: source-hours whose
rate the profile underestimates wait up to max_interval. Among the candidates, on learnt profiles, it
made the simulated tail longer (README, Benchmarks). The simulator prints it, computed from the measured
stories' own rates, as the bound no schedule of that budget can beat (in expectation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import numpy as np

from newsmon.settings import Config, Source

REPLAN = 300  # seconds between plans (a periodic job): the profile of the hour changes slowly
HOURS = 24  # hours a plan lays out
CAPS = 24  # caps weighed, seconds between polls at most, from the least min_interval to the most max_interval
TAIL_SLACK = 0.05  # a plan may have a 95th percentile this much above the least, for a shorter mean
QUANTILE = 0.95


def default_budget(config: Config) -> float:
    """Polls an hour that fixed intervals would spend on the enabled sources (adaptive ones at their
    `interval`, 300 s unless given)."""
    return sum(3600.0 / s.interval for s in config.enabled_sources())


def host_of(source: Source) -> str:
    return (urlsplit(source.url).hostname or "").lower()


@dataclass
class Plan:
    """The intervals (seconds) of the adaptive sources for the hour now, and what the plan predicts for
    the stories of the next 24 hours."""

    intervals: dict[str, float]
    kind: str  # "square-root" or "even"
    cap: float | None  # seconds
    p95: float  # predicted wait, seconds
    mean: float


def plan(config: Config, curves: dict[str, list[float]]) -> Plan:
    """The plan for the enabled adaptive sources, given each one's expected new stories an hour for the
    hour now and the 23 after it (`curves`, newsmon.profile.rates with hours=24)."""
    settings = config.pipeline.scheduler
    return plan_for(config.enabled_sources(), float(settings.budget_per_hour or default_budget(config)),
                    settings.host_polls_per_hour, curves)


def predicted(rates: np.ndarray, polls: np.ndarray, quantile: float = QUANTILE) -> tuple[float, float]:
    """The `quantile` and the mean of the wait (seconds) of stories arriving at `rates` (an hour) at
    sources polled `polls` times an hour (arrays of one shape)."""
    total = float(rates.sum())
    if total <= 0:
        return 0.0, 0.0
    hours = 1.0 / np.maximum(polls, 1e-9)  # hours between polls
    mean = float((rates * hours).sum()) / total / 2 * 3600
    low, high = 0.0, float(hours.max())
    for _ in range(60):  # the share waiting longer than d falls as d grows: bisect
        middle = (low + high) / 2
        if float((rates * np.clip(1.0 - middle / hours, 0.0, None)).sum()) / total > 1 - quantile:
            low = middle
        else:
            high = middle
    return high * 3600, mean


def _fill(weight: np.ndarray, low: np.ndarray, high: np.ndarray, budget: float) -> np.ndarray:
    """clip(lam * weight, low, high) with lam such that the polls add up to `budget` (all at `low` when it
    is short of that: max_interval is a promise; all at `high` when it is more than they can take)."""
    if float(low.sum()) >= budget:
        return low.copy()
    if float(high.sum()) <= budget:
        return high.copy()
    small, big = 0.0, 1.0
    while float(np.clip(big * weight, low, high).sum()) < budget:
        big *= 2
    for _ in range(60):
        middle = (small + big) / 2
        if float(np.clip(middle * weight, low, high).sum()) < budget:
            small = middle
        else:
            big = middle
    return np.clip(big * weight, low, high)


def _likeliest_first(layout: _Layout, high: np.ndarray) -> np.ndarray:
    """Source-hours in order of their rate raised to `high`, each as far as the budget and its host's
    room in that hour allow; the rest at max_interval (the host's room wins over that too)."""
    polls = _polite(layout.low, layout.hosts, layout.room)
    left = layout.budget - float(polls.sum())
    host_of_row = np.empty(len(polls), dtype=int)
    for index, rows in enumerate(layout.hosts):
        host_of_row[rows] = index
    room = np.array(layout.room)[:, None] - np.array([polls[rows].sum(axis=0) for rows in layout.hosts])
    for flat in np.argsort(-layout.rates, axis=None, kind="stable"):
        if left <= 0:
            break
        row, hour = divmod(int(flat), HOURS)
        if layout.rates[row, hour] <= 0:
            break
        host = host_of_row[row]
        add = min(float(high[row, hour] - polls[row, hour]), left, float(room[host, hour]))
        if add > 0:
            polls[row, hour] += add
            room[host, hour] -= add
            left -= add
    return polls


def _polite(polls: np.ndarray, hosts: list[list[int]], room: list[float]) -> np.ndarray:
    """Each host's sources together within its room, hour by hour."""
    polls = polls.copy()
    for rows, limit in zip(hosts, room, strict=True):
        wanted = polls[rows].sum(axis=0)
        scale = np.where(wanted > limit, limit / np.maximum(wanted, 1e-12), 1.0)
        polls[rows] *= scale
    return polls


@dataclass
class _Layout:
    """What every candidate plan of one moment shares: rows are adaptive sources, columns hours."""

    adaptive: list[Source]
    rates: np.ndarray  # expected new stories an hour
    low: np.ndarray  # polls an hour, at least (max_interval)
    fastest: np.ndarray  # polls an hour, at most (min_interval), one column
    hosts: list[list[int]]  # the rows of each host
    room: list[float]  # polls an hour each host's adaptive sources may take together
    budget: float  # polls over the HOURS


def _layout(sources: list[Source], budget: float, host_polls_per_hour: float,
            curves: dict[str, list[float]]) -> _Layout | None:
    adaptive = [s for s in sources if s.adaptive]
    if not adaptive:
        return None
    rows = []
    for s in adaptive:
        curve = [max(float(r), 0.0) for r in list(curves.get(s.id, []))[:HOURS]]
        rows.append(curve + [0.0] * (HOURS - len(curve)))
    by_host: dict[str, list[int]] = defaultdict(list)
    for index, s in enumerate(adaptive):
        by_host[host_of(s)].append(index)
    spent: dict[str, float] = defaultdict(float)  # polls an hour a host's fixed sources take
    for s in sources:
        if not s.adaptive:
            spent[host_of(s)] += 3600.0 / s.interval
    low = np.repeat([[3600.0 / s.max_interval] for s in adaptive], HOURS, axis=1)
    fastest = np.array([[3600.0 / s.min_interval] for s in adaptive])
    return _Layout(adaptive, np.array(rows), low, fastest, list(by_host.values()),
                   [max(host_polls_per_hour - spent[host], 0.0) for host in by_host],
                   (budget - sum(3600.0 / s.interval for s in sources if not s.adaptive)) * HOURS)


def _ceiling(layout: _Layout, cap: float | None) -> np.ndarray:
    """Polls an hour, at most, with every source-hour held to one poll every `cap` seconds."""
    high = layout.fastest if cap is None else np.minimum(layout.fastest, 3600.0 / cap)
    return np.maximum(np.repeat(high, HOURS, axis=1), layout.low)


def _politely(allocate: Callable[[np.ndarray, np.ndarray, float], np.ndarray], layout: _Layout,
              high: np.ndarray) -> np.ndarray:
    """`allocate(low, high, budget)` within each host's room: the polls a host's limit takes from its
    sources go to the others. A source-hour expected to bring nothing (a source that never posted) gets
    max_interval, whatever is left of the budget: polls where no story is expected are not spent."""
    low = layout.low
    high = np.where(layout.rates > 0, high, low)
    wanted = allocate(low, high, layout.budget)
    polls = _polite(wanted, layout.hosts, layout.room)
    for _ in range(8):
        if float(polls.sum()) >= layout.budget * 0.999:
            break
        held = polls < wanted - 1e-9
        if not held.any():
            break
        high = np.where(held, polls, high)  # a source-hour its host holds back stays where it is held
        low = np.minimum(low, high)
        wanted = allocate(low, high, layout.budget)
        polls = _polite(wanted, layout.hosts, layout.room)
    return polls


def plan_for(sources: list[Source], budget: float, host_polls_per_hour: float,
             curves: dict[str, list[float]]) -> Plan:
    """`plan` for these enabled sources, `budget` polls an hour on average over the day and a host limit
    (the simulator's way in)."""
    layout = _layout(sources, budget, host_polls_per_hour, curves)
    if layout is None:
        return Plan({}, "even", None, 0.0, 0.0)
    rates = layout.rates
    candidates: list[tuple[float, float, str, float | None, np.ndarray]] = []
    even = _politely(partial(_fill, np.ones_like(rates)), layout, _ceiling(layout, None))
    candidates.append((*predicted(rates, even), "even", None, even))
    caps = np.geomspace(3600.0 / float(layout.fastest.max()), 3600.0 / float(layout.low.min()), CAPS).round()
    for cap in (None, *(float(c) for c in caps)):
        polls = _politely(partial(_fill, np.sqrt(rates) + 1e-6), layout, _ceiling(layout, cap))
        candidates.append((*predicted(rates, polls), "square-root", cap, polls))
    least = min(c[0] for c in candidates)
    p95, mean, kind, cap, polls = min((c for c in candidates if c[0] <= least * (1 + TAIL_SLACK)),
                                      key=lambda c: c[1])
    now = polls[:, 0]
    # a host whose fixed sources already spend its limit leaves its adaptive ones a poll a day
    intervals = {s.id: round(3600.0 / float(now[i]), 1) if now[i] > 0 else 86400.0
                 for i, s in enumerate(layout.adaptive)}
    return Plan(intervals, kind, cap, p95, mean)


def least_p95(sources: list[Source], budget: float, host_polls_per_hour: float,
              curves: dict[str, list[float]]) -> float:
    """The least 95th percentile wait (seconds) any plan of this budget can give stories arriving at
    exactly these rates: source-hours in order of rate polled every d seconds, the rest at max_interval,
    at the best d (for stories arriving at random at a known rate, a poll more often than every d does
    nothing for a 95th percentile of d, and a poll of a likelier source-hour does the most)."""
    layout = _layout(sources, budget, host_polls_per_hour, curves)
    if layout is None:
        return 0.0
    best = float("inf")
    for cap in (None, *np.geomspace(30, 3600, 97)):
        polls = _likeliest_first(layout, _ceiling(layout, float(cap or 0) or None))
        best = min(best, predicted(layout.rates, polls)[0])
    return best
