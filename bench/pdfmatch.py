"""How well PDFs find their records: precision and recall of sure matches on real metadata.

Run by hand (not in tests)::

    .venv/bin/python bench/pdfmatch.py                # every record of the export, seed 22
    .venv/bin/python bench/pdfmatch.py --seed 7 --near 20 --show

PDFs are written from the real records of two exports (``bench/pdfmatch_data.py`` says
which and how), then read back with ``screening.pdfmatch.read_pdf`` and matched with
``match_pdf`` against the review's records, as the PDF batch task does. Printed per kind of
PDF: sure and right, sure and wrong (a PDF attached to a record it is not the full text
of), unsure (the queue a person works through) and unmatched; then precision and recall of
sure matches and the wrong attachments, which must be 0 (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.pdfmatch_data import build_cases, load_records, run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--size", type=int, default=None, help="review records (default: all)")
    parser.add_argument("--outsiders", type=float, default=0.08, help="share kept out")
    parser.add_argument("--near", type=int, default=12, help="near-duplicate PDFs")
    parser.add_argument("--show", action="store_true", help="list every PDF not sure-right")
    args = parser.parse_args()

    start = time.perf_counter()
    records = load_records()
    candidates, cases = build_cases(
        records, seed=args.seed, size=args.size, outsiders=args.outsiders, near=args.near
    )
    built = time.perf_counter()
    tally, outcomes = run(candidates, cases)
    done = time.perf_counter()

    rows: Counter[tuple[str, str]] = Counter()
    for o in outcomes:
        best = o.match.best.record if o.match.best else None
        verdict = o.match.verdict
        if verdict == "sure":
            verdict = "sure right" if best == o.case.truth else "sure WRONG"
        rows[(o.case.kind, verdict)] += 1
    kinds = sorted({k for k, _ in rows}, key=lambda k: (k.split(":")[0] != k, k))
    columns = ("sure right", "sure WRONG", "unsure", "none")
    print(f"{len(records)} records read; {len(candidates)} in the review; {len(cases)} PDFs")
    print(f"{'kind of PDF':<32}" + "".join(f"{c:>12}" for c in columns))
    for kind in kinds:
        print(f"{kind:<32}" + "".join(f"{rows[(kind, c)]:>12}" for c in columns))
    print()
    print(f"PDFs of review records   {tally.in_review}")
    print(f"sure matches             {tally.sure}")
    print(f"precision of sure        {tally.precision:.3f}")
    print(f"recall of sure           {tally.recall:.3f}")
    print(
        f"unsure (queue)           {tally.unsure} ({tally.unsure_with_truth} with the true record)"
    )
    print(f"unmatched                {tally.unmatched} ({tally.unmatched_in_review} in review)")
    print(f"wrong attachments        {tally.sure_wrong}   (target 0)")
    print(
        f"time                     build {built - start:.1f} s, read + match {done - built:.1f} s"
    )
    if args.show:
        print()
        for o in outcomes:
            best = o.match.best.record if o.match.best else None
            if o.match.verdict == "sure" and best == o.case.truth:
                continue
            if o.case.truth is None and o.match.verdict == "none":
                continue
            found = "; ".join(f"{c.record}: {c.score} {c.reason}" for c in o.match.candidates)
            print(f"{o.case.kind} truth={o.case.truth} {o.match.verdict} [{found}]")
            print(f"    {o.case.record_title[:110]}")
    return 1 if tally.sure_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
