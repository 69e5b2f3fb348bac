"""Benchmark of the import path: parse-only and full-import throughput, side by side with rispy.

Run by hand (not in tests)::

    .venv/bin/python bench/import.py                    # 100,000 records, 3 parse runs each
    .venv/bin/python bench/import.py --quick            # 10,000 records, one run each
    .venv/bin/python bench/import.py --records 50000 --repeat 3
    .venv/bin/python bench/import.py --no-debug         # imports with DEBUG=0
    .venv/bin/python bench/import.py --no-postgres --no-dedup --no-rispy

What it measures, each in a fresh subprocess so its peak memory (``ru_maxrss``) is its own:

1. **Files**: a synthetic RIS file and a synthetic PubMed/MEDLINE (``.nbib``) file of
   ``--records`` records each, written to a temporary folder in the style of real exports
   (``../shared/data/exports``): RIS with TY/TI/AU×5/PY/JO/VL/IS/SP/EP/DO/AB/KW×5/SN/UR/ER,
   MEDLINE with PMID/TI/AB (wrapped, six-space continuation lines)/FAU+AU×5/DP/JT/TA/VI/
   IP/PG/LID [doi]/AID/MH×5/PT/LA. Abstracts are about 1,200 characters; a few names and
   abstracts carry non-ASCII letters.
2. **Parse only**: ``screening.importers.parse_file`` over the file opened ``"rb"``, every
   result consumed (the median of 3 runs, 1 with ``--quick``). The reference is rispy's
   ``rispy.load`` on the same RIS file; rispy lives in a throw-away virtualenv
   (``/tmp/rispy-venv``, created on first use with ``pip install rispy``; never a
   dependency of reviewflow). Times cover opening the file to the last record, inside the
   process (interpreter start-up and imports excluded).
3. **Full import**: in a subprocess with ``DJANGO_SETTINGS_MODULE=reviewflow.settings``, a
   fresh ``REVIEWFLOW_DATA_DIR``, ``CELERY_TASK_ALWAYS_EAGER=1`` and ``DEBUG=1`` (the
   setting ``make run`` uses), on SQLite (a file in the data folder) and on PostgreSQL
   (``postgres://postgres@127.0.0.1:5432/reviewflow_bench``, created and dropped with
   ``createdb``/``dropdb``; the rows are skipped with a note when it is unreachable).
   After ``migrate``, a user and a review, the time runs from ``create_search`` (the upload:
   the file is copied into the media folder, and on commit the eager task runs the import)
   through ``run_import`` until the search is ``done``; ``records_imported`` must equal
   ``--records``. ``MAX_UPLOAD_MB`` is raised for the run, as 100,000 MEDLINE records
   exceed the default limit of 200 MB. The ``dedup_search`` task the import queues when
   it is done would run inside that time with eager tasks: it is timed apart (its time and
   the process's peak memory after it are listed under the table; ``--no-dedup`` skips it).

The table ends with two targets: a full import of the file within 3× the time rispy takes
to parse the RIS file (the MEDLINE rows are compared with rispy's RIS time too: rispy does
not read MEDLINE), and peak memory under 500 MB for every row of ours.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
RISPY_VENV = Path("/tmp/rispy-venv")
PG_HOST, PG_USER, PG_DATABASE = "127.0.0.1", "postgres", "reviewflow_bench"
PG_URL = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_DATABASE}"
SPEED_TARGET = 3.0  # a full import within this many times rispy's parse time
MEMORY_TARGET_MB = 500.0

RISPY_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
import rispy

started = time.perf_counter()
entries = rispy.load(Path(sys.argv[1]), encoding="utf-8")
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "records": len(entries), "peak_mb": peak}))
"""


# ---------------------------------------------------------------- synthetic exports


def _wordlist(text: str) -> list[str]:
    return text.split()


