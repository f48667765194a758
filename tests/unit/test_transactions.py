"""Transaction tagging (`transactions:` routes): fields read for velocity checks only as keyed hashes, and a risk that
adds the velocity reasons to the client's score without refusing anyone; through the engine with the shipped model.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from botwall.clock import FakeClock
from botwall.config import Action, StateSettings, load_config, parse_config
from botwall.engine import Engine
from botwall.errors import ConfigError
from botwall.evidence.transactions import Transaction, TransactionRoute, read_transaction
from botwall.lab.testing import captured_headers, resources
from botwall.policy import Decision
from botwall.request import SOURCE_ADDRESS, Match, PathMatch, build_view
from botwall.scoring.model import scorer_for
from botwall.state.keys import KeyHasher
from botwall.state.store import MemoryStore

ROUTE = TransactionRoute(
    "loan", Match(path=PathMatch("exact", "/api/loans")), "auto", ("email", "applicant.phone"), max_body_bytes=4096
)
KEYS = KeyHasher(b"k" * 32)
CONFIG_TEXT = {
    "transactions": [
        {
            "name": "loan",
            "match": {"path": {"exact": "/api/loans"}, "methods": ["POST"]},
            "fields": ["email", "applicant.phone"],
        }
    ]
}
NAVIGATION = captured_headers("chromium-headful", "navigation", "https")
XHR = captured_headers("chromium-headful", "xhr", "https")


def _read(body: bytes, content_type: str = "application/json") -> Transaction:
    return read_transaction(ROUTE, content_type, body, KEYS)


def test_fields_are_read_from_json_and_forms_and_kept_only_as_keyed_hashes() -> None:
    body = {"email": "  Ann.Lee@Mail.example ", "applicant": {"phone": "+1 555  0100", "ssn": "123-45-6789"}}
    seen = _read(json.dumps(body).encode())
    assert seen.parsed
    assert [name for name, _ in seen.values] == ["email", "applicant.phone"]
    assert all(isinstance(value, int) for _, value in seen.values)
    assert "ann" not in repr(seen).lower()
    assert "555" not in repr(seen)
    # Case and spacing do not make another applicant; a form carries the same field the same way.
    same = _read(b'{"email": "ann.lee@mail.example", "applicant": {"phone": "+1 555 0100"}}')
    assert same.values == seen.values
    form = _read(b"email=ann.lee%40mail.example&other=1", "application/x-www-form-urlencoded")
    assert form.values == seen.values[:1]
    # Another key gives other hashes: nothing to look up in a table made elsewhere.
    assert read_transaction(ROUTE, "application/json", json.dumps(body).encode(), KeyHasher(b"x" * 32)) != seen


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": ',  # cut short
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",  # not an object
        b'{"email": "' + b"a" * 5000 + b'"}',  # over max_body_bytes
        b"[" * 3000 + b"]" * 3000,  # nested past any parser
        json.dumps({f"f{n}": n for n in range(300)}).encode(),  # more fields than an application form
    ],
)
def test_a_body_that_cannot_be_read_is_marked_and_costs_nothing(body: bytes) -> None:
    seen = _read(body)
    assert not seen.parsed
    assert seen.values == ()


def test_the_config_names_the_key_and_what_was_expected() -> None:
    config = parse_config(CONFIG_TEXT, "botwall.yaml")
    assert config.transactions[0].fields == ("email", "applicant.phone")
    assert config.transactions[0].review_from == config.thresholds.suspect
    bad = [
        ({"name": "loan", "match": {"path": {"exact": "/a"}}, "fields": "email"}, "transactions[0].fields"),
        ({"name": "loan", "match": {"path": {"exact": "/a"}}, "format": "xml"}, "transactions[0].format"),
        ({"name": "a loan!", "match": {"path": {"exact": "/a"}}}, "transactions[0].name"),
        ({"name": "loan"}, "transactions[0].match"),
        ({"name": "loan", "match": {"path": {"exact": "/a"}}, "review_from": 101}, "transactions[0].review_from"),
    ]
    for entry, key in bad:
        with pytest.raises(ConfigError) as error:
            parse_config({"transactions": [entry]}, "botwall.yaml")
        assert str(error.value).startswith(f"botwall.yaml: {key}"), str(error.value)


class Site:
    """The engine with the shipped model, the embedded defaults and a loan-application route."""

    def __init__(self) -> None:
        self.config = replace(load_config(None), transactions=parse_config(CONFIG_TEXT, "<test>").transactions)
        self.clock = FakeClock(1_000.0)
        store = MemoryStore(StateSettings(), self.clock)
        self.engine = Engine(
            self.config, resources(), scorer=scorer_for(self.config.model), store=store, clock=self.clock
        )

    def browse(self, ip: str) -> str:
        """A page view; the botwall cookie the browser keeps."""
        view = self.view("GET", "/", ip, NAVIGATION, "")
        _, context = self.engine.evaluate(view)
        self.engine.record_response(context, 200, [])
        handed = self.engine.response_cookie(context, 200)
        return handed.split(";", 1)[0]

    def apply(self, ip: str, cookie: str, email: str, phone: str) -> Decision:
        self.clock.advance(20.0)
        view = self.view("POST", "/api/loans", ip, XHR, cookie)
        route = self.engine.transaction_route(view)
        assert route is not None
        body = json.dumps({"email": email, "applicant": {"phone": phone}}).encode()
        transaction = read_transaction(route, "application/json", body, self.engine.keys)
        decision, context = self.engine.evaluate(view, None, None, transaction)
        self.engine.record_response(context, 201, [])
        return decision

    @staticmethod
    def view(method: str, path: str, ip: str, headers: list[tuple[str, str]], cookie: str) -> object:
        pseudo = [(":method", method), (":path", path), (":authority", "bank.example"), (":scheme", "https")]
        extra = [("cookie", cookie)] if cookie else []
        return build_view([*pseudo, *headers, *extra], {SOURCE_ADDRESS: f"{ip}:40000"})


def test_people_apply_unremarked_and_one_client_applying_for_many_is_tagged_not_refused() -> None:
    site = Site()
    people = []
    for n in range(5):
        cookie = site.browse(f"73.1.0.{n + 1}")
        people.append(site.apply(f"73.1.0.{n + 1}", cookie, f"person{n}@mail.example", f"+1 555 01{n:02d}"))
    assert all(d.transaction == "loan" and d.action is Action.ALLOW for d in people)
    assert all(not any(code.startswith("txn:") for code in d.reasons) for d in people), [d.reasons for d in people]
    assert all(d.risk == d.score for d in people)

    # One browser (its cookie) applying for a different applicant each time: from the third on, the client's own
    # velocity is in its reasons and risk, and it is still let through for the fraud platform to judge.
    cookie = site.browse("98.7.6.5")
    fraud = [site.apply("98.7.6.5", cookie, f"mule{n}@mail.example", f"+1 555 09{n:02d}") for n in range(5)]
    assert [("txn:client-many-applicants" in d.reasons) for d in fraud] == [False, False, True, True, True]
    assert all(d.action is Action.ALLOW for d in fraud)
    assert all(d.risk >= d.score + 50 for d in fraud[2:])

    # The same applicant's details from three clients: the details are the crowd here.
    shared = []
    for n in range(3):
        ip = f"24.9.8.{n + 1}"
        shared.append(site.apply(ip, site.browse(ip), "victim@mail.example", f"+1 555 07{n:02d}"))
    assert [("txn:details-many-clients" in d.reasons) for d in shared] == [False, False, True]
    assert all(d.action is Action.ALLOW for d in shared)


def test_colleagues_behind_one_address_without_cookies_are_not_one_client() -> None:
    """Applications by clients that hold no botwall cookie are counted per address: from an address of its own,
    several applicants are that client's velocity; from an office's address (several browsers keep their cookies
    behind it), they are the office's, and say nothing about any one client."""
    site = Site()
    alone = [site.apply("203.0.113.9", "", f"mule{n}@mail.example", f"+1 555 04{n:02d}") for n in range(4)]
    assert [("txn:client-many-applicants" in d.reasons) for d in alone] == [False, False, True, True]
    for _ in range(5):
        cookie = site.browse("198.51.100.7")
        site.clock.advance(5.0)
        site.engine.evaluate(site.view("GET", "/about", "198.51.100.7", NAVIGATION, cookie))
    office = [site.apply("198.51.100.7", "", f"staff{n}@corp.example", f"+1 555 03{n:02d}") for n in range(4)]
    assert not any("txn:client-many-applicants" in d.reasons for d in office), [d.reasons for d in office]
