"""The diagram as a one-page PDF 1.4, written by hand: no font files, no libraries.

It uses the standard Helvetica and Helvetica-Bold that every PDF reader has, with
WinAnsiEncoding (Windows-1252), so Western European names print as typed; characters that
encoding lacks become "?". The content stream is left uncompressed: it is a few kilobytes,
and the numbers stay readable to ``grep`` and to text extraction. The output is a pure
function of the layout (no timestamps), so the same counts give the same bytes.
"""

from __future__ import annotations

from .layout import Box, Layout, arrow_geometry, text_runs
from .metrics import text_width

__all__ = ["pdf_text", "render_pdf"]

# Rounded corners of the side labels: the Bézier handle length of a quarter circle.
_KAPPA = 0.5523
_RADIUS = 5.0
_TRANSLATE = str.maketrans({"−": "-", "\u2009": " ", "\u202f": " "})


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return f"{_num(r)} {_num(g)} {_num(b)}"


def pdf_text(text: str) -> bytes:
    """``text`` as a PDF string literal in WinAnsiEncoding ("?" for what it cannot show)."""
    raw = text.translate(_TRANSLATE).encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += f"\\{byte:03o}".encode("ascii")
    out += b")"
    return bytes(out)


class _Page:
    def __init__(self, height: float) -> None:
        self.height = height
        self.ops: list[bytes] = []

    def op(self, text: str) -> None:
        self.ops.append(text.encode("ascii"))

    def xy(self, x: float, y: float) -> str:
        return f"{_num(x)} {_num(self.height - y)}"

    def rect(self, box: Box) -> None:
        fill = box.fill != "#ffffff"
        if box.stroke is None and not fill:
            return
        paint = "B" if fill and box.stroke else ("f" if fill else "S")
        self.op(f"{_rgb(box.fill)} rg")
        if box.stroke:
            self.op(f"{_rgb(box.stroke)} RG {1.5 if box.problem else 0.8} w")
        if box.style != "side-label":
            self.op(f"{self.xy(box.x, box.bottom)} {_num(box.w)} {_num(box.h)} re {paint}")
            return
        r, k = _RADIUS, _RADIUS * _KAPPA
        x0, y0, x1, y1 = box.x, box.y, box.right, box.bottom
        self.op(
            " ".join(
                [
                    f"{self.xy(x0 + r, y0)} m {self.xy(x1 - r, y0)} l",
                    f"{self.xy(x1 - r + k, y0)} {self.xy(x1, y0 + r - k)} {self.xy(x1, y0 + r)} c",
                    f"{self.xy(x1, y1 - r)} l",
                    f"{self.xy(x1, y1 - r + k)} {self.xy(x1 - r + k, y1)} {self.xy(x1 - r, y1)} c",
                    f"{self.xy(x0 + r, y1)} l",
                    f"{self.xy(x0 + r - k, y1)} {self.xy(x0, y1 - r + k)} {self.xy(x0, y1 - r)} c",
                    f"{self.xy(x0, y0 + r)} l",
                    f"{self.xy(x0, y0 + r - k)} {self.xy(x0 + r - k, y0)} {self.xy(x0 + r, y0)} c",
                    f"h {paint}",
                ]
            )
        )

    def text(self, box: Box) -> None:
        for run in text_runs(box):
            font = "/F2" if run.bold else "/F1"
            offset = 0.0
            if run.anchor == "middle":
                offset = text_width(run.text, run.size, bold=run.bold) / 2
            if run.rotated:
                matrix = f"0 1 -1 0 {self.xy(run.x, run.y + offset)}"
            else:
                matrix = f"1 0 0 1 {self.xy(run.x - offset, run.y)}"
            self.op(f"BT {font} {_num(run.size)} Tf {_rgb(run.color)} rg {matrix} Tm")
            self.ops.append(pdf_text(run.text) + b" Tj ET")


def render_pdf(layout: Layout) -> bytes:
    """A one-page PDF of ``layout``, the page exactly the diagram's size."""
    page = _Page(layout.height)
    page.op("1 J 1 j")
    for box in layout.boxes:
        page.rect(box)
    page.op("0 0 0 RG 0 0 0 rg 0.8 w")
    for arrow in layout.arrows:
        shaft, head = arrow_geometry(arrow)
        path = " ".join(f"{page.xy(x, y)} {'l' if i else 'm'}" for i, (x, y) in enumerate(shaft))
        page.op(f"{path} S")
        tip, left, right = head
        page.op(f"{page.xy(*tip)} m {page.xy(*left)} l {page.xy(*right)} l h f")
    for box in layout.boxes:
        page.text(box)
    content = b"\n".join(page.ops) + b"\n"

    font = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(layout.width)} "
            f"{_num(layout.height)}] /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> "
            "/Contents 4 0 R >>"
        ).encode("ascii"),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        font.format("Helvetica").encode("ascii"),
        font.format("Helvetica-Bold").encode("ascii"),
        b"<< /Title (PRISMA 2020 flow diagram) /Producer (reviewflow) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
