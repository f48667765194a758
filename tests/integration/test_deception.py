"""Learned deception through real Envoy, botwall and the demo shop: people browse and log in, botwall learns the shape
of the shop's answers, and a deceived bot gets fake answers that a classifier cannot tell from the real ones the same
bot gets where nothing deceives it; a fake login hands out a fake session that keeps the bot in the trap.

The classifier (scikit-learn's random forest, 5-fold cross-validated AUC) reads what a careful bot would compare:
status, header names and their order, cookie names, lengths and attributes, content type, JSON keys and value types,
HTML tag sequence, size and latency. The same classifier tells the old static answer from a real one at once (the
check that it can fail)."""

from __future__ import annotations

import functools
import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from threadpoolctl import threadpool_limits

from botwall.config import DEFAULT_CONFIG_YAML
from botwall.deploy.gateway import EnvoySettings, render_gateway
from botwall.lab.demo.shop import DEMO_ACCOUNTS, BackgroundShop
from botwall.lab.stack import start_botwall, start_envoy
from botwall.lab.testing import captured_headers, residential

from .conftest import BROWSER_FORM_HEADERS, BROWSER_HEADERS, Response, Stack, StackFactory
from .test_admin import TOKEN, _get, _samples, admin_stack

XHR_HEADERS = captured_headers("firefox-headless", "xhr", "http", "127.0.0.1")
BOT_HEADERS = captured_headers("python-requests", "plain", "http", "127.0.0.1")
BOT_ADDRESS = "81.2.69.160"
PRODUCTS = range(1, 11)
Answer = tuple[str, Response, float]  # (path, response, milliseconds)


def _config(*, learn: bool = True, shadow: bool = False, min_samples: int = 20) -> str:
    """The embedded defaults with a deceive policy for clients the bot threshold convicts by their own evidence."""
    data = yaml.safe_load(DEFAULT_CONFIG_YAML)
    static = {"status": 200, "learn": learn, "body": "<!doctype html><title>Trailhead Supply</title>"}
    data["policies"].insert(0, {"name": "deceive-bots", "min_score": 70, "action": "deceive", "deceive": static})
    # The people below browse faster than people do: no cap on the bodies read per second; and every answer to them
    # is sampled, so that the upstream's latency botwall knows is the current one on a machine whose load drifts.
    data["deception"] = {"min_samples": min_samples, "bodies_per_second": 10_000, "sample_rate": 1.0}
    data["shadow"] = shadow
    return yaml.safe_dump(data)


