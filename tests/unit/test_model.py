"""The ONNX model: exported exactly, checked against the feature schema, served and hot-reloaded safely."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import structlog
from sklearn.ensemble import GradientBoostingClassifier

from botwall.clock import FakeClock
from botwall.config import load_config, parse_yaml
from botwall.lab.simulate import Scenario, make_engine, run, training_config
from botwall.lab.training import _logit, arrays, model_metadata, to_onnx_bytes
from botwall.scoring.features import FEATURE_NAMES, SCHEMA_VERSION
from botwall.scoring.model import ModelError, OnnxScorer, load_model
from botwall.scoring.rules import DEFAULT_WEIGHTS

SCENARIO = Scenario(seed=5, mix={"human": 30, "stuffer": 1, "scraper-library": 1}, duration=600.0, users=40)
PLATT = (1.3, -0.2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[GradientBoostingClassifier, Path, np.ndarray]:  # type: ignore[type-arg]
    """A small model fitted on simulated traffic and exported, with the rows it was fitted on."""
    clock = FakeClock(0.0)
    records = list(run(SCENARIO, make_engine(training_config(load_config(None)), clock=clock), clock))
    x, y, w = arrays(records)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=1).fit(x, y, sample_weight=w)
    path = tmp_path_factory.mktemp("model") / "botwall.onnx"
    path.write_bytes(to_onnx_bytes(model, *PLATT, model_metadata()))
    return model, path, x


def _with_metadata(model: GradientBoostingClassifier, path: Path, **changes: str) -> Path:
    metadata = model_metadata() | changes
    path.write_bytes(to_onnx_bytes(model, *PLATT, metadata))
    return path


def test_onnx_scores_match_sklearn(trained: tuple[GradientBoostingClassifier, Path, np.ndarray]) -> None:  # type: ignore[type-arg]
    """The exported graph gives scikit-learn's calibrated probability times 100 on the same rows."""
    model, path, x = trained
    a, b = PLATT
    expected = 100 / (1 + np.exp(-(a * _logit(model.predict_proba(x)[:, 1]) + b)))
    actual = load_model(path).scores(x)
    assert np.allclose(expected, actual, atol=1e-3)


def test_scorer_score_and_reasons_on_real_evidence(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray],
) -> None:  # type: ignore[type-arg]
    """OnnxScorer scores an engine's evidence like the graph does and orders its reasons by rule weight; reasons
    whose weights already reach the suspect threshold need no ml:* explanation after them."""
    _, path, _ = trained
    scorer = OnnxScorer.from_file(path)
    engine = make_engine(load_config(None), scorer)
    from botwall.request import SOURCE_ADDRESS, build_view

    view = build_view(
        [(":method", "GET"), (":path", "/"), (":authority", "shop.example"), (":scheme", "https"), ("user-agent", "")],
        {SOURCE_ADDRESS: "3.80.1.1:4000"},
    )
    evidence, _ = engine.observe(view)
    from botwall.scoring.features import vectorize

    expected_value = round(float(scorer.model.scores(np.asarray([vectorize(evidence)], dtype=np.float32))[0]))
    expected_reasons = tuple(sorted(evidence.reasons, key=lambda c: -DEFAULT_WEIGHTS.get(c, 10)))
    score = scorer.score(evidence)
    assert (expected_value, expected_reasons) == (score.value, score.reasons)


