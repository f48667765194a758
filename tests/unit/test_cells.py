"""Memoized tree-ensemble scores are onnxruntime's, to the bit: on the shipped model, on rows that sit exactly on its
thresholds and one float either side, on simulated traffic; and graphs the partition cannot cover are never memoized."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from botwall.clock import FakeClock
from botwall.config import load_config
from botwall.lab.simulate import Scenario, make_engine, run, training_config
from botwall.lab.testing import captured_headers
from botwall.lab.training import arrays
from botwall.request import SOURCE_ADDRESS, build_view
from botwall.scoring import model as model_module
from botwall.scoring.cells import Cells
from botwall.scoring.features import FEATURE_NAMES, SCHEMA_VERSION
from botwall.scoring.model import OnnxScorer, load_model, shipped_model_path

SHIPPED = shipped_model_path()
N = len(FEATURE_NAMES)


def _boundary_rows(cells: Cells, rng: np.random.Generator, count: int) -> np.ndarray:  # type: ignore[type-arg]
    """Rows whose split features sit on a threshold, one float below or one above, the rest drawn between them."""
    rows = np.zeros((count, N), dtype=np.float32)
    for row in rows:
        for feature, thresholds in zip(cells.features, cells.thresholds, strict=True):
            t = np.float32(thresholds[rng.integers(len(thresholds))])
            row[feature] = rng.choice([t, np.nextafter(t, np.float32(-np.inf)), np.nextafter(t, np.float32(np.inf))])
    return rows


def _exact(path: Path, rows: np.ndarray) -> tuple[int, int]:  # type: ignore[type-arg]
    """Score every row through the memo one by one, twice, and compare each with onnxruntime's answer for that row
    alone; then in batches, which onnxruntime itself answers to within a float's last bits of one row at a time (its
    vectorized logistic takes another path for a tail), so batches are compared to that precision."""
    model = load_model(path)
    direct = np.concatenate([model.run(rows[i : i + 1]) for i in range(len(rows))])
    one_by_one = np.array([model.scores(rows[i : i + 1])[0] for i in range(len(rows))], dtype=np.float32)
    again = np.array([model.scores(rows[i : i + 1])[0] for i in range(len(rows))], dtype=np.float32)
    assert direct.tobytes() == one_by_one.tobytes()
    assert direct.tobytes() == again.tobytes()
    batched = np.concatenate([model.scores(rows[i : i + 7]) for i in range(0, len(rows), 7)])
    assert np.allclose(direct, batched, rtol=0, atol=1e-4)
    fresh = load_model(path)  # batches first, into an empty memo: each row's cell holds a score of its own
    first = np.concatenate([fresh.scores(rows[i : i + 7]) for i in range(0, len(rows), 7)])
    assert np.allclose(direct, first, rtol=0, atol=1e-4)
    assert np.allclose(np.concatenate([fresh.run(rows[i : i + 7]) for i in range(0, len(rows), 7)]), first, atol=1e-4)
    return model.memo.hits, model.memo.misses


def test_shipped_model_is_memoized_exactly_on_its_thresholds() -> None:
    """Rows on the thresholds and one float either side take the same path in onnxruntime as in the cell key (a
    `<` for a `<=`, a missing split or a float64 threshold would send some of them to the wrong cached score)."""
    model = load_model(SHIPPED)
    assert model.cells is not None
    rng = np.random.default_rng(7)
    rows = _boundary_rows(model.cells, rng, 600)
    # Half of them again with every feature the trees never split on changed: the same cells, so memo hits.
    same_cells = rows[:300].copy()
    unused = np.setdiff1d(np.arange(N), np.asarray(model.cells.features))
    same_cells[:, unused] = rng.random((300, len(unused)), dtype=np.float32) * 50
    # And for every split, a row just below, on and just above it, the rest of the row the same: a missing split or a
    # `<` for a `<=` puts two of them in one cell, and where the split is on their path they score differently.
    every = [(f, np.float32(t)) for f, ts in zip(model.cells.features, model.cells.thresholds, strict=True) for t in ts]
    twins = np.repeat(rows[:6], 3 * len(every), axis=0)
    for base in range(6):
        for i, (feature, t) in enumerate(every):
            at = base * 3 * len(every) + 3 * i
            twins[at : at + 3, feature] = [np.nextafter(t, np.float32(-np.inf)), t, np.nextafter(t, np.float32(np.inf))]
    everything = np.vstack([rows, same_cells, twins])
    hits, misses = _exact(SHIPPED, everything)
    assert hits >= 2 * len(everything)  # the second pass and the batches at least
    assert misses <= len(everything)
    assert len(set(model.run(twins).tolist())) > 10  # the twins do reach different leaves


def test_simulated_traffic_is_memoized_exactly() -> None:
    """Feature rows of simulated people and bots, played through the real engine: the memo answers most of them, and
    every answer is onnxruntime's."""
    clock = FakeClock(0.0)
    scenario = Scenario(seed=9, mix={"human": 30, "stuffer": 1, "scraper-library": 1}, duration=300.0, users=40)
    records = list(run(scenario, make_engine(training_config(load_config(None)), clock=clock), clock))
    x, _, _ = arrays(records)
    rows = np.asarray(x, dtype=np.float32)
    model = load_model(SHIPPED)
    direct = np.concatenate([model.run(rows[i : i + 1]) for i in range(len(rows))])
    memoized = np.array([model.scores(rows[i : i + 1])[0] for i in range(len(rows))], dtype=np.float32)
    assert direct.tobytes() == memoized.tobytes()
    assert model.memo.hits > len(rows) // 2, (model.memo.hits, len(rows))


