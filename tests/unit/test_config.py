"""Config loading and validation: the defaults, and errors that name the file, the key and what was expected."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from botwall.config import Action, load_config, parse_yaml
from botwall.errors import ConfigError


def test_defaults_load() -> None:
    """The embedded defaults validate and hold the four starter policies in order."""
    config = load_config(None)
    names = ["honeytrap-wp-login", "challenge-bots", "block-bots", "login-throttle"]
    assert names == [p.name for p in config.policies]
    assert [Action.DECEIVE, Action.CHALLENGE, Action.BLOCK, Action.THROTTLE] == [p.action for p in config.policies]
    assert ["form-login", "api-login"] == [r.name for r in config.login_routes]
    assert False is config.shadow


def test_full_policy_parses() -> None:
    """Every field of a policy reaches the typed config."""
    config = parse_yaml(
        """
shadow: true
thresholds: {suspect: 20, bot: 60}
policies:
  - name: api
    match: {hosts: [shop.example, "*.cdn.example"], path: {regex: "/api/.*"}, methods: [get, post]}
    action: throttle
    min_score: 10
    shadow: true
    throttle: {key: "header:X-Api-Key", rate_per_second: 2, burst: 4}
""",
        "t.yaml",
    )
    policy = config.policies[0]
    assert (True, 20, 60) == (config.shadow, config.thresholds.suspect, config.thresholds.bot)
    assert frozenset({"GET", "POST"}) == policy.match.methods
    assert frozenset({"shop.example"}) == policy.match.hosts
    assert (".cdn.example",) == policy.match.host_suffixes
    assert ("header:x-api-key", 2.0, 4) == (policy.throttle.key, policy.throttle.rate, policy.throttle.burst)
    assert (10, True) == (policy.min_score, policy.shadow)


def test_endpoint_triggers_have_defaults_of_their_own() -> None:
    """An endpoint bot-share trigger judges a share in percent from 20 requests on; an endpoint surge needs 20 requests
    and five times the endpoint's norm; every key given reaches the typed config."""
    config = parse_yaml(
        """
alerts:
  triggers:
    - {name: share, kind: endpoint_bot_share}
    - {name: surge, kind: endpoint_traffic}
    - {name: strict, kind: endpoint_bot_share, threshold: 80, min_requests: 50, window_seconds: 300}
""",
        "t.yaml",
    )
    share, surge, strict = config.alerts.triggers
    assert (50.0, 20, 0.0) == (share.threshold, share.min_requests, share.baseline_factor)
    assert (20.0, 5.0) == (surge.threshold, surge.baseline_factor)
    assert (80.0, 50, 300.0) == (strict.threshold, strict.min_requests, strict.window_seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policies: {}", "bad.yaml: policies: expected a list of policies, got {}"),
        ("state: {backend: etcd}", "bad.yaml: state.backend: expected memory or redis, got 'etcd'"),
        (
            "admin: {open_paths: [/healthz, /api/v1/accounts]}",
            "bad.yaml: admin.open_paths: expected a list of paths among ['/healthz', '/readyz', '/metrics'], "
            "got ['/healthz', '/api/v1/accounts']",
        ),
        ("admin: {open: [/metrics]}", "bad.yaml: admin.open: expected one of the keys ['open_paths'] (unknown key)"),
        (
            "alerts: {triggers: [{name: a, kind: failed_logins, window_seconds: 1}]}",
            "bad.yaml: alerts.triggers[0].window_seconds: expected a number from 5 to 86400, got 1",
        ),
        (
            "alerts: {triggers: [{name: a, kind: failed_logins}, {name: a, kind: new_endpoint}]}",
            "bad.yaml: alerts.triggers[1].name: expected a name no other trigger has, got 'a'",
        ),
        (
            "alerts: {triggers: [{name: a, kind: endpoint_bot_share, threshold: 150}]}",
            "bad.yaml: alerts.triggers[0].threshold: expected a percentage from 0 to 100 for kind endpoint_bot_share, "
            "got 150",
        ),
        (
            "alerts: {triggers: [{name: a, kind: endpoint_bot_share, min_requests: 0}]}",
            "bad.yaml: alerts.triggers[0].min_requests: expected an integer from 1 to 1000000, got 0",
        ),
        (
            "alerts: {triggers: [{name: a, kind: failed_logins, min_requests: 5}]}",
            "bad.yaml: alerts.triggers[0].min_requests: expected no min_requests unless kind is endpoint_bot_share",
        ),
        (
            "alerts: {triggers: [{name: a, kind: endpoint_bot_share, baseline_factor: 2}]}",
            "bad.yaml: alerts.triggers[0].baseline_factor: expected no baseline_factor for kind endpoint_bot_share",
        ),
        (
            "alerts: {triggers: [{name: a, kind: endpoint_traffic, baseline_factor: 0.5}]}",
            "bad.yaml: alerts.triggers[0].baseline_factor: expected a number from 1 to 1000, got 0.5",
        ),
        (
            "alerts: {triggers: [{name: a, kind: endpoint_traffic, window_seconds: 3600}]}",
            "bad.yaml: alerts.triggers[0].window_seconds: expected a number from 60 to 1800, got 3600",
        ),
        (
            "alerts: {webhooks: [{name: soc, url: 'http://a.example/'}, {name: soc, url: 'http://b.example/'}]}",
            "bad.yaml: alerts.webhooks[1].name: expected a name no other webhook has, got 'soc'",
        ),
        (
            "alerts: {webhooks: [{name: soc, url: 'https://soc.example/h', secret_env: 'lower-case'}]}",
            "bad.yaml: alerts.webhooks[0].secret_env: expected the name of an environment variable (A-Z, 0-9, _), "
            "got 'lower-case'",
        ),
        (
            "state: {redis: {url: 'redis://r:6379/0'}}",
            "bad.yaml: state.redis: expected no redis section unless state.backend is redis",
        ),
        (
            "state: {backend: redis, redis: {url: 'http://r:6379'}}",
            "bad.yaml: state.redis.url: expected a redis://, rediss:// (TLS) or unix:// URL, got 'http://r:6379'",
        ),
        (
            "state: {backend: redis, redis: {prefix: 'a b'}}",
            "bad.yaml: state.redis.prefix: expected 1-64 characters without spaces or braces, got 'a b'",
        ),
        (
            "state: {backend: redis, redis: {sync_interval_ms: 0}}",
            "bad.yaml: state.redis.sync_interval_ms: expected an integer from 5 to 5000, got 0",
        ),
        ("state: {backend: redis, redis: {uri: x}}", "bad.yaml: state.redis.uri: expected one of the keys"),
        ("shadow: yes-please", "bad.yaml: shadow: expected true or false, got 'yes-please'"),
        ("colour: red", "bad.yaml: colour: expected one of the keys"),
        (
            "policies: [{name: a, action: explode}]",
            "bad.yaml: policies[0].action: expected one of monitor, block, throttle, deceive, challenge, got 'explode'",
        ),
        (
            "policies: [{name: a, action: throttle, throttle: {rate_per_second: 1, burst: 0}}]",
            "bad.yaml: policies[0].throttle.burst: expected an integer from 1 to 1000000, got 0",
        ),
        (
            "policies: [{name: a, action: throttle}]",
            "bad.yaml: policies[0].throttle: expected a throttle section for action throttle",
        ),
        (
            "policies: [{name: a, action: block, match: {path: {regex: '(['}}}]",
            "bad.yaml: policies[0].match.path.regex: expected a regular expression RE2 accepts",
        ),
        (
            "policies: [{name: a, action: block, match: {path: {regex: '/(a)\\1'}}}]",
            "bad.yaml: policies[0].match.path.regex: expected a regular expression RE2 accepts (invalid escape",
        ),
        (
            "login_routes: [{name: a, match: {path: {regex: '/(?=login)'}}}]",
            "bad.yaml: login_routes[0].match.path.regex: expected a regular expression RE2 accepts (invalid perl",
        ),
        (
            "on_error: pass",
            "bad.yaml: on_error: expected one of allow, challenge, block, got 'pass'",
        ),
        (
            "policies: [{name: a, action: block, match: {path: {prefix: api}}}]",
            "bad.yaml: policies[0].match.path.prefix: expected a path starting with '/', got 'api'",
        ),
        (
            "policies: [{name: a, action: block}, {name: a, action: block}]",
            "bad.yaml: policies[1].name: expected a policy name not used before, got 'a'",
        ),
        ("thresholds: {suspect: 80, bot: 70}", "bad.yaml: thresholds.suspect: expected a value no higher than"),
        ("policies: [\n  - name: a\n   action: block", "bad.yaml: line 2, column 3: expected valid YAML"),
    ],
)
def test_errors_name_file_key_and_expectation(text: str, message: str) -> None:
    """A malformed config raises ConfigError whose message starts with file, key and expectation."""
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "bad.yaml")
    assert str(caught.value).startswith(message), str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config path that does not exist names the path."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert f"{missing}: expected a readable file (No such file or directory)" == str(caught.value)


