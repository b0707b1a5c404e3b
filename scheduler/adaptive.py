"""Adaptive polling: spend a request budget where new stories are most likely.

Sources with `schedule: adaptive` get their poll interval from `plan`, every REPLAN seconds: with
stories arriving at rate r_i (newsmon/profile.py, the hour now), polling a source f_i times an hour
leaves a new story waiting 1/(2 f_i) hours on average, so the expected wait summed over stories,
sum r_i / (2 f_i), is least for a fixed budget sum f_i = B when f_i is proportional to sqrt(r_i); and
over the hours of a day, when each hour's budget follows the sum of those square roots (day_share), so
the budget is the average hour's and busy hours spend more than quiet ones. Each
source then stays within its [min_interval, max_interval] (the budget left over or missing is shared
among the others), and the sources of one host together within `host_polls_per_hour`, which wins over
everything else. Fixed sources spend their 3600/interval first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from urllib.parse import urlsplit

from newsmon.settings import Config, Source

REPLAN = 300  # seconds between plans (a periodic job): the profile of the hour changes slowly


def default_budget(config: Config) -> float:
    """Polls an hour that fixed intervals would spend on the enabled sources (adaptive ones at their
    `interval`, 300 s unless given)."""
    return sum(3600.0 / s.interval for s in config.enabled_sources())


def host_of(source: Source) -> str:
    return (urlsplit(source.url).hostname or "").lower()


def day_share(curves: dict[str, list[float]]) -> float:
    """How much of the average hour's budget this hour gets, from each adaptive source's expected rates
    over the next 24 hours (the first is now): the wait summed over a day's stories is least when each
    hour's polls follow the sum of the square roots of its rates, as for sources within the hour.
    1.0 for sources with no profile, so a new system polls evenly."""
    totals = [sum(math.sqrt(max(c[h], 0.0)) for c in curves.values()) for h in range(24)] if curves else []
    if not totals or sum(totals) <= 0:
        return 1.0
    return 24 * totals[0] / sum(totals)


def plan(config: Config, rates: dict[str, float], share: float = 1.0) -> dict[str, float]:
    """The poll interval (seconds) of each enabled adaptive source, given its expected new stories an
    hour now (`rates`) and this hour's `share` of the budget (day_share)."""
    settings = config.pipeline.scheduler
    sources = config.enabled_sources()
    return plan_for(sources, float(settings.budget_per_hour or default_budget(config)),
                    settings.host_polls_per_hour, rates, share)


def plan_for(sources: list[Source], budget: float, host_polls_per_hour: float,
             rates: dict[str, float], share: float = 1.0) -> dict[str, float]:
    """`plan` for these enabled sources, `budget` polls an hour on average over the day and a host limit
    (the simulator's way in)."""
    adaptive = [s for s in sources if s.adaptive]
    if not adaptive:
        return {}
    budget -= sum(3600.0 / s.interval for s in sources if not s.adaptive)
    budget *= share
    low = {s.id: 3600.0 / s.max_interval for s in adaptive}  # polls an hour, at least
    high = {s.id: 3600.0 / s.min_interval for s in adaptive}  # and at most
    weight = {s.id: math.sqrt(max(rates.get(s.id, 0.0), 0.0)) + 1e-6 for s in adaptive}
    # water-filling: give each its share of what is left; pin those pushed past a bound, and repeat
    polls: dict[str, float] = {}
    free = {s.id for s in adaptive}
    while free:
        left = budget - sum(polls.values())
        total = sum(weight[i] for i in free)
        share = {i: max(left, 0.0) * weight[i] / total for i in free}
        pinned = {i: low[i] for i in free if share[i] < low[i]} or \
            {i: high[i] for i in free if share[i] > high[i]}
        if not pinned:
            polls.update(share)
            break
        polls.update(pinned)
        free -= set(pinned)
    # politeness: one host's sources together within its limit, whatever the budget or max_interval
    by_host: dict[str, list[str]] = defaultdict(list)
    for s in sources:
        by_host[host_of(s)].append(s.id)
    fixed = {s.id: 3600.0 / s.interval for s in sources if not s.adaptive}
    for ids in by_host.values():
        adaptive_ids = [i for i in ids if i in polls]
        spent = sum(fixed.get(i, 0.0) for i in ids)
        room = max(host_polls_per_hour - spent, 0.0)
        wanted = sum(polls[i] for i in adaptive_ids)
        if adaptive_ids and wanted > room:
            for i in adaptive_ids:
                polls[i] *= room / wanted if wanted else 0.0
    # a host whose fixed sources already spend its limit leaves its adaptive ones a poll a day
    return {s.id: round(3600.0 / polls[s.id], 1) if polls[s.id] > 0 else 86400.0 for s in adaptive}