_WORDS = _wordlist("""
patients treatment outcome randomised controlled trial cohort study effect risk
association clinical intervention placebo mortality incidence prevalence adults children
women men hospital primary care follow-up months years baseline analysis regression model
adjusted odds ratio hazard confidence interval significant difference group groups compared
dose therapy chronic acute disease disorder symptoms quality life depression anxiety pain
diabetes hypertension cardiovascular cancer infection vaccine exposure screening diagnosis
sensitivity specificity accuracy biomarker serum plasma levels expression gene protein cells
mice model inflammatory response receptor pathway signalling activity function mechanism
evidence systematic review meta-analysis observational cross-sectional survey questionnaire
participants recruited enrolled eligible criteria inclusion exclusion primary secondary
endpoint efficacy safety adverse events tolerability reduction increase decrease improvement
measured assessed evaluated reported observed associated independent factors predictors
population community national regional rural urban income education socioeconomic status
health services costs utilisation access barriers implementation feasibility acceptability
""")
_ACCENTED_WORDS = ["naïve", "café", "Sjögren", "Ménière", "Guillain–Barré", "β-blocker", "±"]
_HEADINGS = ("BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS")
_SURNAMES = _wordlist("""
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis
Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell
Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Wang
Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Kim Park Choi Nguyen Tran
Singh Kumar Sharma Patel Gupta Tanaka Suzuki Sato Watanabe Ito Rossi Russo Ferrari Bianchi
Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Jansen Visser Bakker Dubois
""")
_ACCENTED_SURNAMES = ["Müller", "García-López", "Sørensen", "Núñez", "Čapek", "Åberg", "Özdemir"]
_SYLLABLES = _wordlist("""
ka ro mi ten bel dor fa gan hel ix jo kor lan mer nor pa qui ras sol tur ul van wes yor
zan ber cal del ek fin gor hal ist jan kel lum mon nes ost pir rud sek tam ur vel wil
""")
_GIVEN = _wordlist("""
James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Wei Li Hiroshi Yuki Anna Maria
Lucas Sofia Ahmed Fatima Olga Ivan Priya Rahul Ana José Eva Lars Ingrid Pieter Sanne
""")
_JOURNALS = [
    ("Addictive Behaviors", "Addict Behav", "0306-4603"),
    ("BMJ (Clinical research ed.)", "BMJ", "0959-8138"),
    ("The Lancet", "Lancet", "0140-6736"),
    ("JAMA", "JAMA", "0098-7484"),
    ("PloS one", "PLoS One", "1932-6203"),
    ("BMC public health", "BMC Public Health", "1471-2458"),
    ("Journal of clinical epidemiology", "J Clin Epidemiol", "0895-4356"),
    ("The New England journal of medicine", "N Engl J Med", "0028-4793"),
    ("Cochrane Database of Systematic Reviews", "Cochrane Database Syst Rev", "1469-493X"),
    ("Diabetes care", "Diabetes Care", "0149-5992"),
    ("Journal of affective disorders", "J Affect Disord", "0165-0327"),
    (
        "International journal of environmental research and public health",
        "Int J Environ Res Public Health",
        "1660-4601",
    ),
    ("Scientific reports", "Sci Rep", "2045-2322"),
    ("Frontiers in psychiatry", "Front Psychiatry", "1664-0640"),
    ("Vaccine", "Vaccine", "0264-410X"),
    ("Annals of internal medicine", "Ann Intern Med", "0003-4819"),
]
_MESH = """
Humans|Female|Male|Adult|Middle Aged|Aged|Adolescent|Child|Risk Factors|Prevalence|
Cohort Studies|Prospective Studies|Retrospective Studies|Cross-Sectional Studies|
Treatment Outcome|Quality of Life|Depression/epidemiology|Anxiety/therapy|
Diabetes Mellitus, Type 2/drug therapy|Hypertension/prevention & control|
Neoplasms/diagnosis|Cardiovascular Diseases/mortality|Surveys and Questionnaires|
Randomized Controlled Trials as Topic|Socioeconomic Factors|Gambling/psychology|
Vaccination/statistics & numerical data|Biomarkers/blood|Pain Management/methods
""".replace("\n", "").split("|")
_PUBLICATION_TYPES = [
    "Journal Article",
    "Randomized Controlled Trial",
    "Review",
    "Comparative Study",
]


