"""Prints how `newsmon events --jsonl` groups tests/corpus/events.yaml (real reports of 46 happenings in
Arabic, Sorani, Kurmanji, English, Persian and Turkish): pairwise precision, recall and F1 over story
pairs, overall and per language pair, and the pairs it got wrong.

    python bench/events_quality.py [--window-hours H] [--min-score S] [--agreement A]
        [--agreement-reports N] [--edition-bonus B] [--wrong]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsmon.app import cli_events

CORPUS = ROOT / "tests" / "corpus" / "events.yaml"


def load() -> list[dict]:
    """The reports, in arrival (publication) order."""
    reports = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    for number, report in enumerate(reports):
        report["id"] = f"r{number:03d}"
    return sorted(reports, key=lambda r: r["published"])


def group(reports: list[dict], **overrides: float | None) -> dict[str, str]:
    """Story id -> event, as `newsmon events --jsonl` prints them."""
    lines = "".join(json.dumps({"id": r["id"], "url": r["url"], "title": r["title"], "text": r["text"],
                                "language": r["lang"], "outlet": r["outlet"], "published": r["published"]},
                               ensure_ascii=False) + "\n" for r in reports)
    args = argparse.Namespace(jsonl=True, evidence=False, redis_url=None,
                              window_hours=overrides.get("window_hours"),
                              min_score=overrides.get("min_score"),
                              agreement=overrides.get("agreement"),
                              agreement_reports=overrides.get("agreement_reports"),
                              edition_bonus=overrides.get("edition_bonus"))
    out = io.StringIO()
    cli_events.run(args, ROOT / "config", out=out, stream=io.StringIO(lines))
    return {row["id"]: row["event"] for row in map(json.loads, out.getvalue().splitlines())}


def score(reports: list[dict], events: dict[str, str]
          ) -> tuple[dict[str, Counter], list[tuple[str, str, str]]]:
    """Pair counts (tp, fp, fn) per language pair and overall, and the wrong pairs."""
    counts: dict[str, Counter] = defaultdict(Counter)
    wrong = []
    for a, b in itertools.combinations(reports, 2):
        truth, said = a["event"] == b["event"], events[a["id"]] == events[b["id"]]
        pair = "-".join(sorted((a["lang"], b["lang"])))
        kind = "tp" if truth and said else "fp" if said else "fn" if truth else None
        if kind:
            counts[pair][kind] += 1
            counts["all"][kind] += 1
            if kind != "tp":
                wrong.append((kind, f"{a['event']} ({a['lang']}, {a['outlet']})",
                              f"{b['event']} ({b['lang']}, {b['outlet']})"))
    return counts, wrong


def prf(c: Counter) -> tuple[float, float, float]:
    """Precision (1.0 when nothing was grouped: no wrong pair), recall and F1."""
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-hours", type=float)
    parser.add_argument("--min-score", type=float)
    parser.add_argument("--agreement", type=float)
    parser.add_argument("--agreement-reports", type=int)
    parser.add_argument("--edition-bonus", type=float)
    parser.add_argument("--wrong", action="store_true", help="list the wrong pairs")
    args = parser.parse_args()
    reports = load()
    events = group(reports, window_hours=args.window_hours, min_score=args.min_score,
                   agreement=args.agreement, agreement_reports=args.agreement_reports,
                   edition_bonus=args.edition_bonus)
    counts, wrong = score(reports, events)
    truth = Counter(r["event"] for r in reports)
    multilingual = sum(1 for e in truth if len({r["lang"] for r in reports if r["event"] == e}) > 1)
    print(f"events on {CORPUS.relative_to(ROOT)}: {len(reports)} reports of {len(truth)} happenings "
          f"({multilingual} reported in two or more languages); {len(set(events.values()))} events found")
    print(f"{'pair':<9} {'pairs':>6} {'precision':>10} {'recall':>8} {'F1':>7}")
    for pair in ["all"] + sorted((p for p in counts if p != "all"),
                                 key=lambda p: -sum(counts[p].values())):
        c = counts[pair]
        p, r, f = prf(c)
        shown = f"{p:>10.3f}" if c["tp"] + c["fp"] else f"{'-':>10}"  # nothing grouped: no precision
        print(f"{pair:<9} {c['tp'] + c['fn']:>6} {shown} {r:>8.3f} {f:>7.3f}")
    if args.wrong:
        for kind, a, b in sorted(set(wrong)):
            print(f"{kind}: {a}  <->  {b}")


if __name__ == "__main__":
    main()
