"""Held-out adversarial evaluation of botwall through real Envoy: people and attackers over real TLS and HTTP, one
fresh `botwall up` per scenario, figures from what the clients saw cross-checked against botwall's logs.

    .venv/bin/python -m heldout.run --seed 1 --scale 1 --out heldout/out/report-seed1.json
    .venv/bin/python -m heldout.run --scenario office-nat --scale 0.3

Prints a markdown table per scenario and writes the JSON report (figures, plan digests, and the per-request
records next to it unless --no-records).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `heldout` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "heldout"

from heldout import browsers
from heldout.analysis import load_access_log, load_decision_log, markdown, scenario_figures
from heldout.attackers import run_attacker
from heldout.clients import Endpoint, Recorder, Scene
from heldout.declared import run_declared
from heldout.people import run_person
from heldout.scenarios import PRODUCT_IDS, SCENARIOS, Plan, build_plan
from heldout.stack import Stack
from heldout.truth import ShopTruth

REPO = Path(__file__).resolve().parent.parent


async def play(plan: Plan, stack: Stack, pace: float) -> tuple[list[dict[str, Any]], list[str]]:
    truth = ShopTruth.fetch(stack.upstream_url)
    missing = sorted(set(PRODUCT_IDS) - {p["id"] for p in truth.products})
    if missing:
        raise RuntimeError(f"the shop's catalogue changed: products {missing} are gone")
    recorder = Recorder()
    t0 = time.time() + 0.3
    # People who arrive late in the window finish their visit; nobody starts a request after the hard stop.
    tail = min(150.0, 60.0 + plan.window_s) * pace
    scene = Scene(
        plan.name,
        Endpoint(stack.http_port, stack.https_port),
        truth,
        recorder,
        pace,
        t0,
        plan.window_s,
        t0 + plan.window_s + tail,
    )
    problems: list[str] = []

    async def later(start: float, label: str, coro: Any) -> None:
        await asyncio.sleep(max(0.0, t0 + start - time.time()))
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            problems.append(f"{label}: {traceback.format_exc(limit=3)}")

    tasks = [asyncio.create_task(later(p.start, p.actor, run_person(p, scene))) for p in plan.people]
    tasks += [asyncio.create_task(later(a.start, a.actor, run_attacker(a, scene))) for a in plan.attackers]
    tasks += [asyncio.create_task(later(d.start, d.actor, run_declared(d, scene))) for d in plan.declared]
    _done, pending = await asyncio.wait(tasks, timeout=max(1.0, scene.hard_stop - time.time() + 25.0))
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        problems.append(f"{len(pending)} actors still running at the hard stop were cancelled")
    return recorder.records, problems


def run_scenario(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    plan = build_plan(name, args.seed, args.scale)
    started = time.time()
    stack = Stack.start(workdir / name, plan.accounts)
    try:
        records, problems = asyncio.run(play(plan, stack, args.pace))
    finally:
        stack.stop()
    wall = time.time() - started
    time.sleep(0.2)
    access = load_access_log(stack.access_log)
    decisions, aggregates = load_decision_log(stack.decision_log)
    try:
        fig = scenario_figures(records, access, decisions, aggregates, browsers.POPULAR.key)
    except Exception:  # keep the records and say what broke rather than lose the run
        problems.append("figures: " + traceback.format_exc(limit=5))
        fig = {}
    meta = {
        "seed": args.seed,
        "scale": args.scale,
        "pace": args.pace,
        "window_s": plan.window_s,
        "digest": plan.digest(),
        "wall_s": wall,
        "popular_build": browsers.POPULAR.key,
        "people": len(plan.people),
        "attacker_personas": [a.persona for a in plan.attackers],
        "declared_bots": [d.build.key for d in plan.declared],
        "notes": plan.notes,
        "problems": problems,
        "workdir": str(workdir / name),
    }
    try:
        table = markdown(name, plan.title, fig, meta)
    except Exception:
        problems.append("markdown: " + traceback.format_exc(limit=5))
        table = f"### {plan.title}\n\n(figures failed: see the report's problems)\n"
    return {"meta": meta, "figures": fig, "markdown": table, "records": records}


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, like make
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Held-out adversarial evaluation of botwall through real Envoy.")
    parser.add_argument("--seed", type=int, default=1, help="seed of the traffic plan (default 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="window and crowd size multiplier (default 1)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[*SCENARIOS, "all"],
        help="scenario to run (repeatable; default all)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "heldout" / "out" / "report.json", help="JSON report")
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="multiplier on people's pauses (default 1: human; below 1 only for smoke tests, not for figures)",
    )
    parser.add_argument("--workdir", type=Path, help="where stacks keep their logs (default: a temporary directory)")
    parser.add_argument("--no-records", action="store_true", help="do not write the per-request records file")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if not args.scenario or "all" in args.scenario else list(dict.fromkeys(args.scenario))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="botwall-heldout-"))
    report: dict[str, Any] = {
        "harness": "heldout",
        "seed": args.seed,
        "scale": args.scale,
        "pace": args.pace,
        "botwall_commit": _git_commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenarios": {},
    }
    tables: list[str] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records_path = args.out.with_suffix(".records.jsonl")
    if not args.no_records:
        records_path.write_text("")
        report["records"] = str(records_path)
    print(f"# botwall held-out evaluation: seed {args.seed}, scale {args.scale}, pace {args.pace}\n", flush=True)
    for name in names:
        result = run_scenario(name, args, workdir)
        print(result["markdown"], flush=True)
        tables.append(result["markdown"])
        report["scenarios"][name] = {"meta": result["meta"], "figures": result["figures"]}
        report["markdown"] = "\n".join(tables)
        # written after every scenario, so a long run keeps what it measured
        args.out.write_text(json.dumps(report, indent=1, default=str))
        if not args.no_records:
            with records_path.open("a") as fh:
                for r in result["records"]:
                    r["scenario"] = name
                    fh.write(json.dumps(r, default=str) + "\n")
    print(f"report: {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