def test_shipped_example_configs_validate() -> None:
    """Every YAML config under config/ is a valid botwall config."""
    files = sorted(Path(__file__).parents[2].joinpath("config").glob("*.yaml"))
    assert files, "config/ holds example configs"
    for path in files:
        assert str(path) == load_config(path).source


def test_policy_regex_runs_in_linear_time() -> None:
    """A regex that backtracks for seconds in Python's `re` matches a crafted path at once under RE2."""
    config = parse_yaml(
        "policies: [{name: a, action: block, match: {path: {regex: '/assets/([a-z0-9]+/?)*\\.js'}}}]", "t.yaml"
    )
    match = config.policies[0].match
    started = time.thread_time()
    assert (True, False) == (
        match.matches("h", "/assets/a/b1/c.js", "GET"),
        match.matches("h", "/assets/" + "a" * 40 + "!", "GET"),
    )
    assert time.thread_time() - started < 0.5


def test_decision_log_settings_parse() -> None:
    """Every decision_log key reaches the typed settings, and omitted keys keep the defaults."""
    text = "decision_log: {allow_sample_rate: 0.5, interval_seconds: 30, full_lines_per_key: 2, max_keys: 50}"
    log = parse_yaml(text, "t.yaml").decision_log
    assert (0.5, 30.0, 2, 50, 5) == (
        log.allow_sample_rate,
        log.interval_seconds,
        log.full_lines_per_key,
        log.max_keys,
        log.sample_size,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("decision_log: {interval_seconds: 0}", "bad.yaml: decision_log.interval_seconds: expected a number from 1"),
        ("decision_log: {full_lines_per_key: 0}", "bad.yaml: decision_log.full_lines_per_key: expected an integer"),
        ("decision_log: {max_keys: true}", "bad.yaml: decision_log.max_keys: expected an integer from 1 to 100000"),
        ("decision_log: {sample_size: 51}", "bad.yaml: decision_log.sample_size: expected an integer from 0 to 50"),
        ("decision_log: {burst: 3}", "bad.yaml: decision_log.burst: expected one of the keys"),
    ],
)
def test_decision_log_errors_name_the_key(text: str, message: str) -> None:
    """A bad decision_log value raises ConfigError naming the file, the key and what was expected."""
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "bad.yaml")
    assert str(caught.value).startswith(message), str(caught.value)
