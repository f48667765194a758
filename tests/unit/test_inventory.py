"""Endpoint discovery (`edge.inventory`): paths become templates, traffic is counted per template, a path-scanning
bot cannot grow it past its bounds, and the API part exports as OpenAPI 3."""

from __future__ import annotations

import random
import tracemalloc

from botwall.clock import FakeClock
from botwall.config import Action, parse_yaml
from botwall.edge.inventory import OTHER, SIBLINGS, Inventory, segment
from botwall.policy import Decision

PERSON = Decision(Action.ALLOW, True, False, "", 3, "human", (), "fp1")
BOT = Decision(Action.BLOCK, True, False, "block-bots", 90, "bot", ("ua:automation-tool",), "fp2")


def test_identifiers_become_parameters() -> None:
    assert [segment(s) for s in ("products", "42", "0b7e5c1e-6f1a-4c55-9a77-3b2f0c1d9e8f", "9f86d081884c7d65")] == [
        "products", "{id}", "{uuid}", "{hash}",
    ]  # fmt: skip
    assert segment("eyJhbGciOiJIUzI1NiJ9abc123def456") == "{token}"
    assert segment("checkout") == "checkout"
    assert segment("deadbeefcafe") == "deadbeefcafe"  # hex-looking words without a digit stay words
    assert segment("x" * 65) == "{param}"


def test_requests_are_counted_per_template() -> None:
    clock = FakeClock(1_800_000_000.0)
    inventory = Inventory(clock=clock)
    for n in range(30):
        inventory.record("Shop.example", "GET", f"/products/{n}", "", "page", PERSON)
        clock.advance(1)
    for n in range(5):
        endpoint = inventory.record("shop.example", "GET", f"/api/users/{n}/orders", "page=2&sort=new", "api", BOT)
        endpoint.status(200)
    rows = {(r["host"], r["method"], r["template"]): r for r in inventory.snapshot()}
    products = rows["shop.example", "GET", "/products/{id}"]
    assert (products["requests"], products["by_verdict"], products["kind"]) == (30, {"human": 30}, "page")
    orders = rows["shop.example", "GET", "/api/users/{id}/orders"]
    assert orders["by_action"] == {"block": 5}
    assert orders["mitigated"] == 5
    assert orders["query_parameters"] == ["page", "sort"]
    assert orders["statuses"] == {"200": 5}
    assert orders["found_by_bots_first"]
    assert not products["found_by_bots_first"]
    assert not orders["new"]  # seen in the warm-up
    inventory.record("shop.example:8443", "GET", "/products/1", "", "page", PERSON)  # the port is not another site
    assert {r["host"] for r in inventory.snapshot()} == {"shop.example"}


def test_slugs_under_one_parent_merge_once_they_are_many() -> None:
    inventory = Inventory()
    for name in [f"user-{n}" for n in range(SIBLINGS + 20)]:
        inventory.record("h", "GET", f"/profile/{name}", "", "page", PERSON)
    templates = {r["template"] for r in inventory.snapshot()}
    assert "/profile/{param}" in templates
    assert len(templates) == SIBLINGS + 1  # the first ones stay themselves; the rest merged


def test_a_restored_inventory_keeps_merging_where_it_had_merged() -> None:
    """After a restart, a new slug under a parent that had too many joins `{param}` at once; a parent with a few
    children goes on learning literals, and stops at the same bound."""
    before = Inventory()
    for name in [f"user-{n}" for n in range(SIBLINGS + 5)]:
        before.record("h", "GET", f"/profile/{name}", "", "page", PERSON)
    for name in ("about", "careers"):
        before.record("h", "GET", f"/company/{name}", "", "page", PERSON)
    after = Inventory()
    assert after.restore((key, data) for key, _, data in before.take_dirty()) == SIBLINGS + 3
    assert after.record("h", "GET", "/profile/someone-new", "", "page", PERSON).template == "/profile/{param}"
    assert after.record("h", "GET", "/company/press", "", "page", PERSON).template == "/company/press"
    for n in range(SIBLINGS):
        after.record("h", "GET", f"/company/team-{n}", "", "page", PERSON)
    assert after.record("h", "GET", "/company/one-too-many", "", "page", PERSON).template == "/company/{param}"


def test_an_endpoint_first_seen_after_the_warm_up_is_new() -> None:
    clock = FakeClock(1_800_000_000.0)
    inventory = Inventory(clock=clock)
    inventory.record("h", "GET", "/", "", "page", PERSON)
    clock.advance(3600)
    inventory.record("h", "POST", "/internal/v2/export", "", "api", BOT)
    rows = {r["template"]: r for r in inventory.snapshot()}
    assert rows["/internal/v2/export"]["new"]
    assert not rows["/"]["new"]


def test_a_path_scanner_cannot_grow_it_past_its_bounds() -> None:
    rng = random.Random(7)  # noqa: S311 - test data
    inventory = Inventory(max_templates=200)
    tracemalloc.start()
    for _ in range(8_000):
        depth = rng.randint(1, 40)
        path = "/" + "/".join(
            "".join(rng.choices("abcdefghijklmnopqrstuvwxyz.-_", k=rng.randint(1, 90))) for _ in range(depth)
        )
        query = "&".join(f"q{rng.randint(0, 10**9)}=1" for _ in range(rng.randint(0, 30)))
        inventory.record(f"h{rng.randint(0, 3)}.example", "GET", path, query, "page", BOT)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(inventory) <= 200 + 4  # one (other) per host and method
    assert any(r["template"] == OTHER for r in inventory.snapshot())
    assert all(len(r["query_parameters"]) <= 20 for r in inventory.snapshot())
    assert current < 8 * 2**20, current


def test_random_hosts_and_methods_cannot_grow_it_either() -> None:
    """Past the bound, each host and method gets one `(other)` entry, up to 64; then one entry takes every host."""
    inventory = Inventory(max_templates=10)
    for n in range(1_000):
        inventory.record(f"h{n}.example", f"M{n % 7}", f"/p{n}", "", "page", BOT)
    assert len(inventory) <= 10 + 64 + 1
    assert (OTHER, OTHER, OTHER) in {(r["host"], r["method"], r["template"]) for r in inventory.snapshot()}


def test_policies_that_protect_an_endpoint_are_named() -> None:
    config = parse_yaml(
        "policies:\n"
        "  - {name: login-throttle, match: {path: {exact: /login}, methods: [POST]}, action: throttle,"
        " throttle: {key: ip, rate_per_minute: 10, burst: 5}}\n"
        "  - {name: block-bots, min_score: 70, action: block}\n",
        "t.yaml",
    )
    inventory = Inventory()
    inventory.record("h", "POST", "/login", "", "page", PERSON)
    inventory.record("h", "GET", "/", "", "page", PERSON)
    rows = {r["template"]: r for r in inventory.snapshot(config.policies)}
    assert rows["/login"]["protected_by"] == ["login-throttle"]
    assert rows["/"]["protected_by"] == []


def test_the_api_exports_as_openapi() -> None:
    inventory = Inventory()
    for n in range(3):
        inventory.record("h", "GET", f"/api/users/{n}/orders/{n + 10}", "page=1", "api", PERSON).status(200)
    inventory.record("h", "GET", "/about", "", "page", PERSON)
    document = inventory.openapi()
    assert document["openapi"].startswith("3.")
    assert list(document["paths"]) == ["/api/users/{id}/orders/{id2}"]
    operation = document["paths"]["/api/users/{id}/orders/{id2}"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["id", "id2", "page"]
    assert list(operation["responses"]) == ["200"]
