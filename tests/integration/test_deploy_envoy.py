"""Deploying botwall into Envoys it does not own: the existing-gateway snippet, `botwall envoy-config`, the Istio
EnvoyFilter and the Envoy Gateway policies. Envoy 1.40 checks every Envoy piece (`--mode validate`), JSON Schemas
derived from the CRDs check the Kubernetes objects, and one test runs a rendered bootstrap for real."""

from __future__ import annotations

import copy
import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from botwall.deploy.envoy_config import EnvoyConfigOptions, render_snippet
from botwall.deploy.messages import botwall_cluster, data
from botwall.lab.stack import find_envoy, start_botwall, start_envoy

from .conftest import BROWSER_FORM_HEADERS, BROWSER_HEADERS, BackgroundShop, embed, embed_snippet

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "envoy" / "snippets" / "existing-gateway.yaml"
ISTIO = ROOT / "envoy" / "istio" / "envoyfilter.yaml"
ENVOY_GATEWAY = ROOT / "envoy" / "envoy-gateway" / "extension-policy.yaml"
SCHEMAS = ROOT / "tests" / "schemas"
# The options the committed snippet documents (see its header).
SNIPPET_ARGS = [
    "--tls",
    "--health-route",
    "/healthz",
    "--login-route",
    "/login",
    "--botwall-address",
    "botwall.botwall.svc.cluster.local:9191",
]
ISTIO_CLUSTER = "outbound|9191||botwall.botwall.svc.cluster.local"
HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
CURL_HEADERS = [("user-agent", "curl/8.5.0"), ("accept", "*/*")]


# --- helpers -------------------------------------------------------------------------------------------------------


def _envoy_validate(
    config: dict[str, Any], tmp_path: Path, name: str = "config.yaml"
) -> subprocess.CompletedProcess[str]:
    target = tmp_path / name
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(target)], capture_output=True, text=True, timeout=60
    )


def _envoy_config_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "botwall", "envoy-config", *args], capture_output=True, text=True, timeout=60
    )


