"""The garbage collector's settings for the long-running roles.

CPython's cyclic collector runs after every 700 net allocations of container objects and, every
tenth and hundredth time, walks older generations too. A crawler allocates tens of thousands of
short-lived containers per page (trafilatura's lists and dicts, Scrapy's and Twisted's per-request
objects) on top of about 115,000 long-lived ones made at start (modules, Scrapy, Twisted, the compiled
config). Timed with `gc.callbacks` during `bench/pipeline.py`, collection took 14 % of a crawler's CPU
and 5 % of a worker's, most of it walking objects that live as long as the process.
"""

from __future__ import annotations

import gc

# young-generation threshold: about a page's worth of allocations between collections, instead of 700
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def settle_heap() -> None:
    """Collect once, move every object alive now out of the collector's sight (`gc.freeze`: they are
    the process's modules, settings and compiled config, never garbage), and collect the young
    generation less often. Called by the crawler and the worker (which also runs the alerts queue)
    once they have started, before their loops."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
