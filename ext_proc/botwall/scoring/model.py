"""Serving the confidence model: one onnxruntime session, checked against the feature schema, hot-reloadable.

Modelled on immich's `sessions/ort.py`: explicit thread counts (one intra-op and one inter-op thread, sequential
execution: the service scales by processes, and default threading is slower for one row), loaded once at start-up
before the gRPC health turns SERVING, warmed up, and refused with a clear error when it was trained on another
feature schema. `OnnxScorer` implements the `Scorer` protocol; its reasons are the evidence's reason codes ordered
by the rule scorer's weights, so operators still see why. `watch` swaps in a new model file when its mtime changes;
a file that fails to load keeps the running model and logs why. Streams never wait: a score reads whichever model
is current, and the swap is one attribute assignment.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import structlog

from botwall.config import ModelSettings
from botwall.errors import ModelError
from botwall.scoring.cells import MAX_CELLS, Cells
from botwall.scoring.features import FEATURE_GROUPS, FEATURE_NAMES, SCHEMA_VERSION, Evidence, crowd, vectorize
from botwall.scoring.rules import (
    DEFAULT_WEIGHTS,
    TOOL_FLOOR,
    TOOL_PREFIXES,
    RuleScorer,
    Score,
    Scorer,
    own_reasons,
    proof_floor,
    signature_weight,
)

log = structlog.get_logger("botwall.scoring.model")


def session_options() -> ort.SessionOptions:
    """One thread, sequential: a single row scores fastest this way, and processes (not threads) scale botwall."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


