"""Export files for the fault tests: a first search, and a second that repeats half of it
the way another database would (no DOI on some, titles in capitals on others) plus as many
records of its own. Seeded, so every run plants the same duplicates."""

from __future__ import annotations

import random

WORDS = (  # noqa: SIM905 - easier to read as prose
    "stem cell therapy diabetes insulin glucose trial randomised mesenchymal stromal "
    "outcome cohort patients adults children obesity metabolic islet transplantation "
    "safety efficacy placebo controlled study analysis review systematic meta hba1c "
    "pancreatic beta function regeneration umbilical cord marrow derived infusion follow "
    "year long term phase pilot open label multicentre injection dose response biomarker "
    "inflammation"
).split()
FAMILIES = [f"{c}{v}{d}son" for c in "BDFGKLMNPRST" for v in "aeiou" for d in "lnrt"]
JOURNALS = ("Diabetes Care", "Stem Cell Res Ther", "Lancet", "BMJ", "Cell Transplant")


def _records(n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first = rng.randint(1, 2000)
        out.append(
            {
                "title": " ".join(
                    rng.choice(WORDS) for _ in range(rng.randint(8, 14))
                ).capitalize(),
                "authors": [
                    f"{rng.choice(FAMILIES)}, {rng.choice('ABCDEFGH')}."
                    for _ in range(rng.randint(1, 5))
                ],
                "year": 2000 + rng.randint(0, 24),
                "journal": rng.choice(JOURNALS),
                "volume": str(rng.randint(1, 80)),
                "pages": f"{first}-{first + rng.randint(3, 15)}",
                "doi": f"10.5555/rf.{seed}.{i}",
            }
        )
    return out


def _ris(records: list[dict[str, object]], prefix: str) -> str:
    lines = []
    for i, r in enumerate(records, 1):
        start, end = str(r["pages"]).split("-")
        lines += ["TY  - JOUR", f"ID  - {prefix}{i}", f"TI  - {r['title']}"]
        lines += [f"AU  - {a}" for a in r["authors"]]  # type: ignore[attr-defined]
        lines += [
            f"PY  - {r['year']}",
            f"JO  - {r['journal']}",
            f"VL  - {r['volume']}",
            f"SP  - {start}",
            f"EP  - {end}",
        ]
        if r["doi"]:
            lines.append(f"DO  - {r['doi']}")
        lines += ["ER  - ", ""]
    return "\n".join(lines)


def overlapping_exports(n: int, *, seed: int = 8) -> tuple[str, str, int]:
    """Two RIS files of ``n`` records each, the second repeating the first half of the
    first; returns (first, second, number of planted duplicates)."""
    first = _records(n, seed)
    repeated = []
    for j, r in enumerate(first[: n // 2]):
        copy = dict(r)
        if j % 2:
            copy["doi"] = ""
        if j % 3 == 0:
            copy["title"] = str(r["title"]).upper()
        repeated.append(copy)
    second = repeated + _records(n - n // 2, seed + 1)
    return _ris(first, "A"), _ris(second, "B"), n // 2
