"""Learned deception (`botwall.deception`): formats and shapes learned from sampled answers, fake answers drawn from
them, the sampling that feeds them, and the fake sessions they hand out. In-process; the same through real Envoy and
the demo shop is `tests/integration/test_deception.py`."""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import replace

import pytest
import yaml

from botwall.config import Config, DeceiveSpec, DeceptionSettings, StateSettings, parse_config, template_pattern
from botwall.deception.book import BODY, HEADERS, NONE, Deception
from botwall.deception.formats import MAX_GROUPS, MIN_CLIENTS, Format, split
from botwall.deception.shapes import MAX_DEPTH, MAX_KEYS, MAX_NODES, EndpointShape, JsonShape, Observed, http_date
from botwall.errors import ConfigError
from botwall.state.keys import KeyHasher
from botwall.state.store import MemoryStore

NOW = 1_796_488_000.0
KEY = ("shop.example", "GET", "/api/products/{id}")


def load_config_text(text: str) -> Config:
    return parse_config(yaml.safe_load(text), "test.yaml")


def _observed(i: int, *, client: int | None = None, status: int = 200, body: bytes | None = None) -> Observed:
    token = secrets.token_urlsafe(32)
    product = i % 7 + 1
    payload = (
        body
        if body is not None
        else json.dumps(
            {
                "id": product,
                "name": f"Product {secrets.token_hex(6)}",
                "price": 1000 + 37 * i,
                "owner": secrets.token_hex(8),
            }
        ).encode()
    )
    headers = (
        ("content-type", "application/json; charset=utf-8"),
        ("content-length", str(len(payload))),
        ("date", "Sat, 05 Dec 2026 16:26:09 GMT"),
        ("x-request-id", secrets.token_hex(16)),
        ("set-cookie", f"session={token}; HttpOnly; Path=/; SameSite=Lax"),
        ("x-envoy-upstream-service-time", "4"),
    )
    return Observed(
        status, headers, 0.004 + (i % 5) / 1000, client if client is not None else i % 5, NOW - 60, payload,
        path=f"/api/products/{product}",
    )  # fmt: skip


def test_a_word_is_fixed_only_when_enough_clients_agree_on_it() -> None:
    """`application/json` from three people is the site's; one person's name seen 50 times is not."""
    constant = Format()
    for client in range(MIN_CLIENTS):
        constant.observe("application/json; charset=utf-8", client)
    assert constant.fixed()
    assert constant.synthesize(random.Random(1)) == "application/json; charset=utf-8"  # noqa: S311 - seeded draws, not security

    one_person = Format()
    for _ in range(50):
        one_person.observe("alice.liddell@example.org", 7)
    assert not one_person.fixed()
    drawn = {one_person.synthesize(random.Random(seed)) for seed in range(20)}  # noqa: S311 - seeded draws, not security
    assert "alice.liddell@example.org" not in drawn
    assert not any("alice" in value or "liddell" in value for value in drawn)
    # ... but of the same shape: the same delimiters, words of the same lengths.
    assert all(split(value)[0] == split("alice.liddell@example.org")[0] for value in drawn)


