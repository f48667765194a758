"""Where clients come from: real address blocks of residential ISPs, carriers, an office's business line, clouds and
the published ranges of crawlers and monitors.

With ``--trusted-hops 1`` Envoy takes the client address from the ``X-Forwarded-For`` entry the harness sends (as a
CDN in front of Envoy would append it), so every simulated client gets its own address. Residential proxy networks
(what attackers rent) exit through real home connections, so attackers draw from the same residential blocks as
people; within one scenario no address is used by two actors, except the deliberately shared ones (an office NAT, a
carrier's CGNAT gateway).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

# (operator, country, block, weight). /16s inside each operator's allocation, checked against the public registry
# data (country) and a public hosting/VPN classification (none of them is hosting).
RESIDENTIAL: tuple[tuple[str, str, str, float], ...] = (
    ("Comcast", "US", "73.0.0.0/8", 6.0),
    ("Comcast", "US", "98.210.0.0/16", 1.0),
    ("AT&T", "US", "99.33.0.0/16", 2.0),
    ("Cox", "US", "68.100.0.0/16", 1.0),
    ("Verizon Fios", "US", "71.170.0.0/16", 1.5),
    ("Verizon Fios", "US", "108.20.0.0/16", 1.0),
    ("Charter Spectrum", "US", "174.100.0.0/16", 1.5),
    ("Charter Spectrum", "US", "97.80.0.0/16", 1.0),
    ("Deutsche Telekom", "DE", "79.200.0.0/16", 0.6),
    ("Deutsche Telekom", "DE", "84.150.0.0/16", 0.4),
    ("Deutsche Telekom", "DE", "93.200.0.0/16", 0.3),
    ("BT", "GB", "86.150.0.0/16", 0.6),
    ("Virgin Media", "GB", "86.10.0.0/16", 0.4),
    ("Orange", "FR", "90.12.0.0/16", 0.4),
    ("Orange", "FR", "2.5.0.0/16", 0.3),
)
# Carrier-grade NAT gateways of US mobile carriers: one public address for many phones.
CARRIER_CGNAT: tuple[tuple[str, str], ...] = (
    ("T-Mobile US", "172.56.0.0/16"),
    ("Verizon Wireless", "174.200.0.0/16"),
    ("AT&T Mobility", "166.170.0.0/16"),
)
# An office's business internet line (one NAT address for the whole floor).
BUSINESS: tuple[tuple[str, str], ...] = (("Comcast Business", "50.200.0.0/16"),)
CLOUD: tuple[tuple[str, str], ...] = (
    ("Amazon AWS", "3.80.0.0/12"),
    ("Amazon AWS", "54.144.0.0/12"),
    ("DigitalOcean", "159.203.0.0/16"),
    ("DigitalOcean", "167.99.0.0/16"),
    ("OVHcloud", "51.68.0.0/16"),
    ("Hetzner", "95.216.0.0/16"),
)
# Published ranges of the declared bots the wave scenario mixes in.
CRAWLER_RANGES: dict[str, tuple[str, ...]] = {
    "googlebot": ("66.249.64.0/27", "66.249.66.0/27", "66.249.79.0/27"),
    "bingbot": ("157.55.39.0/24", "40.77.167.0/24", "207.46.13.0/24"),
    "uptimerobot": ("69.162.124.224/28", "63.143.42.240/28", "216.144.250.144/28"),
    "pingdom": ("178.255.152.0/28", "185.180.12.64/28"),
    "datadog-synthetics": ("3.90.0.0/24",),
    "ahrefsbot": ("54.36.148.0/24", "54.36.149.0/24"),
    "semrushbot": ("185.191.171.0/24",),
    "facebookexternalhit": ("69.171.249.0/24", "173.252.83.0/24"),
    "slackbot": ("54.209.0.0/24",),
    "twitterbot": ("199.16.156.0/24",),
}


def _random_host(rng: random.Random, block: str) -> str:
    net = ipaddress.ip_network(block)
    # avoid network/broadcast-looking .0 and .255 hosts
    while True:
        addr = net.network_address + rng.randrange(1, net.num_addresses - 1)
        if str(addr).split(".")[-1] not in ("0", "255"):
            return str(addr)


@dataclass
class AddressBook:
    """Hands out addresses for one scenario, never the same one to two actors (unless asked to share)."""

    rng: random.Random
    used: set[str] = field(default_factory=set)

    def _fresh(self, block: str) -> str:
        for _ in range(1000):
            ip = _random_host(self.rng, block)
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise RuntimeError(f"address block {block} exhausted")

    def residential(self, country: str | None = None) -> str:
        rows = [r for r in RESIDENTIAL if country is None or r[1] == country]
        row = self.rng.choices(rows, weights=[r[3] for r in rows], k=1)[0]
        return self._fresh(row[2])

    def residential_pool(self, size: int) -> list[str]:
        """A rented residential proxy pool: exits spread over many ISPs and countries."""
        return [self.residential() for _ in range(size)]

    def cgnat(self) -> tuple[str, str]:
        carrier, block = self.rng.choice(CARRIER_CGNAT)
        return carrier, self._fresh(block)

    def office(self) -> tuple[str, str]:
        operator, block = self.rng.choice(BUSINESS)
        return operator, self._fresh(block)

    def cloud(self) -> tuple[str, str]:
        provider, block = self.rng.choice(CLOUD)
        return provider, self._fresh(block)

    def crawler(self, name: str) -> str:
        return self._fresh(self.rng.choice(CRAWLER_RANGES[name]))


class IpSource:
    """The address a client's next request leaves from."""

    def next(self) -> tuple[str, bool]:
        """(address, changed since the previous request)."""
        raise NotImplementedError


class StaticIp(IpSource):
    def __init__(self, ip: str) -> None:
        self.ip = ip
        self._first = True

    def next(self) -> tuple[str, bool]:
        changed, self._first = self._first, False
        return self.ip, changed


class RotatingIp(IpSource):
    """A residential proxy gateway: a new exit every ``every`` requests ("rotating" 1, "sticky" sessions more)."""

    def __init__(self, rng: random.Random, pool: list[str], every: int = 1) -> None:
        self.rng = rng
        self.pool = pool
        self.every = max(1, every)
        self._count = 0
        self._ip = ""

    def next(self) -> tuple[str, bool]:
        changed = self._count % self.every == 0
        if changed:
            self._ip = self.rng.choice(self.pool)
        self._count += 1
        return self._ip, changed

    def rotate(self) -> None:
        """Force a new exit on the next request (what a bot does after a block)."""
        self._count = 0
