"""Accounts under attack and compromised (`edge.accounts`): a stuffed account is listed with the evidence, one that a
stuffer got into is compromised, a person's own failed and successful logins list neither; bounded; CSV is safe."""

from __future__ import annotations

import csv
import io

from botwall.clock import FakeClock
from botwall.config import Action
from botwall.edge.accounts import Accounts, Attempt
from botwall.policy import Decision

PERSON = Decision(Action.ALLOW, True, False, "", 2, "human", (), "fp-person", own=2)
STUFFER = Decision(Action.ALLOW, True, False, "", 55, "suspect", ("beh:failed-logins",), "fp-bot", own=40)
BLOCKED = Decision(Action.BLOCK, True, False, "block-bots", 90, "bot", ("beh:many-usernames-many",), "fp-bot", own=90)
# A person on the stuffer's browser build: the crowd's evidence scores high, the person's own does not.
CROWDED = Decision(Action.ALLOW, True, False, "", 80, "bot", ("beh:fingerprint-stuffing",), "fp-bot", own=10)


def test_a_persons_typo_then_success_is_neither_attacked_nor_compromised() -> None:
    accounts = Accounts(clock=FakeClock(1_800_000_000.0))
    accounts.attempt(Attempt("carol", "failure", "198.51.100.4", 7922, "fp-person", PERSON))
    accounts.attempt(Attempt("carol", "success", "198.51.100.4", 7922, "fp-person", PERSON))
    accounts.attempt(Attempt("grace", "success", "198.51.100.5", 7922, "fp-bot", CROWDED))  # the crowd's suspicion
    assert not accounts.rows("compromised")
    (row,) = [r for r in accounts.rows() if r["username"] == "carol"]
    assert (row["under_attack"], row["compromised"], row["failures"], row["successes"]) == (False, False, 1, 1)
    assert accounts.rows("under_attack") == []


def test_a_stuffed_account_is_under_attack_and_a_stuffers_success_compromises_it() -> None:
    clock = FakeClock(1_800_000_000.0)
    accounts = Accounts(clock=clock)
    accounts.attempt(Attempt("dave", "refused", "203.0.113.9", 16509, "fp-bot", BLOCKED))
    accounts.attempt(Attempt("erin", "failure", "203.0.113.10", 16509, "fp-bot", STUFFER, common_password=True))
    clock.advance(5)
    accounts.attempt(Attempt("erin", "success", "203.0.113.11", 14061, "fp-bot", STUFFER))
    under = {row["username"]: row for row in accounts.rows("under_attack")}
    assert set(under) == {"dave", "erin"}
    assert under["dave"]["refused"] == 1
    assert under["erin"]["breached_password_tried"]
    (compromised,) = accounts.rows("compromised")
    assert compromised["username"] == "erin"
    assert "stuffing or spraying (beh:failed-logins)" in compromised["compromised_because"]
    assert compromised["evidence"][-1]["outcome"] == "success"


def test_a_success_after_a_burst_of_failures_from_many_networks_is_compromised() -> None:
    clock = FakeClock(1_800_000_000.0)
    accounts = Accounts(clock=clock)
    for n in range(6):  # each attempt from a network of its own, each looking like a person on its own
        accounts.attempt(Attempt("frank", "failure", f"192.0.2.{n}", 64500 + n, f"fp{n}", PERSON))
        clock.advance(60)
    accounts.attempt(Attempt("frank", "success", "192.0.2.99", 64599, "fp9", PERSON))
    (row,) = accounts.rows("compromised")
    assert "after 6 failures from 6 networks" in row["compromised_because"]


def test_it_is_bounded_and_its_csv_is_safe_to_open() -> None:
    accounts = Accounts(max_accounts=100)
    for n in range(1000):
        accounts.attempt(Attempt(f"user{n}@example.com", "refused", "203.0.113.9", 0, "fp-bot", BLOCKED))
    accounts.attempt(Attempt('=HYPERLINK("http://x")' + "x" * 500, "refused", "203.0.113.9", 0, "fp", BLOCKED))
    assert len(accounts) == 100
    rows = list(csv.DictReader(io.StringIO(accounts.csv("under_attack"))))
    assert len(rows) == 100
    formula = next(r for r in rows if "HYPERLINK" in r["username"])
    assert formula["username"].startswith("'=")
    assert len(formula["username"]) <= 129