class _Faker:
    """Deterministic fake bibliographic data (the same seed gives the same files)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def words(self, n: int) -> list[str]:
        return self.rng.choices(_WORDS, k=n)

    def title(self) -> str:
        words = self.words(self.rng.randint(8, 18))
        words[0] = words[0].capitalize()
        if self.rng.random() < 0.3:
            words.insert(self.rng.randint(1, len(words) - 1), "versus")
        tail = ": a randomised controlled trial" if self.rng.random() < 0.2 else ""
        return " ".join(words) + tail

    def abstract(self) -> str:
        target = self.rng.randint(900, 1500)  # about 1,200 characters on average
        parts: list[str] = []
        size = 0
        heading = 0
        while size < target:
            words = self.words(self.rng.randint(10, 24))
            if self.rng.random() < 0.02:
                words[self.rng.randrange(len(words))] = self.rng.choice(_ACCENTED_WORDS)
            if self.rng.random() < 0.3:
                words.append(f"(n = {self.rng.randint(20, 90000):,})")
            sentence = " ".join(words).capitalize() + "."
            if heading < len(_HEADINGS) and size >= heading * target // len(_HEADINGS):
                sentence = f"{_HEADINGS[heading]}: {sentence}"
                heading += 1
            parts.append(sentence)
            size += len(sentence) + 1
        if self.rng.random() < 0.2:
            parts.append(f"© {self.rng.randint(2000, 2024)} The Authors.")
        return " ".join(parts)

    def surname(self) -> str:
        roll = self.rng.random()
        if roll < 0.03:
            return self.rng.choice(_ACCENTED_SURNAMES)
        if roll < 0.5:
            return self.rng.choice(_SURNAMES)
        # Most authors of a large export are unique: make up a name from syllables.
        return "".join(self.rng.choices(_SYLLABLES, k=self.rng.randint(2, 3))).capitalize()

    def author(self) -> tuple[str, str]:
        """(family name, given names), e.g. ("Tulloch", "Claire Anne")."""
        given = self.rng.choice(_GIVEN)
        if self.rng.random() < 0.4:
            given = f"{given} {self.rng.choice(_GIVEN)}"
        return self.surname(), given

    def keywords(self, n: int) -> list[str]:
        return [" ".join(self.words(self.rng.randint(1, 3))) for _ in range(n)]


@dataclass
class _Citation:
    title: str
    abstract: str
    authors: list[tuple[str, str]]
    year: int
    journal: tuple[str, str, str]
    volume: int
    issue: int
    first_page: int
    last_page: int
    doi: str
    pmid: int
    keywords: list[str] = field(default_factory=list)


def _citations(count: int, seed: int) -> Iterator[_Citation]:
    fake = _Faker(seed)
    rng = fake.rng
    for n in range(count):
        journal = rng.choice(_JOURNALS)
        first_page = rng.randint(1, 2400)
        pmid = 20_000_000 + n * 7 + rng.randint(0, 6)
        yield _Citation(
            title=fake.title(),
            abstract=fake.abstract(),
            authors=[fake.author() for _ in range(5)],
            year=rng.randint(1995, 2024),
            journal=journal,
            volume=rng.randint(1, 400),
            issue=rng.randint(1, 12),
            first_page=first_page,
            last_page=first_page + rng.randint(3, 20),
            doi=f"10.{rng.randint(1000, 9999)}/{journal[1].lower().replace(' ', '.')}.{pmid}",
            pmid=pmid,
            keywords=fake.keywords(5),
        )


def _initials(given: str) -> str:
    return "".join(part[0] for part in given.split())


def write_ris(path: Path, count: int, seed: int = 1) -> None:
    """A RIS file as Scopus and PubMed write it: one ``XX  - value`` line per value."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for c in _citations(count, seed):
            lines = ["TY  - JOUR", f"TI  - {c.title}"]
            lines += [
                f"AU  - {family}, {'. '.join(_initials(given))}." for family, given in c.authors
            ]
            lines += [
                f"PY  - {c.year}",
                f"JO  - {c.journal[0]}",
                f"VL  - {c.volume}",
                f"IS  - {c.issue}",
                f"SP  - {c.first_page}",
                f"EP  - {c.last_page}",
                f"DO  - {c.doi}",
                f"AB  - {c.abstract}",
            ]
            lines += [f"KW  - {keyword}" for keyword in c.keywords]
            lines += [
                f"SN  - {c.journal[2]}",
                f"UR  - https://doi.org/{c.doi}",
                "ER  - ",
                "",
                "",
            ]
            out.write("\n".join(lines))


