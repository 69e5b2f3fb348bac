"""The records the tagged importers read from real exports, pinned exactly.

Each file's whole parsed output (every normalised field, raw field, warning, line number
and rejection) is reduced to a SHA-256 digest; the digests were taken before the parsers
were tuned for speed, so a faster reader can never change what is imported. Two synthetic
files written by the import benchmark's generators (300 records each, fixed seeds) cover
the shapes of large exports. A change that is meant to alter the output updates the digest
here, with the reason in the same commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
from pathlib import Path

import pytest

from screening.importers import parse_file
from tests.shared_data import shared_path

DIGESTS = {
    "exports/asreview-demo-data/embase.ris": "3013231757e88d36",
    "exports/asreview-demo-data/ovid_psycinfo.ris": "ba2ffb374da32df9",
    "exports/asreview-demo-data/ovid_zotero.ris": "4fb8d5db54295edb",
    "exports/asreview-demo-data/proquest.ris": "284a4d2d60a844fe",
    "exports/asreview-demo-data/pubmed_endnote.txt": "3fc1c93b1e5738ff",
    "exports/asreview-demo-data/pubmed_zotero.ris": "e188285e1ab7dbf7",
    "exports/asreview-demo-data/scopus.ris": "2c45716fe0568dfc",
    "exports/asreview-demo-data/web_of_science.txt": "b6efb9725299f13a",
    "exports/asysd-tests/ris_export.txt": "2f4cf9913d1e97cb",
    "exports/asysd-tests/scopus.ris": "2e7cc045d88fff73",
    "exports/asysd-tests/wos_test.ris": "729015c39e025376",
    "exports/citesource-gambling-harms/20221207_gambling-harms_crimjust_41.ris": "8963129c74fe449d",
    "exports/citesource-gambling-harms/20221207_gambling-harms_lens_49.ris": "bbd537fd6bf3451c",
    "exports/citesource-gambling-harms/20221207_gambling-harms_psycinfo_124.ris": "3deffaa3712fb487",  # noqa: E501
    "exports/citesource-gambling-harms/20221207_gambling-harms_pubmed_176.ris": "0f0db7489d1199c0",
    "exports/citesource-gambling-harms/20221207_gambling-harms_scopus_255.ris": "3df06a66e01d0f10",
    "exports/colrev-loader-samples/abi_inform_proquest_ris.ris": "47014b8ad9757825",
    "exports/colrev-loader-samples/ieee_ris.ris": "136186b8439f0b7a",
    "exports/colrev-loader-samples/jstor_ris.ris": "fed944c76723a335",
    "exports/colrev-loader-samples/loader_ris_data.ris": "bc1efb835db0d92c",
    "exports/colrev-loader-samples/psycinfo_ris.ris": "6185936fc470aa96",
    "exports/colrev-loader-samples/trid_ris.ris": "95b7d7404f937497",
    "exports/pybtexnbib/marcelis-20301770.nbib": "a706e447268607af",
    "exports/colrev-loader-samples/loader_nbib_data.nbib": "aa8311f9329216b2",
    "exports/colrev-loader-samples/eric_nbib.nbib": "4299951531352835",
    "bench:ris": "a6b590be9d670c29",
    "bench:nbib": "b5dcbe53eaba5b60",
}


def digest(data: bytes) -> str:
    parsed = parse_file(io.BytesIO(data))
    results = [{"kind": type(r).__name__, **dataclasses.asdict(r)} for r in parsed.results]
    output = {
        "format": parsed.format,
        "encoding": parsed.encoding,
        "warnings": parsed.warnings,
        "results": results,
    }
    return hashlib.sha256(json.dumps(output, ensure_ascii=False).encode()).hexdigest()[:16]


REAL = sorted(name for name in DIGESTS if name.startswith("exports/"))


@pytest.mark.parametrize("relative", REAL, ids=[name.rsplit("/", 1)[-1] for name in REAL])
def test_parsed_output_of_a_real_export_is_unchanged(relative: str) -> None:
    assert digest(shared_path(relative).read_bytes()) == DIGESTS[relative]


@pytest.mark.parametrize("fmt", ["ris", "nbib"])
def test_parsed_output_of_a_generated_large_export_is_unchanged(fmt: str, tmp_path: Path) -> None:
    bench = importlib.import_module("bench.import")
    path = tmp_path / f"export.{fmt}"
    {"ris": bench.write_ris, "nbib": bench.write_nbib}[fmt](path, 300)
    assert digest(path.read_bytes()) == DIGESTS[f"bench:{fmt}"]
