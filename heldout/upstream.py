"""The upstream of a held-out run: botwall's demo shop, unchanged, plus the accounts of the simulated people and of
the sneaker bots' farm (a real shop has thousands of customers; the demo knows three). The extra accounts are checked
by the same constant-time comparison and are not listed on the login page.

``python -m heldout.upstream --accounts FILE`` prints ``upstream listening on http://127.0.0.1:PORT`` and serves
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import signal
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=Path, required=True, help="JSON object {username: password}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        from botwall.lab.demo import shop
    except ImportError as exc:  # the package may have moved the shop; say so plainly
        raise SystemExit(f"heldout.upstream: cannot import botwall's demo shop ({exc})") from exc

    extra: dict[str, str] = json.loads(args.accounts.read_text())
    demo_check = shop._check_credentials

    def check(username: str, password: str) -> bool:
        expected = extra.get(username)
        if expected is None:
            return demo_check(username, password)
        return hmac.compare_digest(password.encode(), expected.encode())

    shop._check_credentials = check  # the handlers look the function up at call time

    async def serve() -> None:
        runner, port = await shop.start_shop(args.host, args.port)
        print(f"upstream listening on http://{args.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
