"""The admin API's OpenAPI document, generated from the types its handlers build (`edge.api_types`): every route is in
it with a schema for each answer, the schemas come out of the types exactly, and a body that drifted from its type
(a key missing, one more, a wrong type) fails its schema."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal, NotRequired, TypedDict

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from botwall.config import Action, load_config
from botwall.edge.admin import ROUTES, AdminServer, config_view, openapi_document
from botwall.edge.api_types import SchemaSet
from tests.openapi_bodies import answer_validator, component_validator


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(TypedDict):
    """A nested object."""

    n: int


class Sample(TypedDict):
    flag: bool
    count: int
    ratio: float
    name: str
    nothing: None
    anything: Any
    colour: Colour
    state: Literal["on", "off"]
    maybe: str | None
    names: list[str]
    pair: tuple[str, int]
    many: tuple[int, ...]
    counts: dict[str, int]
    inner: Inner
    later: NotRequired[list[Inner]]


class Partial(TypedDict, total=False):
    a: int


def test_each_kind_of_type_has_its_json_schema() -> None:
    """Scalars, enums, literals, unions, lists, tuples, maps and nested TypedDicts (by $ref, once) become their JSON
    Schemas; NotRequired and total=False keys are left out of `required`; objects are closed."""
    schemas = SchemaSet()
    assert {"$ref": "#/components/schemas/Sample"} == schemas.of(Sample)
    assert {"$ref": "#/components/schemas/Partial"} == schemas.of(Partial)
    inner = {"$ref": "#/components/schemas/Inner"}
    expected = {
        "type": "object",
        "properties": {
            "flag": {"type": "boolean"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "name": {"type": "string"},
            "nothing": {"type": "null"},
            "anything": {},
            "colour": {"type": "string", "enum": ["red", "blue"]},
            "state": {"type": "string", "enum": ["on", "off"]},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "names": {"type": "array", "items": {"type": "string"}},
            "pair": {
                "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2,
                "maxItems": 2, "items": False,
            },
            "many": {"type": "array", "items": {"type": "integer"}},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "inner": inner,
            "later": {"type": "array", "items": inner},
        },
        "required": [
            "flag", "count", "ratio", "name", "nothing", "anything", "colour", "state", "maybe", "names", "pair",
            "many", "counts", "inner",
        ],
        "additionalProperties": False,
    }  # fmt: skip
    assert expected == schemas.schemas["Sample"]
    assert {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
        "description": "A nested object.",
    } == schemas.schemas["Inner"]
    assert {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False} == (
        schemas.schemas["Partial"]
    )


@pytest.mark.parametrize("tp", [set[int], dict[int, str], bytes, enum.IntEnum("Number", "ONE TWO")], ids=str)
def test_a_type_json_cannot_carry_is_refused(tp: object) -> None:
    """A type with no JSON form is a TypeError when the document is built, not a schema that says nothing."""
    with pytest.raises(TypeError, match="no JSON Schema"):
        SchemaSet().of(tp)


def test_two_types_of_one_name_are_refused() -> None:
    """Two different TypedDicts under one component name would make one $ref mean two shapes."""
    first = Inner

    class Inner2(TypedDict):
        m: str

    Inner2.__name__ = "Inner"
    schemas = SchemaSet()
    schemas.of(first)
    with pytest.raises(TypeError, match="two types named Inner"):
        schemas.of(Inner2)


def test_every_route_is_in_the_document_with_a_schema_for_each_answer() -> None:
    """Each route of the table is a path of the document whose handler exists, with a schema for its 200 (JSON
    routes: a declared type), its other answers and its 401; every schema is valid 2020-12 and every $ref resolves."""
    document = json.loads(json.dumps(openapi_document()))  # as served: JSON through and through
    assert "3.1.0" == document["openapi"]
    assert list(dict.fromkeys(route.path for route in ROUTES)) == list(document["paths"])
    components = document["components"]["schemas"]
    for route in ROUTES:
        assert callable(getattr(AdminServer, route.handler)), route.handler
        operation = document["paths"][route.path][route.method]
        if route.request is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body["$ref"].removeprefix("#/components/schemas/") in components, route.path
        responses = operation["responses"]
        expected = {"200", "401"} | {str(answer.status) for answer in route.answers}
        assert expected == set(responses), route.path
        for status, response in responses.items():
            for content, media in response["content"].items():
                schema = media["schema"]
                Draft202012Validator.check_schema(schema)
                if content == "application/json":
                    refs = [s["$ref"] for s in schema.get("oneOf", [schema])]
                    assert all(ref.removeprefix("#/components/schemas/") in components for ref in refs), (route, status)
    for name, schema in components.items():
        Draft202012Validator.check_schema(schema)
        for ref in _refs(schema):
            assert ref.removeprefix("#/components/schemas/") in components, (name, ref)


def test_alternative_bodies_are_documented() -> None:
    """`?format=csv` is another content type of the accounts; `?format=openapi` another shape of the endpoints."""
    document = openapi_document()
    accounts = document["paths"]["/api/v1/accounts"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} == set(accounts)
    assert {"type": "string"} == accounts["text/csv"]["schema"]
    endpoints = document["paths"]["/api/v1/endpoints"]["get"]["responses"]["200"]["content"]["application/json"]
    assert [{"$ref": "#/components/schemas/EndpointsResponse"}, {"$ref": "#/components/schemas/DiscoveredApi"}] == (
        endpoints["schema"]["oneOf"]
    )


def test_the_document_and_the_config_are_bodies_of_their_own_schemas() -> None:
    """The document validates against the schema it gives itself, and the default config's view against its own."""
    document = json.loads(json.dumps(openapi_document()))
    answer_validator(document, "/api/v1/openapi.json").validate(document)
    view = json.loads(json.dumps(config_view(load_config(None))))
    answer_validator(document, "/api/v1/config").validate(view)
    assert {"throttle"} <= {key for policy in view["policies"] for key in policy}  # the optional key is exercised


