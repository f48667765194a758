"""The feature baseline: a typical person's request, feature by feature (the median over simulated people).

`scoring.model` explains a model-driven score by setting one group of features at a time to this baseline and
scoring again; the difference is how much that group pushed the score up. It depends on the feature schema, not on
a model, so one file serves every model trained on the schema. Rewrite it when the schema changes:

    python -m botwall.lab.baseline --out ext_proc/botwall/data/feature_baseline.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from botwall.config import load_config
from botwall.lab.simulate import Scenario, simulate, training_config
from botwall.scoring.features import FEATURE_NAMES, SCHEMA_VERSION


def feature_baseline(seed: int = 7) -> dict[str, object]:
    """The median of every feature over the people of a seeded standard scenario, with the schema it fits."""
    records = simulate(Scenario(seed=seed), training_config(load_config(None)))
    people = [r.features for r in records if not r.labels.is_bot]
    medians = [round(statistics.median(column), 4) for column in zip(*people, strict=True)]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": f"median over {len(people)} requests of simulated people (botwall.lab.simulate, seed {seed})",
        "features": dict(zip(FEATURE_NAMES, medians, strict=True)),
    }


def main() -> None:
    """Write the baseline file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, help="where to write the JSON file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    Path(args.out).write_text(json.dumps(feature_baseline(args.seed), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
