"""Fixtures shared by the import tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

PARSERS = ["in-process", "child"]


@pytest.fixture(params=PARSERS)
def parser(
    request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Run the test once with the file parsed in the importing process and once in a parser
    process (``screening.importers.pipeline``), whatever the file's size and the CPUs here;
    in the second case, fail unless a parser process was really started."""
    from screening.importers import pipeline
    from screening.services import identification

    mode: str = request.param
    started: list[pipeline.ParserProcess] = []
    if mode == "child":
        settings.IMPORT_PARSER_PROCESS_MIN_MB = 0
        monkeypatch.setattr(identification, "_cpus", lambda: 2)

        class Counted(pipeline.ParserProcess):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                started.append(self)
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(identification, "ParserProcess", Counted)
    else:
        settings.IMPORT_PARSER_PROCESS_MIN_MB = -1
    yield mode
    if mode == "child":
        assert started, "no parser process was started"
        for process in started:
            assert process.exit_code is not None, "a parser process was left running"
