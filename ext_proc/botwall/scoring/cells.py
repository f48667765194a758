"""Exact memoization of a tree-ensemble model: its score depends only on which side of each split a row falls.

A tree ensemble's splits cut feature space into cells: every row in one cell takes the same path through every tree,
so reaches the same leaves, so the graph gives it the same output, to the bit. botwall's model is 100 shallow trees;
on ordinary traffic most requests fall in a few hundred cells (a person's rates and shares move inside one cell for
many requests). Scoring a row costs onnxruntime about 45 us in the server, where its tree nodes are never in the
CPU's caches (7 us in a warm loop); the cell of a row is three numpy operations on a 2 KiB table. So `Cells` works
out a row's cell, and the model answers it from a bounded table of cells it has scored before.

Exactness is checked, not assumed: `Cells.of` reads the model file's graph (`botwall/_proto/onnx_trees_pb2`, ONNX's
field numbers, no onnx package needed) and gives a partition only when every node that reads the features input is
a `TreeEnsembleClassifier`/`TreeEnsembleRegressor` with float thresholds and `<=`/`>` (or `<`/`>=`) splits, so that
everything downstream is a function of the leaves; any other graph is scored by onnxruntime every time. A row with
a NaN (a missing value, which trees may send either way) is never memoized. `tests/unit/test_cells.py` compares
memoized and direct scores on random rows, rows on the thresholds and their nearest floats, and real evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from botwall._proto.onnx_trees_pb2 import Model, Node

TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})
_ML_DOMAIN = "ai.onnx.ml"
# Modes whose comparisons `x <= t` decides (BRANCH_GT is its complement), and those `x < t` decides.
_LEQ_MODES = frozenset({b"BRANCH_LEQ", b"BRANCH_GT"})
_LT_MODES = frozenset({b"BRANCH_LT", b"BRANCH_GTE"})
MAX_CELLS = 8192  # memoized scores per model: about 1 MiB at botwall's 354 distinct splits


@dataclass(frozen=True, slots=True)
class Cells:
    """The distinct (feature, threshold) splits of a model's trees: a row's cell is the bit vector of its sides."""

    features: npt.NDArray[np.intp]
    thresholds: npt.NDArray[np.float32]
    strict: bool  # the splits compare with `<` (BRANCH_LT/GTE), not `<=`

    @classmethod
    def of(cls, model_bytes: bytes, input_name: str) -> Cells | None:
        """The partition of a model file whose output depends on `input_name` through tree ensembles only, or None."""
        try:
            model = Model.FromString(model_bytes)
        except DecodeError:
            return None
        readers = [node for node in model.graph.node if input_name in node.input]
        if not readers or any(not _is_tree_ensemble(node) for node in readers):
            return None
        splits: set[tuple[int, float]] = set()
        strict: set[bool] = set()
        for node in readers:
            found = _splits(node)
            if found is None:
                return None
            node_splits, node_strict = found
            splits |= node_splits
            strict |= node_strict
        if len(strict) > 1:
            return None  # both `<` and `<=` splits: not worth the second comparison
        ordered = sorted(splits)
        return cls(
            np.array([f for f, _ in ordered], dtype=np.intp),
            np.array([t for _, t in ordered], dtype=np.float32),
            strict == {True},
        )

    def key(self, row: npt.NDArray[np.float32]) -> bytes | None:
        """The cell of one float32 row, or None when it holds a NaN."""
        values = row.take(self.features)
        if math.isnan(values.sum()):
            return None  # a NaN, or inf - inf: trees may send a missing value either way
        sides = values < self.thresholds if self.strict else values <= self.thresholds
        return np.packbits(sides).tobytes()

    def keys(self, rows: npt.NDArray[np.float32]) -> list[bytes | None]:
        """The cell of each row of a float32 matrix (None for a row with a NaN)."""
        values = rows[:, self.features]
        sides = values < self.thresholds if self.strict else values <= self.thresholds
        packed = np.packbits(sides, axis=1)
        nan = np.isnan(values.sum(axis=1))
        return [None if nan[i] else packed[i].tobytes() for i in range(len(rows))]


def _is_tree_ensemble(node: Node) -> bool:
    return node.op_type in TREE_OPS and node.domain == _ML_DOMAIN and len(node.input) == 1


def _splits(node: Node) -> tuple[set[tuple[int, float]], set[bool]] | None:
    """A tree ensemble node's (feature, threshold) splits and whether they are strict, or None where unsupported."""
    attributes = {a.name: a for a in node.attribute}
    if "nodes_values" not in attributes or "nodes_values_as_tensor" in attributes:
        return None  # double thresholds (ai.onnx.ml 3): onnxruntime's comparisons are not float32's
    modes = list(attributes["nodes_modes"].strings) if "nodes_modes" in attributes else []
    features = list(attributes["nodes_featureids"].ints) if "nodes_featureids" in attributes else []
    values = list(attributes["nodes_values"].floats)
    if not modes or len(modes) != len(features) or len(features) != len(values):
        return None
    splits: set[tuple[int, float]] = set()
    strict: set[bool] = set()
    for mode, feature, value in zip(modes, features, values, strict=True):
        if mode == b"LEAF":
            continue
        if mode in _LEQ_MODES:
            strict.add(False)
        elif mode in _LT_MODES:
            strict.add(True)
        else:
            return None  # BRANCH_EQ / BRANCH_NEQ: a cell would need both comparisons
        if not math.isfinite(value):
            return None
        splits.add((feature, float(np.float32(value))))
    return splits, strict
