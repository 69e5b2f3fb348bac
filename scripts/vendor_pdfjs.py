"""Refresh the vendored pdf.js (Mozilla's ``pdfjs-dist`` npm package) in our static files.

``make pdfjs`` runs it. It fetches the pinned version with ``npm pack`` (npm's own client,
checksum included) into a scratch folder and copies only what our viewer uses: the library
and its worker (minified ES modules), the text layer's CSS rules cut from
``web/pdf_viewer.css``, the licence, and under ``wasm/`` the WebAssembly decoders the worker
fetches from the viewer's ``wasmUrl`` (``WASM``, with their licences). No CDN: the browser
loads them from our server.

    python scripts/vendor_pdfjs.py [VERSION]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "5.7.284"
TARGET = Path(__file__).resolve().parents[1] / "reviewflow" / "static" / "vendor" / "pdfjs"
FILES = ("build/pdf.min.mjs", "build/pdf.worker.min.mjs", "LICENSE")
# The worker's WebAssembly decoders, fetched from the viewer's ``wasmUrl``: OpenJPEG for JPEG
# 2000 images and pdf.js's JBIG2 (also CCITT fax) decoder, the images of scanned PDFs, and
# qcms for ICC colour profiles. Not copied: the ``*_nowasm_fallback.js`` twins (for browsers
# without WebAssembly) and quickjs (the PDFs' own JavaScript, which the viewer never runs).
WASM = (
    "jbig2.wasm",
    "openjpeg.wasm",
    "qcms_bg.wasm",
    "LICENSE_JBIG2",
    "LICENSE_OPENJPEG",
    "LICENSE_PDFJS_JBIG2",
    "LICENSE_PDFJS_OPENJPEG",
    "LICENSE_PDFJS_QCMS",
    "LICENSE_QCMS",
)


def _top_level_rules(css: str) -> list[tuple[str, str]]:
    """(selector, body) of each top-level rule; at-rules (``@media`` and the like, with
    what they nest) come back with the at-rule as their selector."""
    rules, depth, start, selector = [], 0, 0, ""
    for index, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selector, start = css[start:index].strip(), index + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rules.append((selector, css[start:index]))
                start = index + 1
    return rules


def text_layer_css(css: str) -> str:
    """The rules of ``pdf_viewer.css`` whose selectors are about ``.textLayer`` itself (not
    the editors, annotations or the full viewer's toolbar; no media queries), in order."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    kept = [
        f"{selector}{{{body}}}"
        for selector, body in _top_level_rules(css)
        if not selector.startswith("@")
        and ".textLayer" in selector
        and not re.search(r"editor|Editor|annotation", selector)
    ]
    return "\n\n".join(kept) + "\n"


def main(version: str = VERSION) -> int:
    with tempfile.TemporaryDirectory(prefix="pdfjs-") as scratch:
        folder = Path(scratch)
        subprocess.run(  # noqa: S603 - a fixed command, the version comes from this file
            ["npm", "pack", f"pdfjs-dist@{version}", "--silent"], cwd=folder, check=True
        )
        tarball = next(folder.glob("pdfjs-dist-*.tgz"))
        with tarfile.open(tarball) as archive:
            archive.extractall(folder, filter="data")
        package = folder / "package"
        TARGET.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(package / name, TARGET / Path(name).name)
        (TARGET / "wasm").mkdir(exist_ok=True)
        for name in WASM:
            shutil.copyfile(package / "wasm" / name, TARGET / "wasm" / name)
        css = (package / "web" / "pdf_viewer.css").read_text(encoding="utf-8")
        (TARGET / "text_layer.css").write_text(
            f"/* pdf.js {version} (pdfjs-dist, Apache-2.0): the text layer rules of "
            "web/pdf_viewer.css, cut by scripts/vendor_pdfjs.py. */\n" + text_layer_css(css),
            encoding="utf-8",
        )
        (TARGET / "VERSION").write_text(f"pdfjs-dist {version}\n", encoding="utf-8")
    print(f"pdf.js {version} copied to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
