"""Runs ASReview LAB's default model on one labelled set and seeds; executed with the
throw-away ASReview virtualenv's Python by bench/prioritisation.py. Prints one JSON line
per seed: {"seed", "order"} (row indices in the order ASReview screened them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from asreview.learner import ActiveLearningCycle
from asreview.models import get_ai_config
from asreview.models.queriers import TopDown
from asreview.models.stoppers import IsFittable
from asreview.simulation.simulate import Simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.screening_data import load  # noqa: E402
from screening.prioritisation.simulate import pick_priors  # noqa: E402


def main() -> None:
    name, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    ai = sys.argv[3] if len(sys.argv) > 3 else None
    rows = load(name)
    df = pd.DataFrame({"title": [r[0] for r in rows], "abstract": [r[1] for r in rows]})
    labels = np.array([r[2] for r in rows])
    for seed in seeds:
        np.random.seed(seed)
        config = get_ai_config(ai)
        cycles = [
            ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()),
            ActiveLearningCycle.from_meta(config["value"]),
        ]
        sim = Simulate(df, labels, cycles, print_progress=False)
        sim.label(pick_priors(labels, seed))
        sim.review()
        order = [int(i) for i in sim._results["record_id"].to_numpy()]
        print(json.dumps({"seed": seed, "model": config["name"], "order": order}), flush=True)


if __name__ == "__main__":
    main()
