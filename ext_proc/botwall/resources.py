"""Everything botwall loads from files, built once at start-up and passed to the engine: no module-level caches.

The user-agent pattern sets, the captured header profiles, the TLS fingerprint table, the IP tables (with the
operator's own files), the password filter (with HIBP data when configured) and the scorer (the shipped model, the
operator's model file, or the rules). Loading takes about a second and a few tens of MiB; a process loads them once,
before its health turns SERVING, and a bad file fails start-up with a clear error (ConfigError or ModelError).
"""

from __future__ import annotations

from dataclasses import dataclass

from botwall.config import Config
from botwall.evidence.credentials import LoginReader
from botwall.evidence.headers import HeaderAnalyzer
from botwall.evidence.infra import InfraSettings, IpIntel, load_ip_intel
from botwall.evidence.passwords import load_password_checker
from botwall.evidence.tls import TlsAnalyzer
from botwall.evidence.useragent import UserAgentAnalyzer
from botwall.scoring.model import scorer_for
from botwall.scoring.rules import RuleScorer, Scorer


@dataclass(frozen=True, slots=True)
class Resources:
    """The loaded data the pipeline reads, shared by every request (and by engines built on the same files)."""

    ua: UserAgentAnalyzer
    headers: HeaderAnalyzer
    tls: TlsAnalyzer
    ip_intel: IpIntel
    logins: LoginReader
    scorer: Scorer


def load_resources(config: Config, scorer: Scorer | None = None) -> Resources:
    """Load what `config` names; `scorer` replaces the one its `model` section asks for (tests, the simulator)."""
    return Resources(
        ua=UserAgentAnalyzer(),
        headers=HeaderAnalyzer(),
        tls=TlsAnalyzer(),
        ip_intel=load_ip_intel(config.ip_data or InfraSettings()),
        logins=LoginReader(load_password_checker(config.hibp_path or None)),
        scorer=scorer if scorer is not None else scorer_for(config.model, config.thresholds.suspect),
    )


def rules_only(resources: Resources) -> Resources:
    """The same data, scored with the transparent rule weighting."""
    return Resources(resources.ua, resources.headers, resources.tls, resources.ip_intel, resources.logins, RuleScorer())
