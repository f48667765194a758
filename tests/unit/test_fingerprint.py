"""The behavioural fingerprint: stable across IPs, pages and browser builds; different across client software."""

from __future__ import annotations

from botwall.lab.testing import resources
from botwall.request import JA4_ATTRIBUTE, SOURCE_ADDRESS, build_view
from botwall.scoring.fingerprint import fingerprint

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.{}.0 Safari/537.36"


def _fp(
    ua: str,
    path: str = "/",
    ip: str = "192.0.2.1",
    extra: list[tuple[str, str]] | None = None,
    ja4: str = "t13d1516h2_8daaf6152771_02713d6af862",
    language: str = "en-GB,en;q=0.9",
) -> str:
    headers = [
        ("user-agent", ua),
        ("accept", "text/html"),
        ("accept-language", language),
        ("accept-encoding", "gzip, br"),
        *(extra or []),
    ]
    view = build_view([(":path", path), *headers], {SOURCE_ADDRESS: f"{ip}:1", JA4_ATTRIBUTE: ja4})
    return fingerprint(view, resources().ua.analyze(ua))


def test_stable_across_ip_path_cookie_and_build() -> None:
    """The same browser keeps its ID across IPs, pages, cookies, request ids and Chrome build numbers."""
    base = _fp(CHROME.format(6778))
    variants = {
        _fp(CHROME.format(6778), "/products/3", "203.0.113.9", [("cookie", "session=x"), ("x-request-id", "r1")]),
        _fp(CHROME.format(6999), "/account", "198.51.100.2", [("referer", "https://shop/")]),
    }
    assert {base} == variants


def test_differs_by_tls_language_and_tool() -> None:
    """Another TLS fingerprint, locale, or client library is another ID."""
    base = _fp(CHROME.format(6778))
    others = [
        _fp(CHROME.format(6778), ja4="t13d1517h2_8daaf6152771_b1ff8ab2d16f"),
        _fp(CHROME.format(6778), language="de-DE,de;q=0.9"),
        _fp("python-requests/2.32.3"),
        _fp("curl/8.5.0"),
    ]
    assert 5 == len({base, *others})


def test_random_header_names_do_not_mint_new_fingerprints() -> None:
    """A client adding a random header name per request keeps one ID; a standard header it sends still counts."""
    base = _fp(CHROME.format(6778))
    with_random_names = {_fp(CHROME.format(6778), extra=[(f"x-rnd-{i:04x}", "1")]) for i in range(20)}
    assert {base} == with_random_names
    assert base != _fp(CHROME.format(6778), extra=[("dnt", "1")])
