"""Build the demo review's search exports from the SYNERGY Jeyaraman 2020 set (CC0).

Run by hand when the demo should change:
    python reviewflow/demo/build_demo.py ../shared/data/screening/Jeyaraman_2020_synergy

Writes three exports of one topic as three databases would give them, with natural
overlap (the same works in several files, written differently), into reviewflow/demo/:
``pubmed.nbib`` (PubMed format), ``scopus.ris`` (RIS) and ``embase.csv`` (Scopus-style CSV).
"""

from __future__ import annotations

import csv
import json
import random
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent


def load(folder: Path) -> list[dict]:
    labels = {}
    with (folder / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            labels[row["openalex_id"]] = row
    works = []
    with zipfile.ZipFile(folder / "works_1.zip") as zf:
        for name in sorted(zf.namelist()):
            works.extend(json.loads(zf.read(name)))
    out = []
    for w in works:
        if not w.get("title"):
            continue
        inv = w.get("abstract_inverted_index") or {}
        words: dict[int, str] = {}
        for word, positions in inv.items():
            for p in positions:
                words[p] = word
        abstract = " ".join(words[i] for i in sorted(words))
        loc = (w.get("primary_location") or {}).get("source") or {}
        host = w.get("host_venue") or {}
        biblio = w.get("biblio") or {}
        label = labels.get(w["id"], {})
        pmid = (label.get("pmid") or "").rsplit("/", 1)[-1]
        out.append(
            {
                "title": w["title"].strip(),
                "abstract": abstract,
                "authors": [
                    a["author"]["display_name"] for a in w.get("authorships", []) if a.get("author")
                ],
                "year": w.get("publication_year"),
                "journal": loc.get("display_name") or host.get("display_name") or "",
                "volume": biblio.get("volume") or "",
                "issue": biblio.get("issue") or "",
                "first_page": biblio.get("first_page") or "",
                "last_page": biblio.get("last_page") or "",
                "doi": (w.get("doi") or "").replace("https://doi.org/", ""),
                "pmid": pmid,
                "openalex": w["id"].rsplit("/", 1)[-1],
            }
        )
    return out


def family_given(name: str) -> tuple[str, str]:
    parts = name.split()
    return (parts[-1], " ".join(parts[:-1])) if len(parts) > 1 else (name, "")


def wrap(tag: str, text: str) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > 82:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [f"{tag:<4}- {lines[0]}"] + [f"      {x}" for x in lines[1:]]


def write_nbib(works: list[dict], path: Path) -> None:
    out = []
    for w in works:
        out.append(f"PMID- {w['pmid']}")
        out += wrap("TI", w["title"])
        if w["abstract"]:
            out += wrap("AB", w["abstract"])
        for name in w["authors"]:
            fam, giv = family_given(name)
            out.append(f"FAU - {fam}, {giv}")
            out.append(f"AU  - {fam} {''.join(p[0] for p in giv.split() if p)}")
        out.append(f"DP  - {w['year']}")
        if w["journal"]:
            out.append(f"JT  - {w['journal']}")
        if w["volume"]:
            out.append(f"VI  - {w['volume']}")
        if w["issue"]:
            out.append(f"IP  - {w['issue']}")
        if w["first_page"]:
            pages = w["first_page"] + (f"-{w['last_page']}" if w["last_page"] else "")
            out.append(f"PG  - {pages}")
        if w["doi"]:
            out.append(f"LID - {w['doi']} [doi]")
        out.append("PT  - Journal Article")
        out.append("")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def write_ris(works: list[dict], path: Path, rng: random.Random) -> None:
    out = []
    for w in works:
        out.append("TY  - JOUR")
        out.append(f"TI  - {w['title']}")
        for name in w["authors"]:
            fam, giv = family_given(name)
            out.append(f"AU  - {fam}, {giv}")
        out.append(f"PY  - {w['year']}")
        if w["journal"]:
            out.append(f"T2  - {w['journal']}")
        for tag, key in (
            ("VL", "volume"),
            ("IS", "issue"),
            ("SP", "first_page"),
            ("EP", "last_page"),
        ):
            if w[key]:
                out.append(f"{tag}  - {w[key]}")
        if w["doi"] and rng.random() > 0.1:
            # Scopus and others often write the DOI as a URL.
            doi = f"https://doi.org/{w['doi']}" if rng.random() < 0.3 else w["doi"]
            out.append(f"DO  - {doi}")
        if w["abstract"]:
            out.append(f"AB  - {w['abstract']}")
        out.append(f"ID  - {w['openalex']}")
        out.append("ER  - ")
        out.append("")
    path.write_text("\ufeff" + "\n".join(out), encoding="utf-8")


def write_csv(works: list[dict], path: Path) -> None:
    header = [
        "Authors",
        "Title",
        "Year",
        "Source title",
        "Volume",
        "Issue",
        "Page start",
        "Page end",
        "DOI",
        "Abstract",
        "PubMed ID",
        "EID",
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for w in works:
            authors = "; ".join(
                f"{fam} {''.join(p[0] + '.' for p in giv.split() if p)}"
                for fam, giv in map(family_given, w["authors"])
            )
            writer.writerow(
                [
                    authors,
                    w["title"],
                    w["year"],
                    w["journal"],
                    w["volume"],
                    w["issue"],
                    w["first_page"],
                    w["last_page"],
                    w["doi"],
                    w["abstract"],
                    w["pmid"],
                    f"2-s2.0-{w['openalex']}",
                ]
            )


def main() -> None:
    folder = Path(sys.argv[1])
    rng = random.Random(2020)
    works = load(folder)
    rng.shuffle(works)
    # PubMed finds the works with a PMID; Scopus and Embase overlap with it and each other.
    with_pmid = [w for w in works if w["pmid"]]
    pubmed = with_pmid[:420]
    scopus = works[200:560]
    embase = works[450:700] + with_pmid[:60]
    write_nbib(pubmed, OUT / "pubmed.nbib")
    write_ris(scopus, OUT / "scopus.ris", rng)
    write_csv(embase, OUT / "embase.csv")
    print(f"pubmed.nbib {len(pubmed)}, scopus.ris {len(scopus)}, embase.csv {len(embase)}")


if __name__ == "__main__":
    main()
