"""Transaction tagging through real Envoy, the real botwall server and a real webhook receiver on a free loopback
port: a loan application reaches the upstream with its risk, reasons and campaign tags; people's applications are
not sent for review, a client applying for many applicants and a scripted client are, none of them is refused (no
policy says so), and no applicant's details appear in clear anywhere botwall writes or sends them."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from botwall.edge.console import SESSION_COOKIE, Sessions

from .conftest import BROWSER_HEADERS, BackgroundShop
from .test_admin import TOKEN, _get, _samples, admin_stack
from .test_alerts import Receiver

APPLY = "/_echo/loans/apply"  # the demo shop's echo: the response shows the headers the upstream received


def _tags(body: bytes) -> dict[str, str]:
    return {name: value for name, value in json.loads(body)["headers"] if name.startswith("x-botwall-")}


def test_applications_are_tagged_with_their_risk_and_the_risky_ones_reviewed(
    shop: BackgroundShop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(failures=0)
    monkeypatch.setenv("BOTWALL_ADMIN_TOKEN", TOKEN)
    config = (
        "transactions:\n"
        f"  - name: loan-application\n"
        f"    match: {{path: {{exact: {APPLY}}}, methods: [POST]}}\n"
        "    fields: [email, applicant.phone]\n"
        "    review_from: 40\n"
        "alerts:\n"
        f"  webhooks: [{{name: fraud, url: 'http://127.0.0.1:{receiver.server_port}/hook'}}]\n"
    )
    running = admin_stack(shop, tmp_path, config)
    stack, admin = running.stack, running.admin
    botwall = stack.botwall
    assert botwall is not None
    secrets = []

    def apply(headers: list[tuple[str, str]], email: str, phone: str) -> tuple[int, dict[str, str]]:
        secrets.extend([email, phone])
        body = json.dumps({"email": email, "applicant": {"phone": phone, "income": 52000}}).encode()
        sent = [*headers, ("content-type", "application/json")]
        answer = stack.request(APPLY, method="POST", headers=sent, body=body)
        return answer.status, _tags(answer.body) if answer.status == 200 else {}

    def browser(address: str) -> list[tuple[str, str]]:
        """A person's browser after its first page: it keeps botwall's cookie."""
        headers = [*BROWSER_HEADERS, ("x-forwarded-for", address)]
        page = stack.request("/", headers=headers)
        cookie = next(c for c in page.set_cookies if c.startswith("__bw=")).split(";", 1)[0]
        time.sleep(0.2)
        return [*headers, ("cookie", cookie)]

    try:
        people = [apply(browser(f"198.51.100.{n + 1}"), f"person{n}@mail.example", f"555-01{n:02d}") for n in range(3)]
        assert all(status == 200 for status, _ in people)
        for _, tags in people:
            assert tags["x-botwall-transaction"] == "loan-application"
            assert int(tags["x-botwall-risk"]) < 40
            assert not any(code.startswith("txn:") for code in tags["x-botwall-reasons"].split(","))

        # One browser applying for one applicant after another: let through, tagged, and reviewed from the third.
        mule = browser("203.0.113.77")
        many = [apply(mule, f"mule{n}@mail.example", f"555-09{n:02d}") for n in range(4)]
        assert [status for status, _ in many] == [200] * 4
        assert ["txn:client-many-applicants" in tags["x-botwall-reasons"] for _, tags in many] == [
            False, False, True, True,
        ]  # fmt: skip
        assert all(int(tags["x-botwall-risk"]) >= 50 for _, tags in many[2:])

        # A scripted client: no policy here refuses anything, so it passes, tagged with its risk and its campaign.
        script = [("user-agent", "python-requests/2.32.3"), ("accept", "*/*"), ("x-forwarded-for", "192.0.2.44")]
        status, tags = apply(script, "bot@mail.example", "555-0999")
        assert status == 200
        assert int(tags["x-botwall-risk"]) >= 70
        assert tags["x-botwall-campaign"] == tags["x-botwall-fingerprint"]

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(receiver.accepted) < 3:
            time.sleep(0.1)
        events = [json.loads(body) for _, body in receiver.accepted]
        assert [e["transaction"] for e in events] == ["loan-application"] * 3
        assert all(e["review"] and e["risk"] >= 40 for e in events)
        assert all(e["action"] == "allow" for e in events)
        assert [e["campaign"] for e in events][-1] == tags["x-botwall-campaign"]

        listed = json.loads(_get(admin, "/api/v1/transactions?review=true", TOKEN)[1])["transactions"]
        assert {e["id"] for e in listed} == {e["id"] for e in events}
        every = json.loads(_get(admin, "/api/v1/transactions?name=loan-application&limit=1000", TOKEN)[1])
        assert len(every["transactions"]) == 8
        # The dashboard's Accounts screen lists the same three for review.
        request = urllib.request.Request(f"http://127.0.0.1:{admin}/accounts")
        request.add_header("Cookie", f"{SESSION_COOKIE}={Sessions(TOKEN).mint()}")
        with urllib.request.urlopen(request, timeout=5) as response:
            screen = response.read().decode()
        table = screen[screen.index("<table class='grid' id='transactions'") :].split("</table>", 1)[0]
        assert table.count("<tr><td>") == 3
        samples = _samples(_get(admin, "/metrics", TOKEN)[1])
        reviewed = (("review", "true"), ("transaction", "loan-application"))
        assert samples[("botwall_transactions_total", reviewed)] == 3
        assert samples[("botwall_transactions_total", (("review", "false"), ("transaction", "loan-application")))] == 5
    finally:
        running.stop()
        receiver.shutdown()
    log = botwall.log_path.read_text(errors="replace") + (tmp_path / "access.log").read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len([line for line in lines if line.get("event") == "transaction"]) == 8
    written = log + screen + "".join(body.decode() for _, body in receiver.attempts)
    assert [] == [secret for secret in secrets if secret in written]
