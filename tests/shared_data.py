"""Where the team's shared real data lives, and a skip for when it is absent.

Tests read real exports from ``../shared/data/`` (beside the repository) or from
``$REVIEWFLOW_SHARED_DATA``. When the folder is missing they skip with a reason locally;
with ``CI=true`` a missing folder is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("REVIEWFLOW_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under the shared data folder; skips (or fails in CI) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found: {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
