"""`botwall train`: the confidence model, trained on simulated traffic and exported to ONNX.

Data: seeded scenarios from `botwall.lab.simulate`, played through the real engine (so the features are the server's),
twice per seed: once with no policies (every response observed) and once under the default policies with the rule
scorer (bots refused part-way, as in production, where a refused request's outcome is never seen). Whole personas
are held out (`HELD_OUT`): the model never sees the rotating-UA stuffer, the stealth scrapers (one of them on the
popular browser build) or the phones behind a carrier's gateway, and `botwall eval` reports on them. Labels:
unwanted automation (bad bots) is 1; people and verified crawlers are 0.

Model: scikit-learn's GradientBoostingClassifier (skl2onnx converts it exactly; its HistGradientBoosting converter
fails on scikit-learn 1.9), class- and persona-balanced sample weights, Platt calibration on a separate seed, and
the calibrated probability times 100 as the graph's `score` output. The ONNX file's metadata records the feature
schema (names and `SCHEMA_VERSION`) that `botwall.scoring.model` checks at load time.

Needs the `[train]` extras (scikit-learn, skl2onnx, onnx), imported only here.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from botwall.config import Config, load_config
from botwall.lab.simulate import PERSONAS, STANDARD_MIX, Record, Scenario, simulate, training_config
from botwall.scoring.features import FEATURE_NAMES, SCHEMA_VERSION
from botwall.scoring.rules import RuleScorer

HELD_OUT = ("stuffer-rotating-ua", "scraper-stealth", "scraper-stealth-jar", "scraper-popular", "human-cgnat")
TRAIN_SEEDS = (101, 102)
CALIBRATION_SEED = 201
EVAL_SEEDS = (301, 302)
QUIET_SEED = 103
BUSY_SEED = 104
# Deployments: only the API behind botwall (pages served elsewhere), and botwall's cookie turned off.
API_ONLY_SEED = 105
NO_COOKIE_SEED = 106
MODEL_VERSION = "1"
HUMAN_WEIGHT = 4.0
INPUT_NAME = "features"
OUTPUT_NAME = "score"


@dataclass(frozen=True, slots=True)
class TrainOptions:
    """What `botwall train` varies."""

    out_dir: Path
    scale: float = 1.0
    seeds: Sequence[int] = TRAIN_SEEDS
    calibration_seed: int = CALIBRATION_SEED
    held_out: Sequence[str] = HELD_OUT
    n_estimators: int = 100
    max_depth: int = 3
    learning_rate: float = 0.15
    random_state: int = 7
    human_weight: float = HUMAN_WEIGHT
    quiet_seed: int | None = QUIET_SEED
    busy_seed: int | None = BUSY_SEED
    api_only_seed: int | None = API_ONLY_SEED
    no_cookie_seed: int | None = NO_COOKIE_SEED
    extra: Mapping[str, Any] = field(default_factory=dict)


def quiet_scenario(seed: int, scale: float = 1.0) -> Scenario:
    """A quiet site over a short while, at the end-to-end run's compressed pace (people pause at most 4 s, bots 1 s),
    without JA4: few people, so most arrive on a fingerprint nobody used lately, and a visitor's first page views
    there are seen as much as on a busy site (the model must not learn that a cold fingerprint means a bot)."""
    mix = {k: max(1, round(v * (0.05 if PERSONAS[k][2] == "human" else 0.5))) for k, v in STANDARD_MIX.items()}
    return Scenario(seed=seed, mix=mix, duration=900.0, ja4=False, pause_cap=(4.0, 1.0)).scaled(scale)


def busy_scenario(seed: int, scale: float = 1.0) -> Scenario:
    """A busy site: four times the people (a popular fingerprint's rate and address count grow with the traffic)."""
    mix = {k: v * 4 if PERSONAS[k][2] == "human" else v for k, v in STANDARD_MIX.items()}
    return Scenario(seed=seed, mix=mix).scaled(scale)


def api_only_scenario(seed: int, scale: float = 1.0) -> Scenario:
    """Only the API goes through Envoy and botwall: pages and assets are served elsewhere, so botwall sees no page
    view and hands out no cookie, and every API call is a first sight of its client."""
    return replace(Scenario(seed=seed, pages=False).scaled(0.5 * scale), ja4=False)


def no_cookie_scenario(seed: int, scale: float = 1.0) -> Scenario:
    """botwall hands out no cookie of its own (`client_cookie: {issue: false}`)."""
    return Scenario(seed=seed, cookies=False).scaled(0.5 * scale)


def label(record: Record) -> int:
    """The training target: 1 for unwanted automation, 0 for people and allowed crawlers."""
    return 1 if record.labels.intent == "bad" else 0


_BROWSER, _LOGIN, _IP_REQUESTS, _FP_COLD_EXCESS = (
    FEATURE_NAMES.index(name) for name in ("ua_browser", "login", "ip_requests", "fp_cold_excess")
)
# What a browser's own request never shows: a tool's header order or TLS behind a browser's user-agent.
_TELLS = tuple(
    FEATURE_NAMES.index(name)
    for name in (
        "hdr_library_order",
        "hdr_order_mismatch",
        "hdr_client_hints_mismatch",
        "hdr_sec_fetch_inconsistent",
        "tls_known_tool",
        "tls_ua_mismatch",
    )
)


def teaches(record: Record) -> bool:
    """False for a bad bot's request that is, by its evidence, a person's first request from an address.

    Low-and-slow ATO's GET of the login page from a fresh residential address with a fresh real browser is one; so
    is a browser-headed crawler's first page or API call from a new address while its browser build does not stand
    out from the rest of the site (its cold share no more than 0.3 above the others'), unless its headers or TLS give
    away a tool behind the browser's user-agent: by every feature it is a person's first visit. Learning those as
    automation teaches the model to distrust every first visit and every phone that changes address; the same bots'
    later requests, and their first ones once their build stands out (evidence that may send a page to the
    challenge, never refuse it), are kept, and so are login attempts.
    """
    if record.labels.intent != "bad":
        return True
    if record.labels.persona == "ato-slow" and record.method == "GET":
        return False
    f = record.features
    if any(f[i] for i in _TELLS):
        return True  # a tool behind a browser's user-agent: not a person's request, however first it is
    return not (f[_BROWSER] and not f[_LOGIN] and f[_IP_REQUESTS] <= 1 and f[_FP_COLD_EXCESS] < 0.3)


def play(scenario: Scenario, config: Config) -> list[Record]:
    """A scenario twice: open loop (no policies) and closed loop (default policies, rule scorer)."""
    return simulate(scenario, training_config(config)) + simulate(scenario, config, RuleScorer())


def arrays(
    records: Sequence[Record], human_weight: float = HUMAN_WEIGHT
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Features (float32), labels, and sample weights.

    Within a class each persona weighs as the square root of its request count (a persona of 150 requests is not
    drowned by one of 12,000, nor is each of its requests worth 80 of the other's: low-and-slow ATO's first GET of
    the login page looks like any visitor's first page, and over-weighting it costs people). Classes then get equal
    total weight, times `human_weight` for the negatives: missing a bot costs less than blocking a person. Requests
    that do not `teach` weigh nothing.
    """
    x = np.asarray([r.features for r in records], dtype=np.float32)
    y = np.asarray([label(r) for r in records], dtype=np.int64)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.labels.persona] = counts.get(r.labels.persona, 0) + 1
    w = np.asarray([counts[r.labels.persona] ** -0.5 if teaches(r) else 0.0 for r in records], dtype=np.float64)
    for cls, factor in ((0, human_weight), (1, 1.0)):
        mask = y == cls
        if mask.any():
            w[mask] *= factor * len(records) / 2 / w[mask].sum()
    return x, y, w


def _logit(p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))  # type: ignore[no-any-return]


def fit_platt(raw: np.ndarray[Any, Any], y: np.ndarray[Any, Any], w: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Platt scaling on the model's log-odds: calibrated p = sigmoid(a * logit(p_raw) + b)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6)
    lr.fit(_logit(raw).reshape(-1, 1), y, sample_weight=w)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def to_onnx_bytes(model: Any, a: float, b: float, metadata: Mapping[str, str]) -> bytes:
    """The classifier as ONNX, extended with Platt scaling and x100 into one `score` output, with metadata."""
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx

    sample = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    onx = to_onnx(
        model,
        sample,
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
        initial_types=None,
    )
    graph = onx.graph
    graph.input[0].name = INPUT_NAME
    for node in graph.node:
        node.input[:] = [INPUT_NAME if i == "X" else i for i in node.input]
    probabilities = next(o.name for o in graph.output if o.name == "probabilities")
    consts = {
        "bw_index": helper.make_tensor("bw_index", TensorProto.INT64, [], [1]),
        "bw_lo": helper.make_tensor("bw_lo", TensorProto.FLOAT, [], [1e-6]),
        "bw_hi": helper.make_tensor("bw_hi", TensorProto.FLOAT, [], [1 - 1e-6]),
        "bw_one": helper.make_tensor("bw_one", TensorProto.FLOAT, [], [1.0]),
        "bw_a": helper.make_tensor("bw_a", TensorProto.FLOAT, [], [a]),
        "bw_b": helper.make_tensor("bw_b", TensorProto.FLOAT, [], [b]),
        "bw_hundred": helper.make_tensor("bw_hundred", TensorProto.FLOAT, [], [100.0]),
    }
    graph.initializer.extend(consts.values())
    graph.node.extend(
        [
            helper.make_node("Gather", [probabilities, "bw_index"], ["bw_p"], axis=1),
            helper.make_node("Clip", ["bw_p", "bw_lo", "bw_hi"], ["bw_pc"]),
            helper.make_node("Sub", ["bw_one", "bw_pc"], ["bw_q"]),
            helper.make_node("Div", ["bw_pc", "bw_q"], ["bw_odds"]),
            helper.make_node("Log", ["bw_odds"], ["bw_logit"]),
            helper.make_node("Mul", ["bw_logit", "bw_a"], ["bw_scaled"]),
            helper.make_node("Add", ["bw_scaled", "bw_b"], ["bw_z"]),
            helper.make_node("Sigmoid", ["bw_z"], ["bw_cal"]),
            helper.make_node("Mul", ["bw_cal", "bw_hundred"], [OUTPUT_NAME]),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None]))
    onx.doc_string = "botwall confidence model: bot score 0-100 from the feature vector of botwall.scoring.features"
    onx.producer_name = "botwall"
    del onx.metadata_props[:]
    for key, value in metadata.items():
        onx.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(onx)
    data: bytes = onx.SerializeToString()
    return data


def model_metadata() -> dict[str, str]:
    """What the serving side checks: the feature schema version and names, and the model's version."""
    return {
        "botwall.schema_version": SCHEMA_VERSION,
        "botwall.features": ",".join(FEATURE_NAMES),
        "botwall.model_version": MODEL_VERSION,
        "botwall.input": INPUT_NAME,
        "botwall.output": OUTPUT_NAME,
    }


def _persona_counts(records: Sequence[Record]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r.labels.persona] = out.get(r.labels.persona, 0) + 1
    return dict(sorted(out.items()))


def training_scenarios(options: TrainOptions) -> list[Scenario]:
    """The simulated deployments the model learns from, held-out personas left out of every one."""
    # Every other seed is a deployment without JA4 (TLS ending at a load balancer), so the model knows both.
    scenarios = [Scenario(seed=s, ja4=n % 2 == 0).scaled(options.scale) for n, s in enumerate(options.seeds)]
    extra = (
        (options.quiet_seed, quiet_scenario),
        (options.busy_seed, busy_scenario),
        (options.api_only_seed, api_only_scenario),
        (options.no_cookie_seed, no_cookie_scenario),
    )
    scenarios += [make(seed, options.scale) for seed, make in extra if seed is not None]
    return [scenario.without(*options.held_out) for scenario in scenarios]


def train(options: TrainOptions, config: Config | None = None, log: Any = print) -> dict[str, Any]:
    """Simulate, fit, calibrate, export `botwall.onnx` and `model_card.json` into `options.out_dir`; the card."""
    from sklearn.ensemble import GradientBoostingClassifier

    config = config or load_config(None)
    started = time.perf_counter()
    records: list[Record] = []
    for scenario in training_scenarios(options):
        records += play(scenario, config)
    log(f"simulated {len(records)} training requests in {time.perf_counter() - started:.1f}s")
    x, y, w = arrays(records, options.human_weight)
    model = GradientBoostingClassifier(
        n_estimators=options.n_estimators,
        max_depth=options.max_depth,
        learning_rate=options.learning_rate,
        subsample=0.8,
        random_state=options.random_state,
    )
    fit_started = time.perf_counter()
    model.fit(x, y, sample_weight=w)
    log(f"fitted {options.n_estimators} trees in {time.perf_counter() - fit_started:.1f}s")
    calibration = play(Scenario(seed=options.calibration_seed).scaled(options.scale).without(*options.held_out), config)
    xc, yc, wc = arrays(calibration, human_weight=1.0)
    raw = model.predict_proba(xc)[:, 1]
    a, b = fit_platt(raw, yc, wc)
    log(f"calibrated on {len(calibration)} requests: a={a:.3f} b={b:.3f}")
    data = to_onnx_bytes(model, a, b, model_metadata())
    options.out_dir.mkdir(parents=True, exist_ok=True)
    model_path = options.out_dir / "botwall.onnx"
    model_path.write_bytes(data)
    calibrated = 1 / (1 + np.exp(-(a * _logit(raw) + b)))
    check = _calibration_check(yc, calibrated, wc)
    card = model_card(options, model, data, (a, b), records, len(calibration), check)
    (options.out_dir / "model_card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {model_path} ({len(data)} bytes) and model_card.json in {time.perf_counter() - started:.1f}s")
    return card


def _calibration_check(y: Any, calibrated: Any, weights: Any) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(y, calibrated, sample_weight=weights)),
        "mean_score_bad": float(calibrated[y == 1].mean() * 100),
        "mean_score_not_bad": float(calibrated[y == 0].mean() * 100),
    }


def model_card(
    options: TrainOptions,
    model: Any,
    data: bytes,
    platt: tuple[float, float],
    records: list[Record],
    calibration_requests: int,
    calibration_check: dict[str, float],
) -> dict[str, Any]:
    """What the model is, how it was trained and on what: model_card.json."""
    a, b = platt
    importances = sorted(
        zip(FEATURE_NAMES, (float(v) for v in model.feature_importances_), strict=True), key=lambda kv: -kv[1]
    )
    return {
        "name": "botwall confidence model",
        "model_version": MODEL_VERSION,
        "file": "botwall.onnx",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "schema_version": SCHEMA_VERSION,
        "features": list(FEATURE_NAMES),
        "input": {"name": INPUT_NAME, "type": "float32", "shape": ["N", len(FEATURE_NAMES)]},
        "output": {"name": OUTPUT_NAME, "type": "float32", "shape": ["N"], "meaning": "calibrated P(bad bot) x 100"},
        "target": "1: unwanted automation (the simulator's bad-bot personas); 0: people and verified crawlers",
        "algorithm": {
            "estimator": "sklearn.ensemble.GradientBoostingClassifier",
            "n_estimators": options.n_estimators,
            "max_depth": options.max_depth,
            "learning_rate": options.learning_rate,
            "subsample": 0.8,
            "random_state": options.random_state,
            "sample_weights": "personas weigh as the square root of their request counts within their class; classes "
            f"weigh equally, times {options.human_weight} for people and allowed crawlers; low-and-slow ATO's GETs of "
            "the login page (a visitor's first page view) weigh nothing",
            "calibration": {"method": "platt on log-odds", "a": a, "b": b, "seed": options.calibration_seed},
        },
        "training_data": {
            "source": "botwall.lab.simulate, played through the real engine in-process (open loop with no policies, "
            "and closed loop under the default policies with the rule scorer)",
            "seeds": list(options.seeds),
            "seeds_without_ja4": list(options.seeds[1::2]),
            "busy_seed": options.busy_seed,
            "busy_scenario": "four times the people",
            "quiet_seed": options.quiet_seed,
            "quiet_scenario": "5% of the people, half the bot campaigns, 900 s, no JA4, pauses capped at 4 s (people) "
            "and 1 s (bots), as in the end-to-end run",
            "api_only_seed": options.api_only_seed,
            "api_only_scenario": "half the traffic, only /api/ through botwall (pages elsewhere), no JA4",
            "no_cookie_seed": options.no_cookie_seed,
            "no_cookie_scenario": "half the traffic, botwall's cookie not handed out",
            "scale": options.scale,
            "held_out_personas": list(options.held_out),
            "personas": sorted(p for p in PERSONAS if p not in options.held_out),
            "requests": len(records),
            "requests_per_persona": _persona_counts(records),
            "hashing": "distinct counts over keyed BLAKE2b (botwall.state.keys), the same in every process",
        },
        "calibration_data": {"seed": options.calibration_seed, "requests": calibration_requests},
        "calibration_check": calibration_check,
        "feature_importances": {name: round(v, 5) for name, v in importances},
        "versions": _versions(),
        **options.extra,
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0]}
    for name in ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "?"
    return out
