"""The drop harness's pure parts (botwall.lab.drop): a seeded plan, how a client reads an answer, and where a browser
puts the headers its captured profile does not show."""

from __future__ import annotations

from botwall.lab.drop import CHROME, FIREFOX, Size, classify, fetch_post, make_plan, with_cookie

CHALLENGE = b"<!doctype html><meta http-equiv=refresh content=0>"


def test_a_plan_is_reproducible_and_no_two_actors_share_an_address() -> None:
    """The same seed gives the same plan; people and bot tasks never leave from the same address."""
    size = Size(people=30, bot_tasks=10)
    plan = make_plan(7, "rotating", size)
    addresses = [p.address for p in plan.people] + [a for t in plan.tasks for a in t.exits]
    actual = (plan == make_plan(7, "rotating", size), plan == make_plan(8, "rotating", size), len(set(addresses)))
    assert (True, False, len(addresses)) == actual


def test_a_client_tells_a_challenge_from_a_refusal() -> None:
    """A 403 that sets botwall's cookie and reloads itself is a challenge; another 403 or a 429 is a refusal."""
    actual = [
        classify(403, ["__bw=abc; Path=/; HttpOnly"], CHALLENGE),
        classify(403, [], b"Forbidden\n"),
        classify(429, [], b""),
        classify(409, [], b'{"error": "sold out"}'),
    ]
    assert ["challenged", "refused", "refused", "served"] == actual


def test_each_browser_puts_the_cart_posts_headers_where_it_does() -> None:
    """Chrome sends content-length first and the cookie last; Firefox its body headers after the referer and the
    cookie before its fetch metadata."""
    chrome = [n for n, _ in with_cookie(CHROME, fetch_post(CHROME, "http://o", "http://o/p", 13), "__bw=x")]
    firefox = [n for n, _ in with_cookie(FIREFOX, fetch_post(FIREFOX, "http://o", "http://o/p", 13), "__bw=x")]
    actual = (
        (chrome[0], chrome[-1], chrome.index("content-type") == chrome.index("sec-ch-ua") + 1),
        firefox[firefox.index("referer") + 1 : firefox.index("sec-fetch-dest")],
    )
    assert (("content-length", "cookie", True), ["content-type", "content-length", "origin", "cookie"]) == actual
