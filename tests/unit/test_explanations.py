"""Every score at or above the suspect threshold carries reason codes that explain it, also when the model, not a
rule, drove it (issue 12, item 5): the feature groups that pushed the score up are named (`ml:*`)."""

from __future__ import annotations

import json

import pytest

from botwall.config import load_config
from botwall.lab.simulate import Record, Scenario, simulate, training_config
from botwall.scoring.features import FEATURE_GROUPS, FEATURE_NAMES, SCHEMA_VERSION
from botwall.scoring.model import OnnxScorer, load_baseline, shipped_model_path
from botwall.scoring.rules import DEFAULT_WEIGHTS, SIGNATURE


@pytest.fixture(scope="module")
def records() -> list[Record]:
    """A quarter of an hour of simulated people and bots, scored by the shipped model, no policies."""
    scenario = Scenario(seed=42, duration=900.0).scaled(0.3)
    return simulate(scenario, training_config(load_config(None)), OnnxScorer.from_file(shipped_model_path()))


def test_no_simulated_decision_at_suspect_or_above_goes_unexplained(records: list[Record]) -> None:
    """Over simulated people and bots scored by the shipped model, every score >= 30 has reason codes."""
    config = load_config(None)
    suspect = [r for r in records if r.score >= config.thresholds.suspect]
    unexplained = [(r.labels.persona, r.path, r.score) for r in suspect if not r.reasons]
    assert len(suspect) > 100
    assert [] == unexplained


def test_a_named_group_is_one_that_lowers_the_score_when_typical(records: list[Record]) -> None:
    """For model-driven refusals of simulated bots, setting the first named group to a person's values lowers the
    score by at least EXPLAIN_MIN_POINTS, and a request scoring under the suspect threshold gets no ml:* code."""
    import numpy as np

    from botwall.scoring.model import EXPLAIN_MIN_POINTS

    scorer = OnnxScorer.from_file(shipped_model_path())
    config = load_config(None)
    baseline = np.asarray(load_baseline(), dtype=np.float32)
    checked = 0
    for record in records:
        named = [code for code in record.reasons if code.startswith("ml:")]
        if record.score < config.thresholds.suspect:
            assert [] == named
            continue
        if not named or checked >= 50:
            continue
        group = next(g for g in FEATURE_GROUPS if g.reason == named[0])
        row = np.asarray([record.features], dtype=np.float32)
        typical = row.copy()
        columns = [FEATURE_NAMES.index(name) for name in group.features]
        typical[0, columns] = baseline[columns]
        before, after = scorer.model.scores(np.vstack([row, typical]))
        assert before - after >= EXPLAIN_MIN_POINTS, (record.labels.persona, named)
        checked += 1
    assert checked > 10


def test_the_groups_cover_the_schema_and_never_make_a_signature() -> None:
    """Each feature is in exactly one group, the shipped baseline fits the schema, and no ml:* code weighs a block."""
    grouped = [name for group in FEATURE_GROUPS for name in group.features]
    assert sorted(FEATURE_NAMES) == sorted(grouped)
    assert len(FEATURE_NAMES) == len(load_baseline())
    assert all(DEFAULT_WEIGHTS[group.reason] < SIGNATURE for group in FEATURE_GROUPS)
    data = json.loads((shipped_model_path().parent / "feature_baseline.json").read_text())
    assert SCHEMA_VERSION == data["schema_version"]


def test_the_own_score_leaves_the_crowds_out_and_never_exceeds_the_score(records: list[Record]) -> None:
    """Every simulated request's own score (the crowds at a typical person's values) is at most its score, and for
    requests at or above suspect it is worked out separately: some requests score high on their crowds' evidence
    while their own is low, and the refused bots' own scores are high too."""
    suspect = load_config(None).thresholds.suspect
    assert all(r.own <= r.score for r in records)
    high = [r for r in records if r.score >= suspect]
    assert any(r.own < r.score for r in high)
    bots = [r for r in high if r.labels.intent == "bad"]
    assert sum(r.own >= suspect for r in bots) > 0.8 * len(bots)
