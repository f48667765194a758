"""Reason codes of the infrastructure pillar."""

from __future__ import annotations

from botwall.evidence.infra._intel import SPOOFED, VERIFIED, IpInfo

_NETWORK_REASONS = {
    "hosting": "ip:hosting",
    "cloud": "ip:hosting",
    "vpn": "ip:vpn",
    "tor": "ip:tor",
    "proxy": "ip:proxy",
}


def ip_reasons(ip: IpInfo, crawler: str) -> list[str]:
    """Reason codes of the infrastructure pillar."""
    out = []
    if crawler == SPOOFED:
        out.append("ip:fake-crawler")
    elif crawler == VERIFIED:
        out.append("ip:verified-crawler")
    network = _NETWORK_REASONS.get(ip.network)
    if network is not None:
        out.append(network)
    if ip.reputation == "bad":
        out.append("ip:bad-reputation")
    elif ip.reputation == "allow":
        out.append("ip:allowlisted")
    return out