def test_formats_keep_positions_numbers_and_skeletons_bounded() -> None:
    uuid = Format()
    for client in range(10):
        uuid.observe(f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-4{secrets.token_hex(2)[1:]}", client)
    value = uuid.synthesize(random.Random(2))  # noqa: S311 - seeded draws, not security
    assert [len(part) for part in value.split("-")] == [8, 4, 4]
    assert all(c in "0123456789abcdef-" for c in value)

    prices = Format()
    for client, price in enumerate((1999, 2450, 10500, 899)):
        prices.observe(str(price), client)
    assert all(899 <= int(prices.synthesize(random.Random(s))) <= 10500 for s in range(50))  # noqa: S311 - seeded draws, not security

    many = Format()
    for i in range(200):
        many.observe("x" + "/y" * i, i)  # a new skeleton each time
    assert len(many.groups) == MAX_GROUPS
    assert many.unlearned == 200 - MAX_GROUPS


def test_no_sampled_value_of_a_variable_slot_is_ever_replayed() -> None:
    """Session tokens, request ids, names and owners sampled from people never reach a fake answer."""
    shape = EndpointShape()
    sampled: list[Observed] = [_observed(i) for i in range(40)]
    for seen in sampled:
        shape.observe(seen)
    assert shape.ready(20)
    secrets_seen = set()
    for seen in sampled:
        for name, value in seen.headers:
            if name in ("set-cookie", "x-request-id"):
                secrets_seen.add(value.split(";")[0].partition("=")[2] or value)
        body = json.loads(seen.body or b"{}")
        secrets_seen.update({body["owner"], body["name"].split()[1], str(body["price"])})
    fakes = [shape.fake(seed, random.Random(seed), NOW, 20, 0.15, path="/api/products/3") for seed in range(300)]  # noqa: S311 - seeded draws, not security
    assert all(f is not None for f in fakes)
    text = "\n".join(repr(f) for f in fakes)
    replayed = sorted(s for s in secrets_seen if len(s) >= 6 and s in text)
    assert replayed == []


def test_a_fake_has_the_real_shape_the_same_world_for_the_same_request_and_fresh_cookies() -> None:
    shape = EndpointShape()
    for i in range(40):
        shape.observe(_observed(i))
    fresh = random.Random(9)  # noqa: S311 - seeded draws, not security
    first = shape.fake(1234, fresh, NOW, 20, 0.15, path="/api/products/3")
    again = shape.fake(1234, fresh, NOW, 20, 0.15, path="/api/products/3")
    other = shape.fake(999, fresh, NOW, 20, 0.15, path="/api/products/5")
    assert first is not None
    assert again is not None
    assert other is not None
    names = [name for name, _ in first.headers]
    assert names == ["content-type", "content-length", "date", "x-request-id", "set-cookie",
                     "x-envoy-upstream-service-time"]  # fmt: skip
    headers = dict(first.headers)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert int(headers["content-length"]) == len(first.body)
    assert http_date(headers["date"]) == pytest.approx(NOW, abs=1)
    assert headers["x-envoy-upstream-service-time"] == "4"  # what Envoy reported with that latency
    assert 0.004 <= first.delay <= 0.009  # a latency that was seen
    cookie = headers["set-cookie"]
    assert cookie.startswith("session=")
    assert cookie.endswith("; HttpOnly; Path=/; SameSite=Lax")
    assert len(cookie.split(";")[0]) == len("session=") + 43
    body = json.loads(first.body)
    assert list(body) == ["id", "name", "price", "owner"]
    assert body["id"] == 3  # the path's id, as every real answer had it
    assert isinstance(body["price"], int)
    assert 1000 <= body["price"] <= 1000 + 37 * 39
    assert body["name"].startswith("Product ")  # the fixed word stays, the variable one is drawn
    # The same request: the same product; a new session and request id each time, as a real site's.
    assert first.body == again.body
    assert dict(again.headers)["set-cookie"] != cookie
    assert dict(again.headers)["x-request-id"] != headers["x-request-id"]
    assert json.loads(other.body)["id"] == 5
    assert other.body != first.body


def test_an_endpoint_is_not_ready_before_enough_answers_from_enough_people() -> None:
    shape = EndpointShape()
    for i in range(100):
        shape.observe(_observed(i, client=1))  # one client only
    assert not shape.ready(20)
    assert shape.fake(1, random.Random(1), NOW, 20, 0.15) is None  # noqa: S311 - seeded draws, not security
    for i in range(5):
        shape.observe(_observed(i, client=2 + i))
    assert shape.ready(20)
    assert not EndpointShape().ready(20)


def test_html_pages_keep_their_template_and_lose_their_text() -> None:
    shape = EndpointShape()
    for i in range(30):
        name = f"{secrets.choice(['Trail', 'Camp', 'Rain'])} {secrets.token_hex(5)}"
        page = f'<html><head><title>{name} - Shop</title></head><body><h1>{name}</h1><p class="price">${i}.00</p>'
        page += f'<a href="/products/{i}">more</a></body></html>'
        headers = (("content-type", "text/html; charset=utf-8"), ("content-length", str(len(page))))
        shape.observe(Observed(200, headers, 0.002, i % 4, NOW, page.encode(), path=f"/products/{i}"))
    fake = shape.fake(7, random.Random(7), NOW, 20, 0.15)  # noqa: S311 - seeded draws, not security
    assert fake is not None
    html = fake.body.decode()
    assert html.startswith("<html><head><title>")
    assert html.endswith("</a></body></html>")
    assert "- Shop</title>" in html
    assert '<p class="price">$' in html
    assert '<a href="/products/' in html


def test_json_learning_is_bounded() -> None:
    shape = JsonShape()
    wide = {f"k{i}": i for i in range(10_000)}
    shape.observe(wide, 1, [MAX_NODES])
    assert len(shape.keys) == MAX_KEYS
    deep: object = 1
    for _ in range(100):
        deep = {"d": deep}
    tall = JsonShape()
    tall.observe(deep, 1, [MAX_NODES])
    depth, node = 0, tall
    while "d" in node.keys:
        node, depth = node.keys["d"], depth + 1
    assert depth <= MAX_DEPTH + 1
    budget = [10]
    many = JsonShape()
    many.observe([{f"k{i}": {f"j{j}": j for j in range(20)}} for i in range(30)], 1, budget)
    assert budget[0] == 0


def test_sampling_asks_bodies_first_then_headers_then_a_share() -> None:
    settings = DeceptionSettings(header_samples=5, body_samples=2, sample_rate=0.0, body_rate=0.0)
    clock = [NOW]
    book = Deception(settings, KeyHasher(), wall=lambda: clock[0], rng=random.Random(1))  # noqa: S311 - seeded draws, not security
    asked = []
    for i in range(10):
        want = book.wants(KEY, client=1)  # one person
        asked.append(want)
        if want:
            book.learn(KEY, _observed(i, client=1) if want == BODY else replace(_observed(i, client=1), body=None))
        clock[0] += 1.0
    assert asked == [BODY, BODY, HEADERS, HEADERS, HEADERS, NONE, NONE, NONE, NONE, NONE]
    # A second person's first answer is sampled with its body whatever the counts (a template is what people share).
    assert book.wants(KEY, client=2) == BODY
    assert book.wants(("shop.example", "GET", "(other)")) == NONE
    assert Deception(replace(settings, learn=False), KeyHasher()).wants(KEY) == NONE


def test_bodies_are_read_at_most_bodies_per_second() -> None:
    settings = DeceptionSettings(body_samples=1000, bodies_per_second=5.0)
    clock = [NOW]
    book = Deception(settings, KeyHasher(), wall=lambda: clock[0], rng=random.Random(1))  # noqa: S311 - seeded draws, not security
    bodies = sum(book.wants(KEY) == BODY for _ in range(100))
    assert bodies == 5
    clock[0] += 1.0
    assert sum(book.wants(KEY) == BODY for _ in range(100)) == 5


def test_a_fake_session_is_remembered_until_its_ttl_and_the_oldest_goes_first() -> None:
    clock = [NOW]
    book = Deception(DeceptionSettings(max_traps=2, trap_ttl_seconds=600), KeyHasher(), wall=lambda: clock[0])
    spec = DeceiveSpec(200, (), b"")
    book.trap("fake-1", "alice", "fp", "deceive-stuffers", spec)
    assert book.trapped("theme=dark; session=fake-1", ["session"]) is not None
    assert book.trapped("session=fake-2", ["session"]) is None
    assert book.trapped("other=fake-1", ["session"]) is None  # only the login routes' session cookies
    trap = book.trapped("session=fake-1", ["session"])
    assert trap is not None
    assert trap.username == "alice"
    assert trap.requests == 2
    clock[0] += 601
    assert book.trapped("session=fake-1", ["session"]) is None  # idle past its TTL
    for value in ("a", "b", "c"):
        book.trap(value, "bob", "fp", "p", spec)
    assert len(book.traps) == 2
    assert book.trapped("session=a", ["session"]) is None
    assert book.trapped("session=c", ["session"]) is not None


def test_deceive_config_names_endpoints_and_rejects_bad_values() -> None:
    config = load_config_text(
        """
policies:
  - name: deceive-stuffers
    min_score: 70
    action: deceive
    deceive: {endpoints: ['/api/products/{id}', /login], status: 200}
deception: {min_samples: 30, max_delay_ms: 100}
"""
    )
    spec = config.policies[0].deceive
    assert spec is not None
    assert spec.learn
    assert spec.covers("/api/products/3")
    assert spec.covers("/login")
    assert not spec.covers("/api/products/3/reviews")
    assert not spec.covers("/api/products")
    assert config.deception.min_samples == 30
    assert config.deception.max_delay_ms == 100
    assert template_pattern("/files/{rest}").fullmatch("/files/a/b/c")
    with pytest.raises(ConfigError, match=r"deception\.min_samples"):
        load_config_text("deception: {min_samples: 1}")
    with pytest.raises(ConfigError, match=r"deception\.unknown|unknown"):
        load_config_text("deception: {unknown: 1}")
    with pytest.raises(ConfigError, match=r"policies\[0\]\.deceive\.endpoints"):
        load_config_text("policies:\n  - {name: d, action: deceive, deceive: {endpoints: [api]}}")


def test_a_trap_set_by_one_process_holds_at_another_through_the_stores_marks() -> None:
    """Traps are marks in the state store too: with Redis, every replica and worker sees them a sync round later
    (here two `Deception`s over one store stand for two processes over one Redis)."""
    store = MemoryStore(StateSettings())
    spec = DeceiveSpec(200, (), b"static")
    specs = {"deceive-bots": spec}
    one = Deception(DeceptionSettings(), KeyHasher(), store=store, specs=specs)
    other = Deception(DeceptionSettings(), KeyHasher(), store=store, specs=specs)
    one.trap("fake-session", "alice", "fp", "deceive-bots", spec)
    assert other.trapped("session=fake-session", ["session"]) is None  # not asked: its own traps only
    trap = other.trapped("session=fake-session", ["session"], shared=True)
    assert trap is not None
    assert trap.policy == "deceive-bots"
    assert trap.spec is spec
    assert other.trapped("session=another", ["session"], shared=True) is None
    assert other.trapped("session=fake-session", ["session"]) is not None  # now its own