@dataclass(slots=True)
class Memo:
    """A model's memoized scores, by cell (`botwall.scoring.cells`), and how often a row found its cell there."""

    scores: dict[bytes, float] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A checked, warmed-up session and what its file says about itself."""

    session: ort.InferenceSession
    path: str
    mtime_ns: int
    input_name: str
    output_name: str
    metadata: Mapping[str, str]
    cells: Cells | None = None  # where the graph is a tree ensemble: its splits, and the scores of cells seen
    memo: Memo = field(default_factory=Memo)

    def scores(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores 0-100 (float) for a float32 matrix of feature rows (a memoized cell's score where there is one)."""
        cells = self.cells
        if cells is None:
            return self.run(rows)
        if len(rows) == 1:
            vector = rows[0].tolist()
            return np.array([self.score(vector, cells.key(vector))], dtype=np.float32)
        memo = self.memo
        table = memo.scores
        keys = cells.keys(rows)
        out = np.empty(len(rows), dtype=np.float32)
        unknown = []
        for i, key in enumerate(keys):
            known = table.get(key) if key is not None else None
            if known is None:
                unknown.append(i)
            else:
                out[i] = known
        memo.hits += len(rows) - len(unknown)
        memo.misses += len(unknown)
        if unknown:
            fresh = self.run(rows[unknown])
            out[unknown] = fresh
            for i, value in zip(unknown, fresh.tolist(), strict=True):
                key = keys[i]
                if key is not None:
                    _remember(table, key, value)
        return out

    def score(self, vector: Sequence[float], cell: bytes | None) -> float:
        """The score of one feature vector whose cell is `cell` (None: not memoized)."""
        memo = self.memo
        known = memo.scores.get(cell) if cell is not None else None
        if known is not None:
            memo.hits += 1
            return known
        value = float(self.run(np.asarray([vector], dtype=np.float32))[0])
        memo.misses += 1
        if cell is not None:
            _remember(memo.scores, cell, value)
        return value

    def run(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores straight from onnxruntime, memo or not."""
        out = self.session.run([self.output_name], {self.input_name: rows})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)


def _remember(table: dict[Any, Any], key: object, value: object) -> None:
    if len(table) >= MAX_CELLS:
        del table[next(iter(table))]  # the oldest cell first: a busy one comes straight back
    table[key] = value


def load_model(path: str | Path) -> LoadedModel:
    """Load, check against FEATURE_NAMES/SCHEMA_VERSION, and warm up a model file; ModelError says what is wrong."""
    p = Path(path)
    try:
        stat = p.stat()
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"{p}: cannot read the model file ({exc.strerror})") from None
    try:
        session = ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad file
        raise ModelError(f"{p}: not a loadable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    version = meta.get("botwall.schema_version", "")
    if version != SCHEMA_VERSION:
        raise ModelError(
            f"{p}: the model was trained on feature schema version {version or '(none recorded)'}, but this botwall "
            f"computes schema version {SCHEMA_VERSION}; retrain it with `botwall train` (make train)"
        )
    names = tuple(meta.get("botwall.features", "").split(","))
    if names != FEATURE_NAMES:
        missing = sorted(set(FEATURE_NAMES) - set(names))
        extra = sorted(set(names) - set(FEATURE_NAMES))
        raise ModelError(
            f"{p}: the model's features differ from schema version {SCHEMA_VERSION} of this botwall "
            f"(missing {missing[:5]}, unknown {extra[:5]}, or reordered); retrain it with `botwall train`"
        )
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].shape[-1] != len(FEATURE_NAMES):
        raise ModelError(f"{p}: expected one input of {len(FEATURE_NAMES)} features, got {inputs}")
    output = meta.get("botwall.output", "score")
    if output not in {o.name for o in session.get_outputs()}:
        raise ModelError(f"{p}: the model has no {output!r} output")
    model = LoadedModel(session, str(p), stat.st_mtime_ns, inputs[0].name, output, meta, Cells.of(data, inputs[0].name))
    warm = model.run(np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32))
    if warm.shape != (1,) or not np.isfinite(warm).all():
        raise ModelError(f"{p}: the warm-up run returned {warm!r}, not one finite score")
    return model


class OnnxScorer:
    """Scores evidence with the current model; reasons are the evidence's codes, strongest (by rule weight) first.

    A score at or above `explain_from` (the suspect threshold) whose own reason codes do not reach it by their rule
    weights is explained (see `Explainer`): the feature groups that pushed it up are added as `ml:*` reason codes
    after the evidence's own, so no such score goes unexplained, and a request the rules explain costs nothing more.
    """

    def __init__(
        self,
        model: LoadedModel,
        weights: Mapping[str, int] | None = None,
        baseline: Sequence[float] | None = None,
        explain_from: int = 30,
    ) -> None:
        self.model = model
        self._weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self._explainer = Explainer(baseline if baseline is not None else load_baseline())
        self.explain_from = explain_from
        self.reloads = 0
        self.reload_failures = 0
        self._failed_mtime: int | None = None
        # By (cell, shared address, cookie, explained): the own row's score and the groups an explanation names.
        self._derived: dict[tuple[bytes, bool, bool, bool], tuple[float, tuple[str, ...]]] = {}
        self._derived_for: LoadedModel | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> OnnxScorer:
        """Load a model file (raises ModelError)."""
        return cls(load_model(path))

    def score(self, evidence: Evidence) -> Score:
        """Score one request, and the client's own evidence alone (`Score.own`) where the score is suspect."""
        vector = vectorize(evidence)
        model = self.model
        cell = model.cells.key(vector) if model.cells is not None else None
        value = model.score(vector, cell)
        w = self._weights
        reasons = tuple(sorted(evidence.reasons, key=lambda code: -w.get(code, 10)))
        own_codes = own_reasons(reasons, evidence, w)
        # A signature (one reason of the client's own that on its own weighs a block, such as an automation
        # user-agent or a crawler outside its published ranges), and a request whose own shape adds up to a tool's,
        # are floors the model cannot argue below: the simulated traffic it learned from cannot hold every place
        # such a client comes from. So is a reason that asks the client for proof (`PROOF_WANTED`: a challenge).
        tool = min(100, sum(w.get(code, 10) for code in reasons if code.startswith(TOOL_PREFIXES)))
        floor = max(signature_weight(own_codes, w), tool if tool >= TOOL_FLOOR else 0, proof_floor(own_codes))
        score = max(_points(value), floor)
        if score < self.explain_from:
            return Score(score, reasons, score)  # below suspect, nothing refuses: the own score is not worked out
        explain = sum(w.get(code, 10) for code in reasons) < self.explain_from
        own_value, named = self._occluded(model, vector, cell, value, evidence, explain)
        # The model may not argue the client's own reasons below their rule weights (as with a signature's floor).
        rule_own = min(100, sum(w.get(code, 10) for code in own_codes))
        own = min(score, max(_points(own_value), floor, rule_own))
        if not explain:
            return Score(score, reasons, own)
        extra = tuple(code for code in named if code not in reasons)
        return Score(score, reasons + extra, own)

    def _occluded(
        self,
        model: LoadedModel,
        vector: Sequence[float],
        cell: bytes | None,
        value: float,
        evidence: Evidence,
        explain: bool,
    ) -> tuple[float, tuple[str, ...]]:
        """The own row's score and, with `explain`, the groups the explanation names: one batch, the request with
        the crowds' features at a typical person's values (the own score) and one row per feature group at them.
        Every row of it is the request's with some features at fixed values, so in a cell of the model's splits
        it is that cell's: answered from the model's memo after the first time."""
        shared, token = evidence.behaviour.ip_shared, evidence.token
        key = (cell, shared, token, explain) if cell is not None else None
        if self._derived_for is not model:
            self._derived = {}  # a reloaded model's cells are others
            self._derived_for = model
        derived = self._derived
        known = derived.get(key) if key is not None else None
        if known is not None:
            return known
        explainer = self._explainer
        row = np.asarray([vector], dtype=np.float32)
        rows = explainer.own_row(row, shared, token)
        if explain:
            rows = np.concatenate((rows, explainer.group_rows(row)))
        scores = model.scores(rows)
        result = (float(scores[0]), explainer.named(value, scores[1:]) if explain else ())
        if key is not None:
            _remember(derived, key, result)
        return result

    def reload_if_changed(self) -> bool:
        """Swap in the model file if it changed since it was loaded; a bad file keeps the current model."""
        path = self.model.path
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = -1
        if mtime in (self.model.mtime_ns, self._failed_mtime):
            return False  # unchanged, or the same bad state already logged
        self._failed_mtime = mtime
        if mtime == -1:
            self.reload_failures += 1
            log.warning("model_reload_failed", path=path, error="the model file is gone", kept=self.model.mtime_ns)
            return False
        try:
            fresh = load_model(path)
        except ModelError as exc:
            self.reload_failures += 1
            log.error("model_reload_failed", path=path, error=str(exc), kept=self.model.mtime_ns)
            return False
        self.model = fresh
        self._failed_mtime = None
        self.reloads += 1
        log.info("model_reloaded", path=path, schema_version=fresh.metadata.get("botwall.schema_version"))
        return True

    async def watch(self, interval: float) -> None:
        """Check the model file every `interval` seconds, loading a changed one off the event loop."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            await loop.run_in_executor(None, self.reload_if_changed)


def start_watching(scorer: object, reload_seconds: float) -> asyncio.Task[None] | None:
    """Start hot reload for an `OnnxScorer` (any other scorer, or an interval of 0: nothing to watch)."""
    if not isinstance(scorer, OnnxScorer) or reload_seconds <= 0:
        return None
    return asyncio.get_running_loop().create_task(scorer.watch(reload_seconds), name="botwall-model-watch")


def _points(value: float) -> int:
    return min(100, max(0, int(value + 0.5)))


# How many points a feature group must add to a score to be named among its reasons.
EXPLAIN_MIN_POINTS = 5.0


class Explainer:
    """Explains a model's score by feature groups (`FEATURE_GROUPS`), by occlusion: each group in turn is set to a
    typical person's values (the feature baseline) and the request scored again, all in one batch; a group that
    lowers the score by `EXPLAIN_MIN_POINTS` or more when typical is named by its reason code. Ten rows in one run,
    only for requests at or above the suspect threshold.

    The same occlusion gives the client's own score: the groups `features.crowd` names (the browser build, the
    account, the site; a shared address's behaviour; a token holder's request shape) set to typical at once.
    """

    __slots__ = ("_baseline", "_crowds", "_groups")

    def __init__(self, baseline: Sequence[float]) -> None:
        if len(baseline) != len(FEATURE_NAMES):
            raise ModelError(f"the feature baseline has {len(baseline)} values, the schema {len(FEATURE_NAMES)}")
        self._baseline = np.asarray(baseline, dtype=np.float32)
        index = {name: i for i, name in enumerate(FEATURE_NAMES)}
        self._groups = [(g.reason, np.asarray([index[f] for f in g.features])) for g in FEATURE_GROUPS]
        self._crowds = {
            (shared, token): np.asarray(
                [index[f] for g in FEATURE_GROUPS if crowd(g, shared, token) for f in g.features], dtype=np.intp
            )
            for shared in (False, True)
            for token in (False, True)
        }

    def own_row(self, row: npt.NDArray[np.float32], shared_address: bool, token: bool) -> npt.NDArray[np.float32]:
        """The request (one row) with the crowds' features at the baseline."""
        own = row.copy()
        columns = self._crowds[(shared_address, token)]
        own[0, columns] = self._baseline[columns]
        return own

    def group_rows(self, row: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """One row per feature group, that group at the baseline."""
        rows = np.repeat(row, len(self._groups), axis=0)
        for n, (_, columns) in enumerate(self._groups):
            rows[n, columns] = self._baseline[columns]
        return rows

    def named(self, value: float, scores: npt.NDArray[np.float32]) -> tuple[str, ...]:
        """The reason codes of the groups whose typical values lower `value` enough (scores of `group_rows`)."""
        pushed = sorted(
            ((value - float(scores[i]), reason) for i, (reason, _) in enumerate(self._groups)), reverse=True
        )
        return tuple(reason for delta, reason in pushed if delta >= EXPLAIN_MIN_POINTS)

    def explain(self, model: LoadedModel, vector: Sequence[float], value: float) -> tuple[str, ...]:
        """The reason codes of the groups that pushed `value` up, strongest first."""
        return self.named(value, model.scores(self.group_rows(np.asarray([vector], dtype=np.float32))))


def load_baseline(path: str | Path | None = None) -> list[float]:
    """The feature baseline (a typical person's request) shipped with botwall, checked against the schema."""
    p = Path(path) if path is not None else Path(str(resources.files("botwall") / "data" / "feature_baseline.json"))
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        features = data["features"]
        if data["schema_version"] != SCHEMA_VERSION or list(features) != list(FEATURE_NAMES):
            raise ModelError(f"{p}: the feature baseline is not for schema version {SCHEMA_VERSION}; rewrite it")
        return [float(features[name]) for name in FEATURE_NAMES]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{p}: cannot read the feature baseline ({exc})") from None


def shipped_model_path() -> Path:
    """The model shipped inside the package (trained by `make train`; `models/botwall.onnx` in a checkout)."""
    return Path(str(resources.files("botwall") / "data" / "botwall.onnx"))


def scorer_for(settings: ModelSettings, suspect: int = 30) -> Scorer:
    """The scorer a config asks for: the rules, the shipped model, or the operator's model file (ModelError).

    `suspect`: the config's suspect threshold, from which a model's score is explained and its own score worked out.
    """
    if settings.scorer == "rules":
        return RuleScorer()
    return OnnxScorer(load_model(settings.path or shipped_model_path()), explain_from=suspect)


def watch_interval(settings: ModelSettings) -> float:
    """Seconds between checks of the model file for a new version: only an operator's file is watched."""
    return settings.reload_seconds if settings.scorer == "model" and settings.path else 0.0
