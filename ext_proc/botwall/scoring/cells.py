"""Exact memoization of a tree-ensemble model: its score depends only on which side of each split a row falls.

A tree ensemble's splits cut feature space into cells: every row in one cell takes the same path through every tree,
so reaches the same leaves, so the graph gives it the same output (to the bit for a row scored alone; onnxruntime
itself answers a row in a batch within a float's last bits of that). botwall's model is 100 shallow trees;
on ordinary traffic most requests fall in a few hundred cells (a person's rates and shares move inside one cell for
many requests). Scoring a row costs onnxruntime 45-60 us in the server, where its tree nodes are never in the
CPU's caches (7 us in a warm loop); the cell of a row is one bisection per split feature. So `Cells` works
out a row's cell, and the model answers it from a bounded table of cells it has scored before.

Exactness is checked, not assumed: `Cells.of` reads the model file's graph (`botwall/_proto/onnx_trees_pb2`, ONNX's
field numbers, no onnx package needed) and gives a partition only when every node that reads the features input is
a `TreeEnsembleClassifier`/`TreeEnsembleRegressor` with float thresholds and `<=`/`>` (or `<`/`>=`) splits, so that
everything downstream is a function of the leaves; any other graph is scored by onnxruntime every time. A row with
a NaN (a missing value, which trees may send either way) is never memoized. `tests/unit/test_cells.py` compares
memoized and direct scores on random rows, rows on the thresholds and their nearest floats, and real evidence.
"""

from __future__ import annotations

import functools
import math
import operator
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from botwall._proto.onnx_trees_pb2 import Model, Node

TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})
_ML_DOMAIN = "ai.onnx.ml"
# Modes whose comparisons `x <= t` decides (BRANCH_GT is its complement), and those `x < t` decides.
_LEQ_MODES = frozenset({b"BRANCH_LEQ", b"BRANCH_GT"})
_LT_MODES = frozenset({b"BRANCH_LT", b"BRANCH_GTE"})
MAX_CELLS = 8192  # memoized scores per model: about 1 MiB with botwall's 50 split features


@dataclass(frozen=True, slots=True)
class Cells:
    """The splits of a model's trees, feature by feature: a row's cell is, for each feature the trees split on, how
    many of its thresholds the row's value lies beyond (that count decides the side of every split on the feature).
    """

    features: tuple[int, ...]  # the features split on, ascending
    thresholds: tuple[tuple[float, ...], ...]  # each one's distinct thresholds (float32 values), ascending
    strict: bool  # the splits compare with `<` (BRANCH_LT/GTE), not `<=`
    # Per threshold, the double `b` with: a double `x` is beyond the threshold (`float32(x) > t`, or `>=` when
    # strict, as onnxruntime compares the float32 it is given) exactly when `x > b` (`_boundary`).
    bounds: tuple[tuple[float, ...], ...]

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
        splits: dict[int, set[float]] = {}
        strict: set[bool] = set()
        for node in readers:
            found = _splits(node)
            if found is None:
                return None
            node_splits, node_strict = found
            for feature, threshold in node_splits:
                splits.setdefault(feature, set()).add(threshold)
            strict |= node_strict
        if len(strict) > 1 or any(len(t) > 255 for t in splits.values()):
            return None  # both `<` and `<=` splits, or a count past a byte: not worth a slower key
        features = tuple(sorted(splits))
        thresholds = tuple(tuple(sorted(splits[f])) for f in features)
        is_strict = strict == {True}
        bounds = tuple(tuple(_boundary(t, is_strict) for t in ts) for ts in thresholds)
        if not all(map(math.isfinite, (b for bs in bounds for b in bs))):
            return None  # a threshold at the end of float32's range
        return cls(features, thresholds, is_strict, bounds)

    def key(self, vector: Sequence[float]) -> bytes | None:
        """The cell of one feature vector, or None when it holds a NaN on a split feature.

        Pure Python on purpose: in the server each numpy call costs several microseconds with cold caches, more than
        the whole key (`map` and `bisect` run the loops in C). The values stay doubles: `bounds` place them as their
        float32 roundings, which onnxruntime compares, would be placed.
        """
        used = [vector[f] for f in self.features] if len(self.features) < 2 else _pick(self.features)(vector)
        if any(map(math.isnan, used)):
            return None  # trees may send a missing value either way
        return bytes(map(bisect_left, self.bounds, used))

    def keys(self, rows: npt.NDArray[np.float32]) -> list[bytes | None]:
        """The cell of each row of a float32 matrix."""
        return [self.key(row) for row in rows.tolist()]


@functools.cache
def _pick(features: tuple[int, ...]) -> Callable[[Sequence[float]], Sequence[float]]:
    """The values at `features` (two or more) of a vector, picked in C."""
    return cast("Callable[[Sequence[float]], Sequence[float]]", operator.itemgetter(*features))


def _boundary(t: float, strict: bool) -> float:
    """The largest double `b` such that every double above it rounds (to nearest, ties to even, as numpy and C cast)
    to a float32 above `t` (`strict`: at or above `t`, that is above the float32 before it)."""
    low = np.float32(t)
    if strict:
        low = np.nextafter(low, np.float32(-np.inf))
    high = np.nextafter(low, np.float32(np.inf))
    middle = (float(low) + float(high)) / 2  # exact: 25 significant bits
    # A double exactly in the middle rounds to whichever of the two has an even significand.
    if int(high.view(np.uint32)) & 1 == 0:
        return float(np.nextafter(middle, -np.inf))  # the middle goes up: it is beyond
    return middle  # the middle goes down: only what is above it is beyond


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