def test_action_enums_are_the_actions() -> None:
    """An action in a body is one of the config's actions (the schema's enum comes from the `Action` type)."""
    document = openapi_document()
    action = document["components"]["schemas"]["DecisionRow"]["properties"]["action"]
    assert [a.value for a in Action] == action["enum"]


def _valid_decisions() -> dict[str, Any]:
    row = {
        "time": 1_800_000_000.123, "client_ip": "203.0.113.9", "fingerprint": "0123456789abcdef", "username": "",
        "method": "GET", "path": "/api/products", "action": "block", "verdict": "bot", "score": 95,
        "reasons": ["ua:library"], "policy": "block-bots", "shadow": False,
    }  # fmt: skip
    return {"decisions": [row]}


def _drifted() -> list[tuple[str, dict[str, Any]]]:
    missing, extra, mistyped, unknown_action, top_level = (_valid_decisions() for _ in range(5))
    del missing["decisions"][0]["shadow"]
    extra["decisions"][0]["country"] = "NL"
    mistyped["decisions"][0]["score"] = "95"
    unknown_action["decisions"][0]["action"] = "ban"
    top_level["total"] = 1
    return [
        ("a key missing", missing),
        ("a key more", extra),
        ("a key of another type", mistyped),
        ("a value outside its enum", unknown_action),
        ("a key more at the top", top_level),
    ]


def test_a_matching_body_passes_its_schema() -> None:
    """The reference body of the drift cases below is itself valid, so each case fails for its one change."""
    validator = answer_validator(openapi_document(), "/api/v1/decisions")
    assert [error.message for error in validator.iter_errors(_valid_decisions())] == []


@pytest.mark.parametrize(("change", "body"), _drifted(), ids=[change for change, _ in _drifted()])
def test_a_drifted_body_fails_its_schema(change: str, body: dict[str, Any]) -> None:
    """A body whose shape drifted from its declared type is rejected (objects are closed: no key may be added)."""
    with pytest.raises(jsonschema.ValidationError):
        answer_validator(openapi_document(), "/api/v1/decisions").validate(body)


def test_error_and_readiness_bodies_match_their_answers() -> None:
    """A 400's body, a 401's and a draining /readyz's are what the document says they are."""
    document = openapi_document()
    answer_validator(document, "/api/v1/decisions", 400).validate({"error": "limit is a number from 1 to 1000"})
    answer_validator(document, "/api/v1/config", 401).validate(
        {"error": "unauthorized", "detail": "send Authorization: Bearer <the admin token>"}
    )
    answer_validator(document, "/readyz", 503).validate({"status": "draining"})
    with pytest.raises(jsonschema.ValidationError):
        answer_validator(document, "/readyz", 503).validate({"status": "gone"})
    component_validator(document, "Health").validate({"status": "ok"})


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["$ref"]] if "$ref" in schema else []
        return own + [ref for value in schema.values() for ref in _refs(value)]
    if isinstance(schema, list):
        return [ref for value in schema for ref in _refs(value)]
    return []
