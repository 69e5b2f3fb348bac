"""The vendored pdf.js (#22) is what ``scripts/vendor_pdfjs.py`` says it copies, and the
viewer tells pdf.js where its WebAssembly decoders are."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from django.template import Context, Template

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "reviewflow" / "static"


def _script():  # scripts/ is not a package: load the file itself
    spec = importlib.util.spec_from_file_location("vendor_pdfjs", ROOT / "scripts/vendor_pdfjs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_file_the_script_copies_is_vendored_at_its_version() -> None:
    script = _script()
    folder = STATIC / "vendor" / "pdfjs"
    assert (folder / "VERSION").read_text() == f"pdfjs-dist {script.VERSION}\n"
    for name in script.FILES:
        assert (folder / Path(name).name).stat().st_size > 0, name
    for name in script.WASM:
        data = (folder / "wasm" / name).read_bytes()
        # A WebAssembly module starts with "\0asm"; the licences are text.
        assert data.startswith(b"\0asm") if name.endswith(".wasm") else data.strip(), name
    assert {"openjpeg.wasm", "jbig2.wasm"} <= set(script.WASM)


def test_the_viewer_gives_pdfjs_the_folder_of_its_decoders() -> None:
    html = Template("{% load pdf_viewer %}{% pdf_viewer '/r/x/fulltext/1/pdf/' %}").render(
        Context({})
    )
    found = re.search(r'data-pdfjs-wasm="([^"]+)"', html)
    assert found is not None
    # pdf.js wants a folder (a trailing slash) and asks for the decoders by their own names.
    assert found.group(1) == "/static/vendor/pdfjs/wasm/"
    assert (STATIC / "vendor" / "pdfjs" / "wasm" / "openjpeg.wasm").is_file()
    script = (STATIC / "reviewflow" / "pdf_viewer.js").read_text()
    assert "wasmUrl: this.root.dataset.pdfjsWasm" in script