def _wrap(tag: str, value: str, width: int = 82) -> list[str]:
    """A MEDLINE field: ``TAG - `` then the value, continued on lines indented six spaces."""
    lines: list[str] = []
    current = f"{tag:<4}- "
    for word in value.split(" "):
        if len(current) + len(word) > width and current.strip():
            lines.append(current)
            current = "      "
        current += word + " "
    lines.append(current.rstrip())
    return lines


def write_nbib(path: Path, count: int, seed: int = 2) -> None:
    """A PubMed "PubMed format" export: records separated by a blank line."""
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for c in _citations(count, seed):
            mesh = _MESH[c.pmid % len(_MESH) :] + _MESH[: c.pmid % len(_MESH)]
            lines = [
                f"PMID- {c.pmid}",
                "OWN - NLM",
                "STAT- MEDLINE",
                f"IS  - {c.journal[2]} (Electronic)",
                f"VI  - {c.volume}",
                f"IP  - {c.issue}",
                f"DP  - {c.year} {('Jan', 'Mar', 'Jun', 'Sep', 'Nov')[c.pmid % 5]}",
                *_wrap("TI", c.title + "."),
                f"PG  - {c.first_page}-{c.last_page}",
                f"LID - {c.doi} [doi]",
                *_wrap("AB", c.abstract),
            ]
            for family, given in c.authors:
                lines += [f"FAU - {family}, {given}", f"AU  - {family} {_initials(given)}"]
            lines += [
                "LA  - eng",
                f"PT  - {_PUBLICATION_TYPES[c.pmid % len(_PUBLICATION_TYPES)]}",
                f"TA  - {c.journal[1]}",
                f"JT  - {c.journal[0]}",
                *(f"MH  - {heading}" for heading in mesh[:5]),
                f"AID - {c.doi} [doi]",
                f"AID - S{c.pmid:011d} [pii]",
                "",
                "",
            ]
            out.write("\n".join(lines))


# ---------------------------------------------------------------- workers (subprocesses)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


_PARSER_PEAKS_KIB: list[int] = []  # each parser process's own peak, as it reported it


def _peak_with_children_mb() -> float:
    """This process's peak plus the largest peak of its parser processes: both were alive
    at once. (The child's own ``VmHWM``: ``RUSAGE_CHILDREN`` would count the pages of this
    process that the child held between fork and exec.)"""
    return _peak_mb() + max(_PARSER_PEAKS_KIB, default=0) / 1024


def worker_parse(path: Path) -> dict[str, Any]:
    """Parse ``path`` with our parser, consuming every result."""
    sys.path.insert(0, str(REPO))
    from screening.importers import Rejection, parse_file

    records = rejected = 0
    started = time.perf_counter()
    with path.open("rb") as stream:
        parsed = parse_file(stream)
        for result in parsed.results:
            if isinstance(result, Rejection):
                rejected += 1
            else:
                records += 1
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "records": records,
        "rejected": rejected,
        "format": parsed.format,
        "peak_mb": _peak_mb(),
    }


