"""The forest and funnel plots drawn as PNG and PDF from the SVG's own shapes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from extraction.synthesis import SynthesisError, meta_analyse
from extraction.synthesis.io import read_effects_csv
from extraction.synthesis.plots import forest_svg, funnel_svg
from extraction.synthesis.raster import svg_to_pdf, svg_to_png

BCG = Path(__file__).parent / "fixtures" / "synthesis" / "dat_bcg.csv"


@pytest.fixture(scope="module")
def bcg():
    effects = read_effects_csv(BCG.read_bytes(), measure="RR")
    return effects, meta_analyse(effects, method="REML")


def test_forest_png_has_the_svgs_size_and_draws_the_diamond(bcg):
    effects, result = bcg
    svg = forest_svg(effects, result)
    image = Image.open(io.BytesIO(svg_to_png(svg)))
    assert image.format == "PNG" and image.size[0] == 1700  # 850 px at scale 2
    # The pooled diamond (the black polygon) is filled at its centre, in its colour.
    [points] = re.findall(r'<polygon points="([^"]+)" fill="#1b1b1b" stroke=', svg)
    xy = [tuple(float(v) for v in p.split(",")) for p in points.split()]
    centre = (round(sum(x for x, _ in xy) / 4 * 2), round(sum(y for _, y in xy) / 4 * 2))
    assert image.convert("RGB").getpixel(centre) == (0x1B, 0x1B, 0x1B)
    assert image.convert("RGB").getpixel((centre[0], centre[1] - 30)) == (255, 255, 255)


def test_funnel_and_pdf(bcg):
    effects, result = bcg
    pdf = svg_to_pdf(funnel_svg(effects, result))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_an_element_outside_the_plots_vocabulary_is_refused():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 0"/></svg>'
    with pytest.raises(SynthesisError, match="element the renderer does not draw: <path>"):
        svg_to_png(svg)
    with pytest.raises(SynthesisError, match="not valid SVG"):
        svg_to_png("<svg")


def test_text_outside_the_builtin_font_is_drawn_as_ascii_lookalikes(bcg):
    effects, result = bcg
    svg = forest_svg(effects, result, title="Ωmega τ² − café")
    assert Image.open(io.BytesIO(svg_to_png(svg))).format == "PNG"
