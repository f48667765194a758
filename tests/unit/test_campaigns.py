"""Campaigns (`edge.campaigns`): suspect and refused traffic grouped by client software and described by its tools,
networks, credentials and behaviour; people and verified crawlers are never a campaign; bounded."""

from __future__ import annotations

from botwall.clock import FakeClock
from botwall.config import Action
from botwall.edge.campaigns import Campaigns, Sighting
from botwall.policy import Decision

STUFFER = Decision(
    Action.BLOCK, True, False, "block-bots", 88, "bot", ("beh:failed-logins", "tls:known-tool"), "aaaa", own=88
)
SCRAPER = Decision(Action.CHALLENGE, True, False, "challenge-bots", 75, "bot", ("beh:no-assets",), "bbbb", own=75)
PERSON = Decision(Action.ALLOW, True, False, "", 4, "human", (), "cccc")
CRAWLER = Decision(Action.ALLOW, True, False, "", 0, "good-bot", (), "dddd")


def test_campaigns_describe_tools_networks_credentials_and_behaviour() -> None:
    clock = FakeClock(1_800_000_000.0)
    campaigns = Campaigns(clock=clock)
    for n in range(40):
        kind, asn, org = ("hosting", 16509, "AMAZON-02") if n % 2 else ("", 7922, "COMCAST")
        address, username = f"203.0.113.{n}", f"victim{n}@mail.example"
        tool = "python-requests/2.32"
        campaigns.record(Sighting(STUFFER, address, tool, asn, org, "US", kind, "/api/login", username, n % 4 == 0))
        clock.advance(3)
    for _ in range(10):
        campaigns.record(Sighting(SCRAPER, "198.51.100.7", "Mozilla/5.0", 0, "", "", "", "/products/{id}"))
    assert not Campaigns.counts(PERSON)
    assert not Campaigns.counts(CRAWLER)
    stuffer, scraper = campaigns.describe()
    assert (stuffer["id"], stuffer["requests"], scraper["requests"]) == ("aaaa", 40, 10)
    assert stuffer["tools"]["user_agents"] == [["python-requests/2.32", 40]]
    assert ["tls:known-tool", 40] in stuffer["tools"]["tells"]
    infra = stuffer["infrastructure"]
    assert infra["addresses"] == 40
    assert infra["network_kinds"] == {"hosting": 0.5}
    assert [row[0] for row in infra["networks"]] == ["AS16509 AMAZON-02", "AS7922 COMCAST"]
    assert stuffer["credentials"] == {"login_attempts": 40, "usernames": 40, "breached_share": 0.25}
    assert stuffer["behaviour"]["endpoints"] == [["/api/login", 40]]
    assert stuffer["actions"] == {"block": 40}
    assert stuffer["behaviour"]["active_minutes"] == 2
    assert scraper["infrastructure"]["addresses"] == 1


def test_campaigns_are_bounded() -> None:
    campaigns = Campaigns(max_campaigns=50)
    for n in range(500):
        decision = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("ua:automation-tool",), f"fp{n}")
        for m in range(3):
            campaigns.record(Sighting(decision, f"10.0.{n}.{m}", f"tool/{m * 1000 + n}", n, "", "", "", f"/p/{n}"))
    assert len(campaigns) == 50
    described = campaigns.describe()
    assert {c["id"] for c in described} == {f"fp{n}" for n in range(450, 500)}  # the most recently active
    big = Campaigns()
    decision = Decision(Action.BLOCK, True, False, "b", 90, "bot", (), "one")
    for n in range(2000):
        big.record(Sighting(decision, f"10.1.{n // 250}.{n % 250}", f"agent-{n}", n, f"org{n}", "", "", f"/e/{n}"))
    (row,) = big.describe()
    assert row["tools"]["user_agents"][0] == ["(other)", 1980]  # 20 kept, the rest counted together
    assert row["infrastructure"]["addresses"] == 2000


def test_fingerprints_that_present_one_cookie_are_one_campaign() -> None:
    """A tool rotating its header shape (a new fingerprint each time) keeps its cookie jar: one campaign, listing its
    fingerprints; another tool with its own cookie stays apart; forgetting the first fingerprint keeps the rest
    together."""
    clock = FakeClock(1_800_000_000.0)
    campaigns = Campaigns(max_campaigns=3, clock=clock)
    for n, fingerprint in enumerate(("f1", "f2", "f3")):
        decision = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("hdr:browser-order-mismatch",), fingerprint)
        for _ in range(2):
            campaigns.record(Sighting(decision, f"203.0.113.{n}", "Mozilla/5.0", 0, "", "", "", "/x", token="jar1"))
            clock.advance(1)
    other = Decision(Action.BLOCK, True, False, "b", 90, "bot", (), "g1")
    campaigns.record(Sighting(other, "198.51.100.1", "curl/8", 0, "", "", "", "/y", token="jar2"))  # evicts f1
    rows = {row["id"]: row for row in campaigns.describe()}
    assert set(rows) == {"f2", "g1"}
    assert rows["f2"]["fingerprints"] == ["f2", "f3"]
    assert rows["f2"]["requests"] == 4
    assert rows["f2"]["infrastructure"]["addresses"] == 2
    assert rows["g1"]["fingerprints"] == ["g1"]


def test_a_tool_rotating_user_agents_from_one_provider_is_one_campaign() -> None:
    """Refusals with the same tool tells from one cloud ASN on one endpoint link their fingerprints; the same from a
    residential network, or on another endpoint, stay apart (people share those networks)."""
    campaigns = Campaigns()
    for n, agent in enumerate(("python-requests/2.32", "Go-http-client/1.1", "curl/8.5")):
        refused = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("ua:automation-tool", "ip:hosting"), f"c{n}")
        for m in range(3):
            campaigns.record(Sighting(refused, f"159.89.1.{n * 3 + m}", agent, 14061, "DO", "US", "cloud", "/api/x"))
    home = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("ua:automation-tool",), "r1")
    campaigns.record(Sighting(home, "73.1.1.1", "curl/8.5", 7922, "COMCAST", "US", "", "/api/x"))
    home2 = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("ua:automation-tool",), "r2")
    campaigns.record(Sighting(home2, "73.1.1.2", "wget/1.21", 7922, "COMCAST", "US", "", "/api/x"))
    elsewhere = Decision(Action.BLOCK, True, False, "b", 90, "bot", ("ua:automation-tool", "ip:hosting"), "e1")
    campaigns.record(Sighting(elsewhere, "159.89.9.9", "curl/8.5", 14061, "DO", "US", "cloud", "/api/other"))
    described = {c["id"]: c for c in campaigns.describe()}
    assert described["c0"]["fingerprints"] == ["c0", "c1", "c2"]
    assert described["c0"]["requests"] == 9
    assert {"r1", "r2", "e1"} <= set(described)