def test_schema_version_mismatch_names_both_versions(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    """A model trained on another schema version is refused with an error naming both versions."""
    model, _, _ = trained
    path = _with_metadata(model, tmp_path / "old.onnx", **{"botwall.schema_version": "0"})
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert (True, True) == (
        "schema version 0" in str(caught.value),
        f"schema version {SCHEMA_VERSION}" in str(caught.value),
    )


def test_feature_names_mismatch_is_refused(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    """A model whose recorded feature names differ from FEATURE_NAMES is refused even at the same version."""
    model, _, _ = trained
    names = ",".join(reversed(FEATURE_NAMES))
    path = _with_metadata(model, tmp_path / "reordered.onnx", **{"botwall.features": names})
    with pytest.raises(ModelError, match="features differ"):
        load_model(path)


def test_garbage_file_is_a_model_error(tmp_path: Path) -> None:
    """A file that is not ONNX raises ModelError naming the file."""
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        load_model(path)


def _touch_later(path: Path, seconds: int) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def test_hot_reload_swaps_the_model(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray], tmp_path: Path
) -> None:  # type: ignore[type-arg]
    """A changed model file is swapped in, and scores follow the new model."""
    model, source, x = trained
    path = tmp_path / "live.onnx"
    path.write_bytes(source.read_bytes())
    scorer = OnnxScorer.from_file(path)
    before = scorer.model
    path.write_bytes(to_onnx_bytes(model, 0.0, 4.0, model_metadata()))  # a model that says ~98 for everything
    _touch_later(path, 2)
    swapped = scorer.reload_if_changed()
    assert (True, 1, True) == (swapped, scorer.reloads, scorer.model is not before)
    assert np.allclose(100 / (1 + np.exp(-4.0)), scorer.model.scores(x[:3]), atol=1e-3)


def test_bad_file_keeps_the_old_model(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray], tmp_path: Path
) -> None:  # type: ignore[type-arg]
    """A broken or mismatched new file is not swapped in: the old model keeps scoring, and it is retried only
    when the file changes again."""
    model, source, x = trained
    path = tmp_path / "live.onnx"
    path.write_bytes(source.read_bytes())
    scorer = OnnxScorer.from_file(path)
    before = scorer.model
    path.write_bytes(b"truncated")
    _touch_later(path, 2)
    first = scorer.reload_if_changed()
    again = scorer.reload_if_changed()
    _with_metadata(model, path, **{"botwall.schema_version": "999"})
    _touch_later(path, 4)
    mismatched = scorer.reload_if_changed()
    path.unlink()
    gone = scorer.reload_if_changed()
    assert (False, False, False, False, 3) == (first, again, mismatched, gone, scorer.reload_failures)
    assert scorer.model is before
    assert np.allclose(before.scores(x[:3]), scorer.model.scores(x[:3]))


def test_model_section_resolves_against_the_config_file(tmp_path: Path) -> None:
    """`model.path` is relative to the config file's directory, and reload_seconds defaults to 5."""
    config_file = tmp_path / "botwall.yaml"
    config_file.write_text("model: {path: models/botwall.onnx}\n")
    config = load_config(config_file)
    assert ("model", str(tmp_path / "models/botwall.onnx"), 5.0) == (
        config.model.scorer,
        config.model.path,
        config.model.reload_seconds,
    )


def test_embedded_defaults_score_with_the_shipped_model() -> None:
    """Without a model section botwall scores with the model inside the package (the one in models/), unwatched;
    `scorer: rules` selects the rule weighting."""
    from botwall.config import parse_yaml
    from botwall.scoring.model import scorer_for, shipped_model_path, watch_interval
    from botwall.scoring.rules import RuleScorer

    defaults = load_config(None).model
    scorer = scorer_for(defaults)
    assert isinstance(scorer, OnnxScorer)
    assert shipped_model_path().resolve() == Path(scorer.model.path).resolve()
    assert Path("models/botwall.onnx").resolve() == shipped_model_path().resolve()
    assert 0.0 == watch_interval(defaults)
    rules = parse_yaml("model: {scorer: rules}\n", "t.yaml").model
    assert isinstance(scorer_for(rules), RuleScorer)
    assert 5.0 == watch_interval(parse_yaml("model: {path: /m.onnx}\n", "t.yaml").model)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("model: {scorer: forest}\n", "model.scorer", "'model' (the confidence model) or 'rules'"),
        ("model: {scorer: rules, path: m.onnx}\n", "model.path", "no path with scorer: rules"),
        ("model: {path: ''}\n", "model.path", "a non-empty string"),
    ],
)
def test_bad_model_section_names_the_key(text: str, key: str, expected: str) -> None:
    """A wrong scorer, a path for the rules, or an empty path: the error names the file, the key and what fits."""
    from botwall.config import parse_yaml
    from botwall.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "botwall.yaml")
    assert ("botwall.yaml", key) == (caught.value.source, caught.value.key)
    assert expected in str(caught.value)