def test_a_nan_row_is_scored_but_never_memoized() -> None:
    model = load_model(SHIPPED)
    row = np.zeros((1, N), dtype=np.float32)
    assert model.cells is not None
    row[0, model.cells.features[0]] = np.nan
    first = model.scores(row)
    second = model.scores(row)
    assert first.tobytes() == model.run(row).tobytes()
    assert first.tobytes() == second.tobytes()
    assert model.memo.scores == {}
    assert model.memo.misses == 2


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module, "MAX_CELLS", 16)
    model = load_model(SHIPPED)
    assert model.cells is not None
    rows = _boundary_rows(model.cells, np.random.default_rng(3), 200)
    for i in range(len(rows)):
        model.scores(rows[i : i + 1])
    assert len(model.memo.scores) == 16


def _tree_model(
    path: Path, mode: str, *, extra_reader: bool = False, threshold: float = 0.5, leaves: tuple[float, float] = (10, 90)
) -> Path:
    """A one-tree regressor on feature 0 (`mode` split at `threshold`: 10 on one side, 90 on the other), exported with
    botwall's metadata, optionally with a second node that reads the features input directly."""
    tree = helper.make_node(
        "TreeEnsembleRegressor",
        ["features"],
        ["raw"],
        domain="ai.onnx.ml",
        n_targets=1,
        nodes_treeids=[0, 0, 0],
        nodes_nodeids=[0, 1, 2],
        nodes_featureids=[0, 0, 0],
        nodes_values=[threshold, 0.0, 0.0],
        nodes_modes=[mode, "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0],
        target_treeids=[0, 0],
        target_nodeids=[1, 2],
        target_ids=[0, 0],
        target_weights=[float(leaves[0]), float(leaves[1])],
    )
    nodes = [tree]
    if extra_reader:
        # score = tree + 0 * sum(features): numerically the tree's, but the graph reads every feature.
        nodes += [
            helper.make_node("ReduceSum", ["features"], ["total"], keepdims=1, axes=[1]),
            helper.make_node("Mul", ["total", "zero"], ["nothing"]),
            helper.make_node("Add", ["raw", "nothing"], ["score"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["raw"], ["score"]))
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, N])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
        initializer=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = 7
    helper.set_model_props(
        model, {"botwall.schema_version": SCHEMA_VERSION, "botwall.features": ",".join(FEATURE_NAMES)}
    )
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("mode", ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT", "BRANCH_GTE"])
def test_each_split_mode_is_memoized_exactly(tmp_path: Path, mode: str) -> None:
    threshold = np.float32(0.3)  # not exactly representable: the float32 threshold must be the one compared
    path = _tree_model(tmp_path / f"{mode}.onnx", mode, threshold=float(threshold))
    model = load_model(path)
    assert model.cells is not None
    assert model.cells.strict == (mode in ("BRANCH_LT", "BRANCH_GTE"))
    edge = [np.nextafter(threshold, np.float32(-1)), threshold, np.nextafter(threshold, np.float32(1))]
    rows = np.zeros((9, N), dtype=np.float32)
    rows[:, 0] = [*edge, *edge, *edge]
    _exact(path, rows)
    # Doubles halfway between floats round to the even one: each side of the split gets the same cell as onnxruntime.
    t, below, above = float(threshold), float(edge[0]), float(edge[2])
    for value in ((t + below) / 2, (t + above) / 2, (below + (2 * below - t)) / 2, t + (above - t) / 4):
        vector = [0.0] * N
        vector[0] = value
        assert model.cells is not None
        assert model.score(vector, model.cells.key(vector)) == float(model.run(np.asarray([vector], np.float32))[0])
    scores = sorted(set(model.run(rows).tolist()))
    assert scores == [10.0, 90.0]  # both sides reached: the rows really sit on the split


def test_graphs_the_partition_cannot_cover_are_not_memoized(tmp_path: Path) -> None:
    """A node other than a tree ensemble that reads the features makes every feature matter; an EQ split needs both
    comparisons; a file that is not a model has no graph. None of them gets a partition, and all still score."""
    assert (
        Cells.of(_tree_model(tmp_path / "extra.onnx", "BRANCH_LEQ", extra_reader=True).read_bytes(), "features") is None
    )
    assert load_model(tmp_path / "extra.onnx").cells is None
    assert Cells.of(_tree_model(tmp_path / "eq.onnx", "BRANCH_EQ").read_bytes(), "features") is None
    assert Cells.of(b"\xff\xff not a model", "features") is None
    shipped = SHIPPED.read_bytes()
    assert Cells.of(shipped, "features") is not None
    assert Cells.of(shipped, "another input") is None
    m = onnx.load_from_string(shipped)
    assert {n.op_type for n in m.graph.node if "features" in n.input} == {"TreeEnsembleClassifier"}
    rows = np.zeros((2, N), dtype=np.float32)
    model = load_model(tmp_path / "extra.onnx")
    assert model.scores(rows).tolist() == [10.0, 10.0]  # 0 <= 0.5: the first leaf
    assert model.memo.hits == model.memo.misses == 0


def test_scores_own_scores_and_explanations_are_the_same_with_the_memo() -> None:
    """A scenario played twice, with the memo and with onnxruntime on every row: every request's score, reasons (the
    `ml:*` explanation among them) and own score are the same, and the memo did answer (scores and occlusions)."""

    def play(memoized: bool) -> tuple[list[tuple[int, tuple[str, ...], int]], OnnxScorer]:
        model = load_model(SHIPPED)
        scorer = OnnxScorer(model if memoized else dataclasses.replace(model, cells=None), explain_from=30)
        clock = FakeClock(0.0)
        scenario = Scenario(
            seed=4,
            mix={"human": 20, "stuffer": 1, "scraper-popular": 1, "scraper-stealth": 1},
            duration=240.0,
            users=30,
        )
        records = run(scenario, make_engine(load_config(None), scorer, clock=clock), clock)
        return [(r.score, r.reasons, r.own) for r in records], scorer

    with_memo, scorer = play(True)
    without, plain = play(False)
    assert with_memo == without
    assert sum(1 for score, _, _ in with_memo if score >= 30) > 50  # the occlusion path ran, often
    assert any(code.startswith("ml:") for _, reasons, _ in with_memo for code in reasons)
    assert scorer.model.memo.hits > len(with_memo) // 2
    assert scorer._derived
    assert plain.model.memo.hits == 0


def test_a_double_is_placed_as_its_float32_is() -> None:
    """The engine's feature vectors are Python floats (doubles); onnxruntime compares their float32 roundings. A value
    a quarter of a float32 step above a threshold rounds onto it: it must share the cell of the threshold itself, not
    of the float just above it (a key on the doubles would put it there, and hand one side's score to the other)."""
    model = load_model(SHIPPED)
    assert model.cells is not None
    base = _boundary_rows(model.cells, np.random.default_rng(11), 6).tolist()
    mismatches = 0
    for row in base:
        for feature, thresholds in zip(model.cells.features, model.cells.thresholds, strict=True):
            for t in thresholds:
                up = float(np.nextafter(np.float32(t), np.float32(np.inf))) - t
                down = t - float(np.nextafter(np.float32(t), np.float32(-np.inf)))
                # A quarter step above (rounds to t), halfway up and down (ties: to the even significand), a step up.
                probes = []
                for value in (t + up / 4, t + up / 2, t - down / 2, t + up):
                    probe = list(row)
                    probe[feature] = value
                    probes.append(probe)
                for vector in probes:
                    memoized = model.score(vector, model.cells.key(vector))
                    direct = float(model.run(np.asarray([vector], dtype=np.float32))[0])
                    mismatches += memoized != direct
    assert mismatches == 0
    assert model.memo.hits > 0


def test_a_reloaded_model_with_the_same_splits_answers_with_its_own_leaves(tmp_path: Path) -> None:
    """A retrained file may keep every split and change only the leaves: the cells are the same, so nothing memoized
    for the old model (its scores, a suspect request's own score) may answer for the new one."""
    old = load_model(_tree_model(tmp_path / "old.onnx", "BRANCH_LEQ", leaves=(40, 95)))
    new = load_model(_tree_model(tmp_path / "new.onnx", "BRANCH_LEQ", leaves=(70, 85)))
    assert old.cells == new.cells
    scorer = OnnxScorer(old, explain_from=30)
    engine = make_engine(load_config(None), scorer)
    pseudo = [(":method", "GET"), (":path", "/"), (":authority", "shop.test"), (":scheme", "http")]
    browser = captured_headers("firefox-headless", "navigation", "http", "shop.test")
    evidence, _ = engine.observe(build_view([*pseudo, *browser], {SOURCE_ADDRESS: "198.51.100.4:1"}))
    before = scorer.score(evidence)
    assert (before.value, before.own) == (40, 40)  # a user-agent (feature 0 is 0): the first leaf, and no reason
    scorer.model = new
    after = scorer.score(evidence)
    fresh = OnnxScorer(new, explain_from=30).score(evidence)
    assert (after.value, after.own, after.reasons) == (fresh.value, fresh.own, fresh.reasons)
    assert (after.value, after.own) == (70, 70)
