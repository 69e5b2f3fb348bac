"""``manage.py metaanalysis FILE.csv --measure … --method …``: pool a CSV's studies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from extraction.synthesis import (
    EffectSet,
    Measure,
    MetaResult,
    Method,
    SynthesisError,
    mantel_haenszel,
    meta_analyse,
    subgroup_analysis,
)
from extraction.synthesis.io import read_effects_csv
from extraction.synthesis.plots import forest_svg, funnel_svg


class Command(BaseCommand):
    help = (
        "Meta-analyse the studies of a CSV (study,ai,bi,ci,di for OR/RR/RD or "
        "study,m1i,sd1i,n1i,m2i,sd2i,n2i for MD/SMD; optional subgroup column) and print "
        "the pooled estimate on the analysis scale (log for OR and RR)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, metavar="FILE.csv")
        parser.add_argument("--measure", required=True, choices=[m.value for m in Measure])
        parser.add_argument("--method", default="REML", choices=[m.value for m in Method])
        parser.add_argument("--format", default="text", choices=["text", "json"])
        parser.add_argument(
            "--knha", action="store_true", help="Hartung–Knapp–Sidik–Jonkman adjustment (t, k-1 df)"
        )
        parser.add_argument(
            "--mh",
            action="store_true",
            help="Mantel–Haenszel fixed effect (OR, RR, RD) instead of inverse variance",
        )
        parser.add_argument("--forest", type=Path, metavar="OUT.svg", help="write the forest plot")
        parser.add_argument("--funnel", type=Path, metavar="OUT.svg", help="write the funnel plot")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from None
        measure = Measure(opts["measure"])
        if opts["mh"] and opts["knha"]:
            raise CommandError("--knha adjusts inverse-variance models; it does not apply to --mh")
        if opts["mh"] and not measure.is_binary:
            raise CommandError(f"--mh pools OR, RR or RD, not {measure.value}")
        try:
            effects = read_effects_csv(data, measure=measure, name=str(path))
            result = self._pool(effects, opts)
            subgroups = None
            if any(e.subgroup for e in effects.effects):
                subgroups = subgroup_analysis(
                    effects, method=opts["method"], knha=opts["knha"], mh=opts["mh"]
                )
            forest = funnel = None
            if opts["forest"]:
                forest = forest_svg(effects, result, subgroups=subgroups, title=path.stem)
            if opts["funnel"]:
                funnel = funnel_svg(effects, result)
        except SynthesisError as exc:
            raise CommandError(str(exc)) from None
        for target, svg in ((opts["forest"], forest), (opts["funnel"], funnel)):
            if target is not None and svg is not None:
                try:
                    target.write_text(svg, encoding="utf-8")
                except OSError as exc:
                    raise CommandError(f"{target}: cannot write ({exc.strerror})") from None
        if opts["format"] == "json":
            out = result.to_dict()
            out["studies"] = [e.to_dict() for e in effects.effects]
            if subgroups is not None and len(subgroups.groups) > 1:
                out.update(subgroups.to_dict())
            self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(_text(effects, result, subgroups))

    def _pool(self, effects: EffectSet, opts: dict[str, Any]) -> MetaResult:
        if opts["mh"]:
            return mantel_haenszel(effects)
        return meta_analyse(effects, method=opts["method"], knha=opts["knha"])


def _num(value: float) -> str:
    return f"{value:.4f}"


def _text(effects: EffectSet, r: MetaResult, subgroups: Any) -> str:
    m = r.measure
    scale = " (log scale)" if m.is_ratio else ""
    dist = f"t, {r.k - 1} df" if r.knha else "z"
    lines = [
        f"Meta-analysis of the {m.label} ({m.value}): {r.method_label}",
        f"k = {r.k} studies",
        "",
        f"estimate{scale} = {_num(r.estimate)}  se = {_num(r.se)}  "
        f"{r.level:.0%} CI {_num(r.ci_low)} to {_num(r.ci_high)}",
    ]
    if m.is_ratio:
        lines.append(
            f"{m.value} = {r.back(r.estimate):.4f}  {r.level:.0%} CI "
            f"{r.back(r.ci_low):.4f} to {r.back(r.ci_high):.4f}"
        )
    lines.append(f"test ({dist}): {r.statistic:.4f}, p = {r.p:.4g}")
    if r.method in ("DL", "REML"):
        unit = f" ({m.value})" if m.is_ratio else ""
        lines.append(
            f"prediction interval{unit}: {r.back(r.pi_low):.4f} to {r.back(r.pi_high):.4f}"
        )
    lines += [
        "",
        f"heterogeneity: Q = {r.q:.4f} (df = {r.q_df}, p = {r.q_p:.4g})  I² = {r.i2:.2f}%  "
        f"H² = {r.h2:.4f}",
        f"tau² = {r.tau2:.4f}  tau = {r.tau:.4f}",
    ]
    if subgroups is not None and len(subgroups.groups) > 1:
        lines.append("")
        lines.append("subgroups:")
        for name, g in subgroups.groups.items():
            lines.append(
                f"  {name or '(none)'}: k = {g.k}, estimate = {_num(g.estimate)} "
                f"({_num(g.ci_low)} to {_num(g.ci_high)}), I² = {g.i2:.1f}%"
            )
        lines.append(
            f"  test for subgroup differences: Q = {subgroups.q_between:.4f} "
            f"(df = {subgroups.df_between}, p = {subgroups.p_between:.4g})"
        )
    if r.corrections:
        lines += ["", "continuity corrections:"] + [f"  {c}" for c in r.corrections]
    if r.excluded:
        lines += ["", "not pooled:"] + [f"  {x}" for x in r.excluded]
    return "\n".join(lines)