def test_serve_refuses_a_mismatched_model(
    trained: tuple[GradientBoostingClassifier, Path, np.ndarray],  # type: ignore[type-arg]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`botwall check-config` (which loads what serving loads) with a model of another schema is one line, exit 2."""
    from botwall.cli import main

    model, _, _ = trained
    path = _with_metadata(model, tmp_path / "old.onnx", **{"botwall.schema_version": "0"})
    config_file = tmp_path / "botwall.yaml"
    config_file.write_text(f"model: {{path: {path}}}\n")
    try:
        with pytest.raises(SystemExit) as caught:
            main(["check-config", str(config_file)])
    finally:
        structlog.reset_defaults()  # main() pointed the service logs at the captured stderr
    assert 2 == caught.value.code
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert err.startswith("botwall: invalid model: ")
    assert "schema version 0" in err


def test_a_crawlers_tell_less_first_page_does_not_teach() -> None:
    """Training gives no weight to a browser-headed crawler's first page from a new address while its build does not
    stand out (it is a person's first page view by every feature), and keeps its pages once the build does."""
    from botwall.lab.training import teaches

    scenario = Scenario(seed=9, mix={"human": 20, "price-monitor": 1}, duration=1800.0, users=40)
    clock = FakeClock(0.0)
    records = list(run(scenario, make_engine(training_config(load_config(None)), clock=clock), clock))
    monitor = [r for r in records if r.labels.persona == "price-monitor"]
    ip_requests, excess = FEATURE_NAMES.index("ip_requests"), FEATURE_NAMES.index("fp_cold_excess")
    taught = [teaches(r) for r in monitor]
    assert not taught[0]
    assert all(taught[i] for i, r in enumerate(monitor) if r.features[ip_requests] > 1 or r.features[excess] >= 0.3)
    assert 0 < sum(taught) < len(monitor)
    assert all(teaches(r) for r in records if r.labels.intent == "human")
    _, _, w = arrays(records)
    assert 0.0 == w[records.index(monitor[0])]


def test_a_tool_behind_a_browser_user_agent_teaches_from_its_first_request() -> None:
    """A stuffer's first request with a browser's user-agent but a library's header order is not a person's first
    request: it keeps its weight (the model once scored curl disguised as Firefox 20 on its first request)."""
    from botwall.lab.training import teaches

    scenario = Scenario(seed=9, mix={"human": 5, "stuffer": 3}, duration=900.0, users=40)
    clock = FakeClock(0.0)
    records = list(run(scenario, make_engine(training_config(load_config(None)), clock=clock), clock))
    library_order = FEATURE_NAMES.index("hdr_library_order")
    ua_browser, login, ip_requests = (FEATURE_NAMES.index(n) for n in ("ua_browser", "login", "ip_requests"))
    # A stuffer fetching the login form first from a fresh address, with a browser's user-agent in a library's order.
    first_gets = [
        r
        for r in records
        if r.labels.persona == "stuffer"
        and r.features[ua_browser]
        and r.features[library_order]
        and not r.features[login]
        and r.features[ip_requests] <= 1
    ]
    assert first_gets
    assert all(teaches(r) for r in first_gets)


def test_a_lower_suspect_threshold_is_where_the_model_explains_and_works_out_the_own_score() -> None:
    """The scorer built for a config explains scores, and works out the client's own score, from the config's suspect
    threshold, not from a fixed 30."""
    from botwall.resources import load_resources

    config = parse_yaml("thresholds: {suspect: 12, bot: 70}\n", "t.yaml")
    scorer = load_resources(config).scorer
    assert isinstance(scorer, OnnxScorer)
    assert 12 == scorer.explain_from
