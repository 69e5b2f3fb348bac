"""Small builders of export files for import tests."""

from __future__ import annotations

import io
from pathlib import Path


def ris_records(n: int, *, start: int = 1, prefix: str = "Mesenchymal stromal cells trial") -> str:
    lines = []
    for i in range(start, start + n):
        lines += [
            "TY  - JOUR",
            f"TI  - {prefix} number {i}",
            f"AU  - Family{i}, Given",
            "AU  - Second, Author",
            f"PY  - {2000 + i % 25}",
            "JO  - Stem Cell Research & Therapy",
            f"VL  - {i % 40}",
            f"SP  - {i}",
            f"DO  - 10.1000/test.{i}",
            "AB  - Mesenchymal stem cells were given to patients with type 2 diabetes.",
            "ER  - ",
            "",
        ]
    return "\n".join(lines)


def upload(text: str | bytes, name: str = "export.ris") -> io.BytesIO:
    data = text.encode("utf-8") if isinstance(text, str) else text
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path