class Person:
    """A browser behind its own address, keeping the cookies it is given."""

    def __init__(self, stack: Stack, address: str) -> None:
        self.stack, self.address = stack, address
        self.cookies: dict[str, str] = {}

    def get(self, path: str, *, xhr: bool = False) -> Response:
        return self._send(path, "GET", XHR_HEADERS if xhr else BROWSER_HEADERS, None)

    def login(self, username: str, password: str) -> Response:
        body = f"username={username}&password={password}".encode()
        return self._send("/login", "POST", BROWSER_FORM_HEADERS, body)

    def _send(self, path: str, method: str, headers: list[tuple[str, str]], body: bytes | None) -> Response:
        sent = [*headers, ("x-forwarded-for", self.address)]
        if self.cookies:
            sent.append(("cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
        response = self.stack.request(path, method=method, headers=sent, body=body)
        for cookie in response.set_cookies:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response


def addresses(count: int, first: int) -> list[str]:
    """People's addresses (no hosting, cloud or anonymizing network), their first octet `first`."""
    return residential((f"{first}.{10 + i}.{i * 7 % 250}.{i + 2}" for i in itertools.count()), count)


def _browse(stack: Stack, people: int = 8) -> None:
    """People looking at the products, as pages and as the API the pages call."""
    for address in addresses(people, 81):
        person = Person(stack, address)
        person.get("/")
        for product in PRODUCTS:
            person.get(f"/products/{product}")
            person.get(f"/api/products/{product}", xhr=True)


def _bot_requests(stack: Stack, rounds: int, people: list[Person] | None = None) -> tuple[list[Answer], list[Answer]]:
    """A scraper on the product pages and API (a tool by its own request, keeping no cookie), and, request by request
    in turn (each first every other time), people on the same paths of the same stack: the answers to each, timed
    under the same load."""
    scraper: list[Answer] = []
    persons: list[Answer] = []

    def timed(send: Callable[[], Response], path: str, into: list[Answer]) -> None:
        started = time.perf_counter()
        response = send()
        into.append((path, response, (time.perf_counter() - started) * 1000))

    turn = 0
    for round_ in range(rounds):
        for product in PRODUCTS:
            for path in (f"/products/{product}", f"/api/products/{product}"):
                bot = functools.partial(stack.request, path, headers=[*BOT_HEADERS, ("x-forwarded-for", BOT_ADDRESS)])
                sends = [(bot, scraper)]
                if people:
                    person = people[(round_ + product) % len(people)]
                    sends.append((functools.partial(person.get, path, xhr=path.startswith("/api/")), persons))
                turn += 1
                for send, into in sends if turn % 2 else reversed(sends):
                    timed(send, path, into)
    return scraper, persons


def _walk(value: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        into[f"keys:{prefix}"] = ",".join(value)
        for key, item in value.items():
            _walk(item, f"{prefix}.{key}", into)
    elif isinstance(value, list):
        into[f"len:{prefix}"] = len(value)
        for item in value[:3]:
            _walk(item, f"{prefix}[]", into)
    else:
        into[f"type:{prefix}"] = type(value).__name__


def features(response: Response, latency_ms: float) -> dict[str, Any]:
    """What a careful bot would compare between two answers (never the values themselves). botwall's own cookie is
    left out: it goes to a client without one, a scraper or a person's first page alike, whatever the answer."""
    fields = [(k, v) for k, v in response.fields if not (k == "set-cookie" and v.startswith("__bw="))]
    names = [k for k, _ in fields]
    out: dict[str, Any] = {
        "status": str(response.status), "order": "|".join(names), "size": len(response.body),
        "latency_ms": latency_ms, "content_type": response.headers.get("content-type", ""),
    }  # fmt: skip
    for name in names:
        out[f"has:{name}"] = 1
    for cookie in (v for k, v in fields if k == "set-cookie"):
        pair, _, attributes = cookie.partition(";")
        name, _, value = pair.partition("=")
        out[f"cookie:{name}"] = len(value)
        out[f"cookie_attributes:{name}"] = re.sub(r"(?i)expires=[^;]*", "expires", attributes)
    if "json" in out["content_type"]:
        _walk(json.loads(response.body), "$", out)
    elif "html" in out["content_type"]:
        tags = re.findall(r"<\s*([a-zA-Z0-9!]+)", response.body.decode("utf-8", "replace"))
        out["tags"] = "|".join(tags)
        out["tag_count"] = len(tags)
    return out


def auc(
    real: list[tuple[str, dict[str, Any]]], fake: list[tuple[str, dict[str, Any]]]
) -> tuple[float, list[tuple[str, float]]]:
    """AUC of a random forest telling real from fake answers (path, features), held out by path (5 folds, ten times
    over): a deceived bot judges answers of paths it never saw answered for real; and the features the forest leaned
    on most."""
    with threadpool_limits(1):  # OpenMP and OpenBLAS threads spin after use: the tests after this one are timed
        return _auc(real, fake)


def _auc(
    real: list[tuple[str, dict[str, Any]]], fake: list[tuple[str, dict[str, Any]]]
) -> tuple[float, list[tuple[str, float]]]:
    vectorizer = DictVectorizer(sparse=False)
    x = vectorizer.fit_transform([f for _, f in real] + [f for _, f in fake])
    y = np.array([0] * len(real) + [1] * len(fake))
    groups = [path for path, _ in real] + [path for path, _ in fake]
    forest = RandomForestClassifier(n_estimators=100, random_state=0)
    scores = []
    for repeat in range(10):  # ten ways to fold the paths: one fold assignment is a noisy estimate
        folds = StratifiedGroupKFold(5, shuffle=True, random_state=repeat)
        scores += list(cross_val_score(forest, x, y, groups=groups, cv=folds, scoring="roc_auc"))
    score = float(np.mean(scores))
    forest.fit(x, y)
    ranked = sorted(
        zip(vectorizer.get_feature_names_out(), forest.feature_importances_, strict=True), key=lambda t: -t[1]
    )
    return score, [(str(n), round(float(w), 3)) for n, w in ranked[:6]]


def test_a_deceived_bot_cannot_tell_learned_fakes_from_real_answers(
    shop: BackgroundShop, tmp_path: Path, make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    deceiving = admin_stack(shop, tmp_path / "deceiving", _config())
    try:
        stack = deceiving.stack
        _browse(stack)
        samples = _samples(_get(deceiving.admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_deception_endpoints", (("state", "ready"),))] >= 2
        # The real answers: people's, on the same paths through the same Envoy and botwall, in turn with the
        # scraper's (the shop answers a person who is not logged in as it answers anyone).
        # Their first answers of each endpoint and status are sampled with the body (what botwall learns from, which
        # costs those answers a round trip more): a round before the measured ones.
        people = [Person(stack, address) for address in addresses(4, 84)]
        for person in people:
            person.get("/")
        warm_up, _ = _bot_requests(stack, rounds=2, people=people)
        fakes, reals = _bot_requests(stack, rounds=16, people=people)
        static_stack = make_stack(_config(learn=False), trusted_hops=1)  # the static answer of before
        statics, _ = _bot_requests(static_stack, rounds=4)

        decisions = [d for d in stack.decisions() if d["client_ip"] == BOT_ADDRESS]
        assert decisions
        assert {d["action"] for d in decisions} == {"deceive"}
        assert {d["policy"] for d in decisions} == {"deceive-bots"}
        assert not [d for d in stack.decisions() if d["client_ip"] != BOT_ADDRESS and d["action"] == "deceive"]
        samples = _samples(_get(deceiving.admin, "/metrics", TOKEN)[1])
        learned_answers = samples[("botwall_deception_answers_total", (("source", "learned"),))]
        assert learned_answers == len(warm_up) + len(fakes)  # every one of the scraper's, none to people

        # Every fake is of the shop's shape, and repeats nothing a person was sent that varies between answers. The
        # shop has products 1 to 8: 9 and 10 are a 404 in the fake world too.
        real_statuses = {path: response.status for path, response, _ in reals}
        assert {path: response.status for path, response, _ in fakes} == real_statuses
        assert sorted(set(real_statuses.values())) == [200, 404]
        for path, response, _ in fakes:
            if response.status == 404:
                continue
            if path.startswith("/api/"):
                body = response.json()
                assert list(body) == ["id", "name", "price", "stock"]
                assert body["id"] == int(path.rsplit("/", 1)[1])
            else:
                assert response.body.startswith(b"<!doctype html>")
                assert b"<footer>Trailhead Supply is a demo shop protected by botwall.</footer>" in response.body
        _assert_nothing_replayed(reals, fakes)
        # The same request sees the same fake world.
        by_path: dict[str, set[bytes]] = {}
        for path, response, _ in fakes:
            by_path.setdefault(path, set()).add(response.body)
        assert all(len(bodies) == 1 for bodies in by_path.values())

        real_features = [(p, features(r, ms)) for p, r, ms in reals]
        learned, leaned_on = auc(real_features, [(p, features(r, ms)) for p, r, ms in fakes])
        static, _ = auc(real_features, [(p, features(r, ms)) for p, r, ms in statics])
        medians = [float(np.median([ms for _, _, ms in answers])) for answers in (reals, fakes)]
        print(f"AUC real vs learned fakes {learned:.3f} (leaning on {leaned_on}); real vs static {static:.3f}")
        print(f"median latency: real {medians[0]:.2f} ms, fake {medians[1]:.2f} ms")
        assert static > 0.95  # the classifier can tell a fake that gives itself away
        assert learned < 0.6, (leaned_on, medians)
    finally:
        deceiving.stop()


def _assert_nothing_replayed(
    reals: list[tuple[str, Response, float]], fakes: list[tuple[str, Response, float]]
) -> None:
    """No word of 8 characters or more that only some real answers of an endpoint carried (at most a quarter of them:
    a product's name, a cookie's value) appears in a fake answer of that endpoint. botwall's own cookie is left out:
    a fake's is minted fresh, and its issue time is the clock's (the same second as a real one's)."""

    def text(response: Response) -> str:
        fields = [(k, v) for k, v in response.fields if not v.startswith("__bw=")]
        return response.body.decode("utf-8", "replace") + str(fields)

    for kind in ("/api/products/", "/products/"):
        texts = [text(r) for p, r, _ in reals if p.startswith(kind)]
        counts: dict[str, int] = {}
        for one in texts:
            for word in set(re.findall(r"[A-Za-z0-9_-]{8,}", one)):
                counts[word] = counts.get(word, 0) + 1
        variable = {word for word, n in counts.items() if n * 4 <= len(texts)}
        assert len(variable) >= 4  # the test has something to find: product names, cookie values
        faked = "\n".join(text(r) for p, r, _ in fakes if p.startswith(kind))
        assert sorted(w for w in variable if w in faked) == []


def test_a_fake_login_hands_out_a_fake_session_that_keeps_the_bot_in_the_trap(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    # The demo shop has three accounts: six people log in (more, and each account would be tried from more
    # addresses than a person uses), so an endpoint's answers are learned from six.
    running = admin_stack(shop, tmp_path / "trap", _config(min_samples=6))
    try:
        stack = running.stack
        accounts = list(DEMO_ACCOUNTS.items())
        for i, address in enumerate(addresses(6, 82)):  # people logging in and looking at their account
            person = Person(stack, address)
            person.get("/login")
            time.sleep(1.5)  # typing
            assert person.login(*accounts[i % len(accounts)]).status == 303
            assert person.get("/account").status == 200
        real = Person(stack, addresses(1, 83)[0])
        real.get("/login")
        real_login = real.login(*accounts[0])

        bot = [*BOT_HEADERS, ("content-type", "application/x-www-form-urlencoded"), ("x-forwarded-for", BOT_ADDRESS)]
        fake_login = stack.request("/login", method="POST", headers=bot, body=b"username=alice&password=guess-1")
        assert fake_login.status == 303

        # The real answer's headers in their order (botwall's own cookie apart: the bot holds none, the person does);
        # but Envoy writes `content-length: 0` last on an immediate response without a body (wherever botwall put
        # it), and in the upstream's place on a real one.
        def names(response: Response) -> list[str]:
            return [k for k, v in response.fields if k != "content-length" and not v.startswith("__bw=")]

        assert names(fake_login) == names(real_login)
        assert [k for k, _ in fake_login.fields][-1] == "content-length"
        assert fake_login.headers["content-length"] == "0"
        assert fake_login.headers["location"] == real_login.headers["location"] == "/account"
        session = next(c for c in fake_login.set_cookies if c.startswith("session="))
        real_session = next(c for c in real_login.set_cookies if c.startswith("session="))
        value = session.split(";")[0].partition("=")[2]
        assert len(value) == len(real_session.split(";")[0].partition("=")[2])
        assert session.partition(";")[2] == real_session.partition(";")[2]  # the same attributes

        # The bot uses its "session": every request with it is the trapped client, answered with fakes.
        trapped_headers = [*BOT_HEADERS, ("x-forwarded-for", "81.2.69.161"), ("cookie", f"session={value}")]
        account_page = stack.request("/account", headers=trapped_headers)
        assert account_page.status == 200
        assert b"<!doctype html>" in account_page.body
        lines = [d for d in stack.decisions() if d["path"] == "/account" and d["client_ip"] == "81.2.69.161"]
        assert lines
        assert lines[-1]["action"] == "deceive"
        assert "trap:fake-session" in lines[-1]["reasons"]
        # A person's real session is nobody's trap.
        assert real.get("/account").status == 200
        bots = (BOT_ADDRESS, "81.2.69.161")
        assert not [d for d in stack.decisions() if d["client_ip"] not in bots and d["action"] == "deceive"]

        status, body, _ = _get(running.admin, "/api/v1/accounts", TOKEN)
        assert status == 200
        alice = next(a for a in json.loads(body)["accounts"] if a["username"] == "alice")
        assert alice["trapped"] == 1
        assert alice["compromised"] is False
        samples = _samples(_get(running.admin, "/metrics", TOKEN)[1])
        assert samples[("botwall_deception_traps", ())] == 1
    finally:
        running.stop()


def test_a_trap_holds_across_workers(shop: BackgroundShop, tmp_path: Path) -> None:
    """With `--workers 2` (Envoy's cluster over both, streams spread between them), the trap one worker sets holds at
    the other: traps are marks in the state the workers share (their private redis-server)."""
    config = tmp_path / "botwall.yaml"
    config.write_text(_config())
    botwall = start_botwall(tmp_path / "botwall", config, workers=2, timeout=120)
    try:
        settings = EnvoySettings(
            http=("127.0.0.1", 0), botwall=("127.0.0.1", botwall.port), botwall_ports=botwall.ports,
            upstream=("127.0.0.1", shop.port), access_log=str(tmp_path / "access.log"), trusted_hops=1,
        )  # fmt: skip
        envoy = start_envoy(render_gateway(settings), tmp_path)
    except BaseException:
        botwall.stop()
        raise
    try:
        stack = Stack(envoy, botwall, tmp_path, shop)
        bot = [*BOT_HEADERS, ("content-type", "application/x-www-form-urlencoded"), ("x-forwarded-for", BOT_ADDRESS)]
        login = stack.request("/login", method="POST", headers=bot, body=b"username=bob&password=guess-2")
        assert login.status in (302, 303)  # not learned here: the route's success status, with a fake session
        session = next(c for c in login.set_cookies if c.startswith("session=")).split(";")[0]
        time.sleep(0.2)  # the worker that set the trap pushes it in its next sync round
        trapped = [*BOT_HEADERS, ("x-forwarded-for", BOT_ADDRESS), ("cookie", session)]
        for _ in range(10):
            stack.request("/account", headers=trapped)
            time.sleep(0.1)
        time.sleep(1.5)  # Envoy flushes its access log about once a second
        # Per request (Envoy's access log carries botwall's reasons): the worker that did not set the trap knows it a
        # sync round after it first sees the session (it asks the store then), so all but that first request are the
        # trapped client's.
        reasons = [e["botwall_reasons"] for e in stack.access_log() if e.get("path") == "/account"]
        assert len(reasons) == 10
        assert sum("trap:fake-session" not in r for r in reasons) <= 1, reasons
        lines = [d for d in stack.decisions() if d["path"] == "/account" and "trap:fake-session" in d["reasons"]]
        assert {d["worker"] for d in lines} == {0, 1}  # both workers kept it in the trap
    finally:
        envoy.stop()
        botwall.stop()
