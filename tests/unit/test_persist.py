"""What the admin API shows survives a restart (`edge.persist`): discovery, accounts and campaigns saved to SQLite in
batches and restored as they were; old rows expire; a damaged file or an unusable directory is a clear error."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from botwall.clock import FakeClock
from botwall.config import Action
from botwall.edge.accounts import Accounts, Attempt
from botwall.edge.campaigns import Campaigns, Sighting
from botwall.edge.inventory import Inventory
from botwall.edge.persist import Persister, StateDb, StateDirError
from botwall.policy import Decision

BOT = Decision(Action.BLOCK, True, False, "block-bots", 90, "bot", ("beh:failed-logins",), "fpbot", own=90)
PERSON = Decision(Action.ALLOW, True, False, "", 3, "human", (), "fpperson")


def _registries(clock: FakeClock) -> tuple[Inventory, Accounts, Campaigns]:
    return Inventory(clock=clock), Accounts(clock=clock), Campaigns(clock=clock)


def _persister(directory: Path, registries: tuple[Inventory, Accounts, Campaigns], clock: FakeClock) -> Persister:
    inventory, accounts, campaigns = registries
    tables = {"endpoints": (inventory, 2000), "accounts": (accounts, 50_000), "campaigns": (campaigns, 500)}
    return Persister(StateDb(directory), tables, retention_days=1, clock=clock)  # type: ignore[arg-type]


def _traffic(registries: tuple[Inventory, Accounts, Campaigns]) -> None:
    inventory, accounts, campaigns = registries
    for n in range(12):
        endpoint = inventory.record("shop.example", "GET", f"/products/{n}", "q=1", "page", PERSON)
        inventory.status(endpoint, 200)
    inventory.record("shop.example", "POST", "/api/login", "", "api", BOT)
    for n in range(5):
        accounts.attempt(Attempt(f"victim{n}@mail.example", "refused", f"203.0.113.{n}", 16509, "fpbot", BOT))
        campaigns.record(Sighting(BOT, f"203.0.113.{n}", "python-requests/2.32", 16509, "AMAZON-02", "US",
                                  "hosting", "/api/login", f"victim{n}@mail.example"))  # fmt: skip


def test_a_restart_gets_back_what_was_saved(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    before = _registries(clock)
    _traffic(before)

    async def run() -> tuple[Inventory, Accounts, Campaigns]:
        saving = _persister(tmp_path, before, clock)
        saving.start()
        await saving.stop()  # the last batch, as on SIGTERM
        after = _registries(clock)
        restored = _persister(tmp_path, after, clock).restore()
        assert restored == {"endpoints": 2, "accounts": 5, "campaigns": 1}
        return after

    after = asyncio.run(run())
    assert after[0].snapshot() == before[0].snapshot()
    assert after[1].rows() == before[1].rows()
    assert after[2].describe() == before[2].describe()
    # Counting goes on from where it was: a sixth address for the campaign is the sixth, not the first.
    after[2].record(Sighting(BOT, "203.0.113.99", "python-requests/2.32", 16509, "AMAZON-02", "US", "hosting", "/x"))
    assert after[2].describe()[0]["infrastructure"]["addresses"] == 6
    after[1].attempt(Attempt("victim0@mail.example", "refused", "203.0.113.0", 16509, "fpbot", BOT))
    assert next(r for r in after[1].rows() if r["username"] == "victim0@mail.example")["addresses"] == 1


def test_only_what_changed_is_written_and_old_rows_expire(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    registries = _registries(clock)
    _traffic(registries)

    async def run() -> tuple[int, int, int]:
        persister = _persister(tmp_path, registries, clock)
        await persister.save()
        first = persister.saved
        await persister.save()  # nothing changed
        second = persister.saved - first
        clock.advance(2 * 86400)  # past the one-day retention
        registries[0].record("shop.example", "GET", "/fresh", "", "page", PERSON)
        await persister.save()
        persister.db.close()
        return first, second, len(StateDb(tmp_path).load("endpoints", 100))

    first, second, left = asyncio.run(run())
    assert first == 2 + 5 + 1
    assert second == 0
    assert left == 1  # only /fresh: the rest were last seen two days ago


def test_a_damaged_file_or_an_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "botwall-0.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateDirError, match=r"--state-dir: cannot use .*botwall-0.db: .*moved away"):
        StateDb(tmp_path)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(StateDirError, match="not writable"):
            StateDb(locked)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(StateDirError, match="--state-dir"):
        StateDb(blocked / "sub")
