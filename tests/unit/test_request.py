"""RequestView construction from Envoy's headers and attributes."""

from __future__ import annotations

import pytest

from botwall.request import JA4_ATTRIBUTE, SOURCE_ADDRESS, build_view, strip_port


@pytest.mark.parametrize(
    ("address", "ip"),
    [
        ("203.0.113.5:443", "203.0.113.5"),
        ("[2001:db8::1]:8443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("203.0.113.5", "203.0.113.5"),
        ("", ""),
    ],
)
def test_strip_port(address: str, ip: str) -> None:
    """The client IP is source.address without its port or IPv6 brackets."""
    assert ip == strip_port(address)


def test_view_splits_pseudo_headers_and_keeps_order() -> None:
    """Pseudo-headers become fields; other headers keep arrival order, duplicates included."""
    view = build_view(
        [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "shop.example"),
            (":path", "/login?next=/account"),
            ("user-agent", "UA"),
            ("accept", "a"),
            ("accept", "b"),
        ],
        {SOURCE_ADDRESS: "198.51.100.1:5555", JA4_ATTRIBUTE: "t13d1516h2_8daaf6152771_02713d6af862"},
    )
    assert ("POST", "https", "shop.example") == (view.method, view.scheme, view.authority)
    assert ("/login", "next=/account") == (view.path, view.query)
    assert (("user-agent", "UA"), ("accept", "a"), ("accept", "b")) == view.headers
    assert "a" == view.header("accept")
    assert "198.51.100.1" == view.client_ip
    assert "t13d1516h2_8daaf6152771_02713d6af862" == view.ja4


def test_plain_http_fingerprint_placeholder_is_empty() -> None:
    """Envoy's '-' for a missing TLS fingerprint becomes an empty string."""
    view = build_view([(":path", "/")], {JA4_ATTRIBUTE: "-"})
    assert "" == view.ja4


def test_fingerprint_header_only_when_configured() -> None:
    """A JA4 header is ignored unless the config names it as gateway-set; the attribute always wins."""
    headers = [(":path", "/"), ("x-botwall-ja4", "t13d1516h2_aaaaaaaaaaaa_bbbbbbbbbbbb")]
    assert "" == build_view(headers, {}).ja4
    assert "t13d1516h2_aaaaaaaaaaaa_bbbbbbbbbbbb" == build_view(headers, {}, ja4_header="x-botwall-ja4").ja4
    from_attribute = build_view(headers, {JA4_ATTRIBUTE: "t13d0000h2_cccccccccccc_dddddddddddd"}, "x-botwall-ja4")
    assert "t13d0000h2_cccccccccccc_dddddddddddd" == from_attribute.ja4


@pytest.mark.parametrize(
    ("sent", "normalised"),
    [
        ("/api/login", "/api/login"),
        ("/api/%6cogin", "/api/login"),
        ("/api/%6Cog%69n", "/api/login"),
        ("/a/../api/login", "/api/login"),
        ("//api//login", "/api/login"),
        ("/api/./login/", "/api/login/"),
        ("/%2e%2e/api/login", "/api/login"),
        ("/../../api/login", "/api/login"),
        ("/api%2Flogin", "/api/login"),
        ("/a/%2f/b", "/a/b"),
        ("/a/%3f", "/a/%3F"),
        ("/a/%7e%41", "/a/~A"),
        ("/a/b/..", "/a/"),
        ("/%zz", "/%zz"),
        ("*", "*"),
    ],
)
def test_paths_are_normalised_for_matching(sent: str, normalised: str) -> None:
    """The path botwall matches on is the one Envoy's normalize_path and merge_slashes make, and the upstream serves."""
    view = build_view([(":path", sent + "?q=%6c")], {})
    assert (normalised, "q=%6c") == (view.path, view.query)
    assert (sent if sent != normalised else "") == view.raw_path


def test_values_over_their_bound_are_cut_and_named() -> None:
    """An overlong user-agent, cookie, path or a flood of headers is cut to its bound and named in `oversized`."""
    from botwall.request import MAX_COOKIE, MAX_HEADERS, MAX_PATH, MAX_USER_AGENT

    headers = [
        (":path", "/" + "p" * MAX_PATH + "?" + "q" * (MAX_PATH + 1)),
        ("user-agent", "u" * 60_000),
        ("cookie", "c" * MAX_COOKIE),
        *((f"x-{i}", "v") for i in range(MAX_HEADERS + 10)),
    ]
    view = build_view(headers, {})
    assert (MAX_USER_AGENT, MAX_COOKIE, MAX_PATH, MAX_PATH) == (
        len(view.header("user-agent")),
        len(view.header("cookie")),
        len(view.path),
        len(view.query),
    )
    assert MAX_HEADERS == len(view.headers)
    assert ("user-agent", "headers", ":path", ":query") == view.oversized
    assert () == build_view([(":path", "/"), ("user-agent", "u" * MAX_USER_AGENT)], {}).oversized