def worker_import(path: Path, *, dedup: bool) -> dict[str, Any]:
    """Migrate a fresh database and import ``path`` into a new review, end to end.

    The import queues ``dedup_search`` when it commits ``done``; with eager tasks that would
    run inside our timing, so its ``apply_async`` is wrapped: the import's time and peak
    memory are taken when it is queued, then it runs (unless ``dedup`` is false) and is timed
    apart. Peak memory adds the parser process's peak (large files are parsed in a second
    process, ``screening.importers.pipeline``) to this process's.
    """
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from reviewflow.reviews.services import create_review
    from screening import tasks
    from screening.importers.pipeline import ParserProcess
    from screening.models import SearchStatus
    from screening.services import identification
    from screening.services.identification import create_search, run_import

    class Measured(ParserProcess):
        def close(self) -> None:
            super().close()
            _PARSER_PEAKS_KIB.append(self.child_peak_kib)

    identification.ParserProcess = Measured  # type: ignore[misc]

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench")
    review = create_review(title="Import benchmark", slug="import-bench", owner=owner)

    done_at: list[tuple[float, float]] = []  # (time, peak MB) when the import committed done
    task = getattr(tasks, "dedup_search", None)
    if task is not None:
        queue = task.apply_async

        def apply_async(*args: Any, **kwargs: Any) -> Any:
            done_at.append((time.perf_counter(), _peak_with_children_mb()))
            return queue(*args, **kwargs) if dedup else None

        task.apply_async = apply_async

    started = time.perf_counter()
    with path.open("rb") as upload:
        # Outside a transaction, the eager task runs the import when create_search commits.
        search = create_search(
            review=review, actor=owner, file=upload, filename=path.name, source="Benchmark"
        )
    search = run_import(search_id=search.pk)  # returns at once if the import is done
    ended, peak = time.perf_counter(), _peak_with_children_mb()
    if not done_at:
        raise SystemExit("the import queued no dedup_search task: the benchmark's hook missed it")
    if search.status != SearchStatus.DONE:
        raise SystemExit(f"import ended as {search.status}: {search.failure}")
    result: dict[str, Any] = {
        "parser_processes": len(_PARSER_PEAKS_KIB),
        "parser_peak_mb": max(_PARSER_PEAKS_KIB, default=0) / 1024,
        "seconds": ended - started,
        "records": search.records_imported,
        "rejected": search.records_rejected,
        "format": search.format,
        "peak_mb": peak,
    }
    done, done_peak = done_at[0]
    result["process_peak_mb"] = done_peak - result["parser_peak_mb"]
    result.update(seconds=done - started, peak_mb=done_peak)
    if dedup:
        result.update(dedup_seconds=ended - done, dedup_peak_mb=peak)
    return result


# ---------------------------------------------------------------- driver