def _rendered(*args: str) -> dict[str, Any]:
    result = _envoy_config_cli(*args)
    assert 0 == result.returncode, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def _with_tls_files(config: dict[str, Any], tls_files: tuple[Path, Path]) -> dict[str, Any]:
    """Point a bootstrap's TLS certificate at the test certificate (the default paths do not exist here)."""
    config = copy.deepcopy(config)
    cert, key = tls_files
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            if "transport_socket" in chain:
                certificate = chain["transport_socket"]["typed_config"]["common_tls_context"]["tls_certificates"][0]
                certificate["certificate_chain"] = {"filename": str(cert)}
                certificate["private_key"] = {"filename": str(key)}
    return config


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _validator(schema_file: str) -> jsonschema.Draft202012Validator:
    resources = [
        (schema["$id"], Resource.from_contents(schema))
        for schema in (json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json")))
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / schema_file).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


SCHEMA_FOR_KIND = {
    "EnvoyFilter": "istio-envoyfilter.schema.json",
    "EnvoyExtensionPolicy": "eg-envoyextensionpolicy.schema.json",
    "ClientTrafficPolicy": "eg-clienttrafficpolicy.schema.json",
    "ReferenceGrant": "gwapi-referencegrant.schema.json",
}


def _schema_errors(document: dict[str, Any]) -> list[str]:
    validator = _validator(SCHEMA_FOR_KIND[document["kind"]])
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def _istio_pieces() -> dict[str, Any]:
    """The EnvoyFilter's patch values, grouped by what they patch, in patch order."""
    (envoy_filter,) = _documents(ISTIO)
    pieces: dict[str, Any] = {"http_filters": [], "listener_filter_merge": [], "routes": {}, "hcm_merge": []}
    for patch in envoy_filter["spec"]["configPatches"]:
        value = patch["patch"]["value"]
        if patch["applyTo"] == "NETWORK_FILTER":
            pieces["hcm_merge"].append(value)
        elif patch["applyTo"] == "HTTP_FILTER":
            pieces["http_filters"].append(value)
        elif patch["applyTo"] == "LISTENER_FILTER":
            pieces["listener_filter_merge"].append(value)
        elif patch["applyTo"] == "HTTP_ROUTE":
            pieces["routes"][patch["match"]["routeConfiguration"]["vhost"]["route"]["name"]] = value
    return pieces


def _request(
    port: int,
    path: str,
    headers: list[tuple[str, str]],
    method: str = "GET",
    body: bytes | None = None,
    cookies: list[str] | None = None,
) -> tuple[int, bytes]:
    """Status and body; the response's cookies ("name=value") are appended to `cookies` when given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        if cookies is not None:
            cookies += [v.split(";", 1)[0] for k, v in response.getheaders() if k.lower() == "set-cookie"]
        return response.status, response.read()
    finally:
        conn.close()


# --- the existing-gateway snippet ----------------------------------------------------------------------------------


def test_committed_snippet_is_what_the_command_prints() -> None:
    """envoy/snippets/existing-gateway.yaml ends with exactly what `botwall envoy-config` prints for its options."""
    result = _envoy_config_cli("--form", "snippet", *SNIPPET_ARGS)
    assert (0, True) == (result.returncode, SNIPPET.read_text().endswith(result.stdout)), result.stderr


def test_committed_snippet_validates_inside_a_minimal_bootstrap(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """Pasted where its comments say, the snippet is accepted by Envoy 1.40."""
    config = embed_snippet(yaml.safe_load(SNIPPET.read_text()), tls_files)
    result = _envoy_validate(config, tmp_path)
    assert 0 == result.returncode, result.stdout + result.stderr


def test_embedding_catches_a_misspelt_snippet_field(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """The embedding check can fail: a misspelt ext_proc field is refused by Envoy."""
    snippet = yaml.safe_load(SNIPPET.read_text())
    ext_proc = next(f for f in snippet["http_filters"] if f["name"] == "envoy.filters.http.ext_proc")
    ext_proc["typed_config"]["failure_mode_alow"] = ext_proc["typed_config"].pop("failure_mode_allow")
    assert 0 != _envoy_validate(embed_snippet(snippet, tls_files), tmp_path).returncode


# --- botwall envoy-config ------------------------------------------------------------------------------------------

SNIPPET_VARIANTS = {
    "defaults": [],
    "fail-closed-1s": ["--failure-mode", "closed", "--message-timeout", "1s"],
    "routes": ["--login-route", "/login", "--login-route", "/api/login", "--health-route", "/healthz"],
    "tls": ["--tls"],
    "dns-botwall": ["--botwall-address", "botwall.botwall.svc.cluster.local:9191", "--message-timeout", "0.5s"],
    "workers": ["--botwall-workers", "4"],
    "everything": [*SNIPPET_ARGS, "--failure-mode", "closed", "--message-timeout", "100ms"],
}


@pytest.mark.parametrize("args", SNIPPET_VARIANTS.values(), ids=SNIPPET_VARIANTS.keys())
def test_rendered_snippets_validate(args: list[str], tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """Every snippet the command renders is accepted by Envoy 1.40 inside a minimal bootstrap."""
    config = embed_snippet(_rendered("--form", "snippet", *args), tls_files)
    result = _envoy_validate(config, tmp_path)
    assert 0 == result.returncode, result.stdout + result.stderr


BOOTSTRAP_VARIANTS = {
    "defaults": [],
    "fail-closed-routes": ["--failure-mode", "closed", "--login-route", "/login", "--health-route", "/healthz"],
    "tls": ["--tls", "--login-route", "/login"],
    "dns-upstream-hops": ["--upstream", "shop.default.svc.cluster.local:80", "--trusted-hops", "2"],
    "dns-workers": ["--botwall-address", "botwall.botwall.svc.cluster.local:9191", "--botwall-workers", "2"],
    "everything": [*SNIPPET_ARGS, "--failure-mode", "closed", "--message-timeout", "0.5s", "--listen", "0.0.0.0:80"],
}


@pytest.mark.parametrize("args", BOOTSTRAP_VARIANTS.values(), ids=BOOTSTRAP_VARIANTS.keys())
def test_rendered_bootstraps_validate(args: list[str], tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """Every standalone bootstrap the command renders is accepted by Envoy 1.40 (TLS files pointed at a test cert)."""
    config = _with_tls_files(_rendered("--form", "bootstrap", *args), tls_files)
    result = _envoy_validate(config, tmp_path)
    assert 0 == result.returncode, result.stdout + result.stderr


def test_failure_mode_and_timeout_reach_the_filter() -> None:
    """--failure-mode closed and --message-timeout land on the ext_proc filter, false written out."""
    snippet = _rendered("--failure-mode", "closed", "--message-timeout", "1.5s")
    (ext_proc,) = snippet["http_filters"]
    assert (False, "1.5s") == (
        ext_proc["typed_config"]["failure_mode_allow"],
        ext_proc["typed_config"]["message_timeout"],
    )


def test_each_worker_is_an_endpoint_of_the_cluster() -> None:
    """--botwall-workers N lists botwall's host at N consecutive ports, so Envoy spreads streams over the workers of
    `botwall serve --workers N`; the snippet's header names the flag, to render it again."""
    text = _envoy_config_cli("--botwall-address", "10.0.0.7:9300", "--botwall-workers", "3").stdout
    (cluster,) = yaml.safe_load(text)["clusters"]
    (locality,) = cluster["load_assignment"]["endpoints"]
    addresses = [e["endpoint"]["address"]["socket_address"] for e in locality["lb_endpoints"]]
    assert [("10.0.0.7", 9300), ("10.0.0.7", 9301), ("10.0.0.7", 9302)] == [
        (a["address"], a["port_value"]) for a in addresses
    ]
    assert "--botwall-workers 3" in text.splitlines()[3]


def test_login_override_spells_out_all_six_modes() -> None:
    """A login route's override names all six processing modes, the body BUFFERED and NONE written out."""
    (entry,) = _rendered("--login-route", "/login")["per_route"]
    mode = entry["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["overrides"]["processing_mode"]
    expected = {
        "request_header_mode": "SEND",
        "response_header_mode": "SEND",
        "request_body_mode": "BUFFERED",
        "response_body_mode": "NONE",
        "request_trailer_mode": "SKIP",
        "response_trailer_mode": "SKIP",
    }
    assert expected == mode


def test_bootstrap_routes_login_and_health_paths_before_the_catch_all() -> None:
    """In the bootstrap, health and login paths get their own routes, ahead of `/`, with their per-route config."""
    config = _rendered("--form", "bootstrap", "--health-route", "/healthz", "--login-route", "/login")
    (listener,) = config["static_resources"]["listeners"]
    routes = listener["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    summary = [(r["match"], "typed_per_filter_config" in r) for r in routes]
    assert [
        ({"path": "/envoy/healthz"}, True),
        ({"path": "/healthz"}, True),
        ({"path": "/login"}, True),
        ({"prefix": "/"}, False),
    ] == summary


BAD_OPTIONS = {
    "timeout-word": (["--message-timeout", "fast"], "--message-timeout expects a duration"),
    "timeout-zero": (["--message-timeout", "0ms"], "more than 0"),
    "relative-route": (["--login-route", "login"], "--login-route expects an absolute path"),
    "both-kinds": (["--login-route", "/x", "--health-route", "/x"], "/x cannot be both"),
    "bad-address": (["--botwall-address", "botwall"], "--botwall-address expects HOST:PORT"),
    "no-workers": (["--botwall-workers", "0"], "--botwall-workers: expected 1 to 256 processes"),
    "workers-past-65535": (["--botwall-address", "h:65535", "--botwall-workers", "2"], "runs past port 65535"),
    "negative-hops": (["--form", "bootstrap", "--trusted-hops", "-1"], "--trusted-hops expects 0 or more"),
}


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_options_exit_2_with_the_reason(args: list[str], message: str) -> None:
    """A bad option exits 2, prints nothing on stdout, and names the option and what was expected on stderr."""
    result = _envoy_config_cli(*args)
    assert (2, "", True) == (result.returncode, result.stdout, message in result.stderr), result.stderr


# --- Istio ---------------------------------------------------------------------------------------------------------


def test_istio_envoyfilter_matches_the_crd_schema() -> None:
    """The EnvoyFilter passes the schema derived from Istio's EnvoyFilter CRD."""
    (envoy_filter,) = _documents(ISTIO)
    assert [] == _schema_errors(envoy_filter)


ISTIO_BREAKAGES = {
    "misspelt-applyTo": lambda d: d["spec"]["configPatches"][0].update(
        applyto=d["spec"]["configPatches"][0].pop("applyTo")
    ),
    "misspelt-workloadSelector": lambda d: d["spec"].update(workloadselector=d["spec"].pop("workloadSelector")),
    "unknown-context": lambda d: d["spec"]["configPatches"][0]["match"].update(context="INGRESS"),
    "unknown-operation": lambda d: d["spec"]["configPatches"][0]["patch"].update(operation="INSERT"),
}


@pytest.mark.parametrize("breakage", ISTIO_BREAKAGES.values(), ids=ISTIO_BREAKAGES.keys())
def test_istio_schema_rejects_a_broken_envoyfilter(breakage: Any) -> None:
    """The schema check can fail: a misspelt field or an unknown enum value is reported."""
    (envoy_filter,) = _documents(ISTIO)
    breakage(envoy_filter)
    assert [] != _schema_errors(envoy_filter)


def test_istio_patches_carry_the_pieces_botwall_renders() -> None:
    """The EnvoyFilter inserts the filters and per-route configs `botwall envoy-config` renders (cluster name aside),
    and turns on the same path normalisation on the gateway's connection managers."""
    pieces = _istio_pieces()
    rendered = render_snippet(EnvoyConfigOptions(tls=True, health_routes=("/healthz",), login_routes=("/login",)))
    for filter_ in rendered["http_filters"]:
        if filter_["name"] == "envoy.filters.http.ext_proc":
            filter_["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] = ISTIO_CLUSTER
    expected_routes = {
        name: {"typed_per_filter_config": entry["typed_per_filter_config"]}
        for name, entry in zip(("healthz", "login"), rendered["per_route"], strict=True)
    }
    expected_inspector = [{"typed_config": rendered["listener_filters"][0]["typed_config"]}]
    paths = {k: v for k, v in rendered["http_connection_manager"].items() if k in ("normalize_path", "merge_slashes")}
    expected_hcm = [{"typed_config": {"@type": HCM, **paths}}]
    assert (rendered["http_filters"], expected_routes, expected_inspector, expected_hcm) == (
        pieces["http_filters"],
        pieces["routes"],
        pieces["listener_filter_merge"],
        pieces["hcm_merge"],
    )


def test_istio_patch_values_validate_in_envoy(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    """Each patch value, applied the way Istio applies it, is accepted by Envoy 1.40."""
    pieces = _istio_pieces()
    inspector = {"name": "envoy.filters.listener.tls_inspector", "typed_config": {}}
    for merge in pieces["listener_filter_merge"]:
        inspector["typed_config"].update(merge["typed_config"])
    cluster = data(botwall_cluster("botwall.botwall.svc.cluster.local", 9191, name=ISTIO_CLUSTER))
    hcm_settings: dict[str, Any] = {}
    for merge in pieces["hcm_merge"]:
        hcm_settings.update({k: v for k, v in merge["typed_config"].items() if k != "@type"})
    config = embed(
        http_filters=pieces["http_filters"],
        clusters=[cluster],
        per_route=[{"match": {"path": f"/{name}"}, **value} for name, value in pieces["routes"].items()],
        listener_filters=[inspector],
        tls_files=tls_files,
        hcm_settings=hcm_settings,
    )
    result = _envoy_validate(config, tmp_path)
    assert 0 == result.returncode, result.stdout + result.stderr


# --- Envoy Gateway -------------------------------------------------------------------------------------------------

EG_DOCUMENTS = _documents(ENVOY_GATEWAY)


@pytest.mark.parametrize("document", EG_DOCUMENTS, ids=[f"{d['kind']}-{d['metadata']['name']}" for d in EG_DOCUMENTS])
def test_envoy_gateway_objects_match_their_schemas(document: dict[str, Any]) -> None:
    """Each Envoy Gateway (and Gateway API) object passes the schema derived from its API fields."""
    assert [] == _schema_errors(document)


def test_envoy_gateway_file_holds_the_expected_objects() -> None:
    """The file carries the grant, the gateway-wide policy, the login policy and the TLS fingerprint policy."""
    kinds = [(d["kind"], d["metadata"]["name"]) for d in EG_DOCUMENTS]
    expected = [
        ("ReferenceGrant", "botwall-from-default"),
        ("EnvoyExtensionPolicy", "botwall"),
        ("EnvoyExtensionPolicy", "botwall-login"),
        ("ClientTrafficPolicy", "botwall-tls-fingerprints"),
    ]
    assert expected == kinds


def _eg(kind: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in EG_DOCUMENTS if (d["kind"], d["metadata"]["name"]) == (kind, name)))


def _break_ext_proc_field(doc: dict[str, Any]) -> None:
    ext_proc = doc["spec"]["extProc"][0]
    ext_proc["failopen"] = ext_proc.pop("failOpen")


EG_BREAKAGES = {
    "extproc-misspelt-failOpen": (("EnvoyExtensionPolicy", "botwall"), _break_ext_proc_field),
    "extproc-lowercase-body": (
        ("EnvoyExtensionPolicy", "botwall-login"),
        lambda d: d["spec"]["extProc"][0]["processingMode"]["request"].update(body="buffered"),
    ),
    "extproc-filter-state-attribute": (
        ("EnvoyExtensionPolicy", "botwall"),
        lambda d: d["spec"]["extProc"][0]["processingMode"]["request"]["attributes"].append(
            "filter_state['botwall.ja4']"
        ),
    ),
    "extproc-timeout-without-unit": (
        ("EnvoyExtensionPolicy", "botwall"),
        lambda d: d["spec"]["extProc"][0].update(messageTimeout="250"),
    ),
    "ctp-misspelt-fingerprints": (
        ("ClientTrafficPolicy", "botwall-tls-fingerprints"),
        lambda d: d["spec"]["tls"].update(fingerprint=d["spec"]["tls"].pop("fingerprints")),
    ),
    "ctp-misspelt-merge-slashes": (
        ("ClientTrafficPolicy", "botwall-tls-fingerprints"),
        lambda d: d["spec"]["path"].update(disableMergeSlash=d["spec"]["path"].pop("disableMergeSlashes")),
    ),
    "ctp-unknown-fingerprint": (
        ("ClientTrafficPolicy", "botwall-tls-fingerprints"),
        lambda d: d["spec"]["tls"].update(fingerprints=["JA5"]),
    ),
    "grant-misspelt-from": (
        ("ReferenceGrant", "botwall-from-default"),
        lambda d: d["spec"].update(form=d["spec"].pop("from")),
    ),
}


@pytest.mark.parametrize(("target", "breakage"), EG_BREAKAGES.values(), ids=EG_BREAKAGES.keys())
def test_envoy_gateway_schemas_reject_broken_objects(target: tuple[str, str], breakage: Any) -> None:
    """The schema check can fail: a misspelt field, a wrong enum case, a filter-state attribute Envoy Gateway does not
    allow, or a duration without a unit is reported."""
    document = _eg(*target)
    breakage(document)
    assert [] != _schema_errors(document)


# --- end to end ----------------------------------------------------------------------------------------------------


@pytest.fixture
def rendered_gateway(shop: BackgroundShop, tmp_path: Path) -> Iterator[int]:
    """botwall on an ephemeral port, and Envoy on the bootstrap `botwall envoy-config` renders for it: its port."""
    botwall = start_botwall(tmp_path / "botwall")
    envoy = None
    try:
        config = _rendered(
            "--form",
            "bootstrap",
            "--botwall-address",
            f"127.0.0.1:{botwall.port}",
            "--upstream",
            f"127.0.0.1:{shop.port}",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--health-route",
            "/healthz",
            "--login-route",
            "/login",
        )
        envoy = start_envoy(config, tmp_path / "envoy")
        yield envoy.ports["http"]
    finally:
        if envoy is not None:
            envoy.stop()
            print(f"--- envoy log ---\n{envoy.logs()}")
        botwall.stop()
        print(f"--- botwall log ---\n{botwall.logs()}")


def test_rendered_bootstrap_blocks_curl_and_lets_a_browser_through(rendered_gateway: int, shop: BackgroundShop) -> None:
    """Through the rendered bootstrap, a curl user-agent gets 403, a browser reaches the shop, a health check skips
    botwall, and a login form's buffered body arrives intact."""
    port = rendered_gateway
    blocked, _ = _request(port, "/", CURL_HEADERS)
    jar: list[str] = []
    allowed, _ = _request(port, "/", BROWSER_HEADERS, cookies=jar)
    health, _ = _request(port, "/healthz", CURL_HEADERS)
    assert ["__bw"] == [c.split("=", 1)[0] for c in jar]  # botwall's cookie, which the browser sends back
    login, _ = _request(
        port,
        "/login",
        [*BROWSER_FORM_HEADERS, ("cookie", "; ".join(jar))],
        method="POST",
        body=b"username=alice&password=wonderland-42",
    )
    assert (403, 200, 200, 303) == (blocked, allowed, health, login)
    assert ("POST", "/login") == (shop.requests[-1]["method"], shop.requests[-1]["path"])
