# ruff: noqa: S311 - seeded, reproducible simulated traffic, not security
"""Declared bots: clients that say what they are (search crawlers from their operators' published ranges, uptime
monitors, SEO crawlers, link-preview fetchers). Neither people nor attackers: the report shows how botwall treats them,
with no target attached."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from .browsers import Client, Localised
from .clients import Agent, Scene
from .network import IpSource


class CyclingIp(IpSource):
    """A crawler fleet: a handful of addresses from the operator's range, used in turn."""

    def __init__(self, ips: list[str]) -> None:
        self.ips = ips
        self.i = 0

    def next(self) -> tuple[str, bool]:
        ip = self.ips[self.i % len(self.ips)]
        self.i += 1
        return ip, len(self.ips) > 1 or self.i == 1


@dataclass
class DeclaredSpec:
    actor: str
    build: Client
    ips: list[str]
    start: float
    interval_s: float  # seconds between requests
    paths: list[str]
    seed: int
    secure: bool = True


async def run_declared(spec: DeclaredSpec, scene: Scene) -> None:
    rng = random.Random(spec.seed)
    agent = Agent(
        scene,
        actor=spec.actor,
        population="declared-bot",
        persona=spec.build.key,
        group=spec.build.family,
        build=Localised(spec.build, ""),
        ip=CyclingIp(spec.ips),
        secure=spec.secure,
        keep_cookies=False,
        follow_challenge=False,
        rng=rng,
    )
    i = 0
    try:
        while scene.in_window():
            target = spec.paths[i % len(spec.paths)]
            i += 1
            await agent.request("GET", target, "navigate", check=scene.truth.check("GET", target))
            await asyncio.sleep(spec.interval_s * rng.uniform(0.7, 1.3))
    finally:
        await agent.close()
