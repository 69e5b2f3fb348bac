"""Loaders for the labelled screening sets in ../shared/data/screening/ (title, abstract,
label), shared by bench/prioritisation.py and its ASReview runner."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

DATA = Path(
    os.environ.get(
        "SCREENING_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "screening"
    )
)

Rows = list[tuple[str, str, int]]


def _csv(path: Path, label: str) -> Rows:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            (r.get("title") or "", r.get("abstract") or "", int(float(r[label] or 0)))
            for r in csv.DictReader(fh)
        ]


def _synergy(folder: Path) -> Rows:
    labels: dict[str, int] = {}
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            labels[r["openalex_id"]] = int(r["label_included"])
    works: dict[str, tuple[str, str]] = {}
    with zipfile.ZipFile(folder / "works_1.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".json"):
                continue
            for w in json.loads(zf.read(name)):
                index = w.get("abstract_inverted_index") or {}
                words = sorted((p, word) for word, ps in index.items() for p in ps)
                works[w["id"]] = (w.get("title") or "", " ".join(word for _, word in words))
    return [(*works.get(oid, ("", "")), label) for oid, label in labels.items()]


def _ptsd(path: Path) -> Rows:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    rows = wb.active.iter_rows(values_only=True)  # type: ignore[union-attr]
    header = [str(h) for h in next(rows)]
    col = {h: i for i, h in enumerate(header)}
    out: Rows = []
    for r in rows:
        if r[col["duplicate_record_id"]] not in (None, ""):
            continue  # ASReview's prepared set drops the rows flagged as duplicates
        out.append(
            (
                str(r[col["title"]] or ""),
                str(r[col["abstract"]] or ""),
                int(r[col["label_included"]] or 0),
            )
        )
    return out


SETS = {
    "wilson": lambda: _csv(DATA / "Appenzeller-Herzog_2019_wilson" / "wilson.csv", "included"),
    "ace": lambda: _csv(DATA / "Cohen_2006_ACEInhibitors" / "ACEInhibitors.csv", "label_included"),
    "ptsd": lambda: _ptsd(DATA / "van_de_Schoot_2017_ptsd" / "van_de_Schoot_2017.xlsx"),
    "jeyaraman": lambda: _synergy(DATA / "Jeyaraman_2020_synergy"),
}
# Ferdinands et al. 2023, NB + TF-IDF, mean of 15 runs (none published for Jeyaraman here).
PUBLISHED_WSS95 = {"wilson": 0.834, "ace": 0.829, "ptsd": 0.917}


def load(name: str) -> Rows:
    return SETS[name]()