@dataclass
class Row:
    name: str
    records: int | None = None
    runs: list[float] = field(default_factory=list)
    peak_mb: float | None = None
    note: str = ""
    baseline: bool = False  # rispy: the reference, not held to our targets
    is_import: bool = False
    dedup_runs: list[float] = field(default_factory=list)  # the task queued after an import
    dedup_peak_mb: float | None = None

    @property
    def seconds(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def rate(self) -> float | None:
        seconds = self.seconds
        return self.records / seconds if seconds and self.records is not None else None


def _run_json(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` and read the JSON object it prints on its last line of output."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed ({done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _measure(row: Row, runs: int, once: Callable[[], dict[str, Any]], expected: int) -> None:
    for _ in range(runs):
        result = once()
        if result["records"] != expected:
            raise RuntimeError(f"{row.name}: {result['records']:,} records, not {expected:,}")
        row.records = result["records"]
        row.runs.append(result["seconds"])
        row.peak_mb = max(row.peak_mb or 0.0, result["peak_mb"])
        line = f"  {row.name}: {result['seconds']:.2f} s, {result['peak_mb']:.0f} MB"
        if "parser_processes" in result:
            line += (
                f" (this process {result['process_peak_mb']:.0f} MB, parser processes: "
                f"{result['parser_processes']}, {result['parser_peak_mb']:.0f} MB)"
            )
        if "dedup_seconds" in result:
            row.dedup_runs.append(result["dedup_seconds"])
            row.dedup_peak_mb = max(row.dedup_peak_mb or 0.0, result["dedup_peak_mb"])
            line += (
                f" (then dedup {result['dedup_seconds']:.2f} s, {result['dedup_peak_mb']:.0f} MB)"
            )
        print(line, flush=True)


def ensure_rispy() -> Path:
    """The interpreter of rispy's throw-away virtualenv, creating it if needed."""
    python = RISPY_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing rispy into {RISPY_VENV} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(RISPY_VENV)], check=True)
        subprocess.run([str(RISPY_VENV / "bin" / "pip"), "install", "-q", "rispy"], check=True)
    return python


def _self(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _pg(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            command,
            "-h",
            PG_HOST,
            "-U",
            PG_USER,
            *(["--if-exists"] if command == "dropdb" else []),
            PG_DATABASE,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _import_once(path: Path, *, postgres: bool, debug: bool, dedup: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-bench-import-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "REVIEWFLOW_DATA_DIR": str(data_dir),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "1" if debug else "0",
        "MAX_UPLOAD_MB": "2048",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    try:
        if postgres:
            _pg("dropdb")
            created = _pg("createdb")
            if created.returncode != 0:
                raise RuntimeError(f"createdb failed: {created.stderr.strip()}")
            env["DATABASE_URL"] = PG_URL
        kind = "import+dedup" if dedup else "import"
        return _run_json(_self("--worker", kind, str(path)), env)
    finally:
        if postgres:
            _pg("dropdb")
        shutil.rmtree(data_dir, ignore_errors=True)


def _postgres_unreachable() -> str:
    """Why PostgreSQL cannot be used, or ``""`` when it can."""
    try:
        probe = _pg("dropdb")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"PostgreSQL tools unavailable ({exc})"
    if probe.returncode != 0:
        return f"PostgreSQL unreachable at {PG_HOST}: {probe.stderr.strip()[:120]}"
    return ""


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_table(rows: list[Row], rispy: Row, out: TextIO = sys.stdout) -> None:
    header = ("", "records", "seconds", "records/s", "peak MB", "× rispy parse")
    table = [header]
    for row in rows:
        ratio = (
            row.seconds / rispy.seconds
            if row.is_import and row.seconds is not None and rispy.seconds
            else None
        )
        table.append(
            (
                row.name,
                _fmt(row.records, ","),
                _fmt(row.seconds, ".2f"),
                _fmt(row.rate, ",.0f"),
                _fmt(row.peak_mb, ".0f"),
                _fmt(ratio, ".2f"),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
        print("  ".join(cells).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        if row.note:
            print(f"  note: {row.name}: {row.note}", file=out)
    deduped = [row for row in rows if row.dedup_runs]
    if deduped:
        print(
            "\nAfter each import, the dedup task it queues (eager here; a separate task on a "
            "worker),\nnot in the times above; peak MB is the whole process's:",
            file=out,
        )
        for row in deduped:
            print(
                f"  {row.name}: dedup {statistics.median(row.dedup_runs):.2f} s, "
                f"peak {_fmt(row.dedup_peak_mb, '.0f')} MB",
                file=out,
            )


def print_targets(rows: list[Row], rispy: Row, records: int, out: TextIO = sys.stdout) -> bool:
    ok = True
    print(
        f"\nTarget 1: full import of {records:,} records within {SPEED_TARGET:g}× the time "
        f"rispy takes to parse the same file (rispy parse: {_fmt(rispy.seconds, '.2f')} s; "
        "rispy reads no MEDLINE, so the nbib rows are compared with its RIS time too)",
        file=out,
    )
    for row in rows:
        if not row.is_import:
            continue
        if row.seconds is None or not rispy.seconds:
            print(f"  SKIP  {row.name}: {row.note or 'not measured'}", file=out)
            continue
        ratio = row.seconds / rispy.seconds
        passed = ratio <= SPEED_TARGET
        ok &= passed
        verdict = "PASS" if passed else "FAIL"
        print(f"  {verdict}  {row.name}: {ratio:.2f}× ({row.seconds:.2f} s)", file=out)
    print(
        f"\nTarget 2: peak memory under {MEMORY_TARGET_MB:g} MB (our rows; an import's peak "
        "is its process's plus its parser process's)",
        file=out,
    )
    for row in rows:
        if row.baseline:
            continue
        if row.peak_mb is None:
            print(f"  SKIP  {row.name}: {row.note or 'not measured'}", file=out)
            continue
        passed = row.peak_mb < MEMORY_TARGET_MB
        ok &= passed
        verdict = "PASS" if passed else "FAIL"
        print(f"  {verdict}  {row.name}: {row.peak_mb:.0f} MB", file=out)
    return ok


def run_bench(args: argparse.Namespace) -> int:
    records = 10_000 if args.quick else args.records
    parse_runs = 1 if args.quick else 3
    import_runs = args.repeat or 1
    load_before = os.getloadavg()[1]
    rows = {
        name: Row(name)
        for name in (
            "RIS parse (ours)",
            "RIS parse (rispy)",
            "nbib parse (ours)",
            "RIS import SQLite",
            "RIS import PostgreSQL",
            "nbib import SQLite",
            "nbib import PostgreSQL",
        )
    }
    rispy = rows["RIS parse (rispy)"]
    rispy.baseline = True
    for name, row in rows.items():
        row.is_import = "import" in name

    with tempfile.TemporaryDirectory(prefix="reviewflow-bench-files-") as tmp:
        ris, nbib = Path(tmp) / "bench.ris", Path(tmp) / "bench.nbib"
        started = time.perf_counter()
        write_ris(ris, records)
        write_nbib(nbib, records)
        print(
            f"wrote {records:,} records: {ris.name} {ris.stat().st_size / 1048576:.0f} MB, "
            f"{nbib.name} {nbib.stat().st_size / 1048576:.0f} MB "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

        for path, name in ((ris, "RIS parse (ours)"), (nbib, "nbib parse (ours)")):
            _measure(
                rows[name],
                parse_runs,
                lambda path=path: _run_json(_self("--worker", "parse", str(path))),
                records,
            )
        if args.no_rispy:
            rispy.note = "skipped (--no-rispy)"
        else:
            python = ensure_rispy()
            _measure(
                rispy,
                parse_runs,
                lambda: _run_json([str(python), "-c", RISPY_SCRIPT, str(ris)]),
                records,
            )

        pg_problem = "skipped (--no-postgres)" if args.no_postgres else _postgres_unreachable()
        for path, label in ((ris, "RIS"), (nbib, "nbib")):
            for database in ("SQLite", "PostgreSQL"):
                row = rows[f"{label} import {database}"]
                postgres = database == "PostgreSQL"
                if postgres and pg_problem:
                    row.note = pg_problem
                    continue
                _measure(
                    row,
                    import_runs,
                    lambda path=path, postgres=postgres: _import_once(
                        path, postgres=postgres, debug=not args.no_debug, dedup=not args.no_dedup
                    ),
                    records,
                )

    print(
        f"\n{records:,} records; parse: median of {parse_runs} run(s); import: median of "
        f"{import_runs} run(s), DEBUG={0 if args.no_debug else 1}; {os.cpu_count()} CPUs, "
        f"5-minute load average {load_before:.1f} before, {os.getloadavg()[1]:.1f} after "
        "(other work on the machine makes the times noisy)\n"
    )
    print_table(list(rows.values()), rispy)
    print_targets(list(rows.values()), rispy, records)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="records per file")
    parser.add_argument("--quick", action="store_true", help="10,000 records, one run each")
    parser.add_argument("--repeat", type=int, default=0, help="runs of each import (default 1)")
    parser.add_argument("--no-rispy", action="store_true", help="skip the rispy reference")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--no-debug", action="store_true", help="import with DEBUG=0")
    parser.add_argument(
        "--no-dedup", action="store_true", help="skip the dedup task queued after each import"
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path = args.worker
        if kind == "parse":
            print(json.dumps(worker_parse(Path(path))))
        else:
            print(json.dumps(worker_import(Path(path), dedup=kind == "import+dedup")))
        return 0
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
