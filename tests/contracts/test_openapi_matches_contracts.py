"""Each service's OpenAPI document answers what ``agora.contracts.<service>`` promises.

For every route whose 2xx answer is a contract model (see contract_routes.py for how a route is
mapped, and which routes have no contract and why), the schema the document publishes must be
compatible with the contract model's own JSON schema: every property of the contract is there,
with the same type (recursively: nested objects by the same rule, arrays by their items, unions
member by member, enums and formats equal), and required exactly where the contract requires it.
The document may add properties (a subclass of the contract): consumers ignore fields they do
not know (``extra="ignore"``). Descriptions, titles, examples and defaults are not compared.
"""

from __future__ import annotations

from typing import Any

import pytest

from agora.topology import SERVICE_NAMES
from tests.contracts.contract_routes import NO_CONTRACT, ContractRoute, all_contract_routes, classify, openapi_document

ROUTES = all_contract_routes()
#: The keywords that decide what a value is; the rest (titles, descriptions, defaults) is prose.
_TYPE_KEYS = ("type", "format", "enum", "const")


class _Schema:
    """A schema and the definitions its ``$ref``s point into."""

    def __init__(self, schema: dict[str, Any], definitions: dict[str, Any]) -> None:
        self.definitions = definitions
        self.schema = self._resolve(schema)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
        if len(schema.get("allOf", ())) == 1:  # pydantic wraps a described $ref in allOf
            return self._resolve(schema["allOf"][0])
        return schema

    def at(self, schema: dict[str, Any]) -> _Schema:
        return _Schema(schema, self.definitions)


def incompatibilities(document: _Schema, contract: _Schema, where: str = "$") -> list[str]:
    """How ``document`` fails to publish what ``contract`` promises (empty: compatible)."""
    doc, con = document.schema, contract.schema
    if "properties" in con or con.get("type") == "object":
        return _object_incompatibilities(document, contract, where)
    problems = [
        f"{where}: {key} {doc.get(key)!r} but the contract says {con.get(key)!r}"
        for key in _TYPE_KEYS
        if doc.get(key) != con.get(key)
    ]
    for union in ("anyOf", "oneOf"):
        if len(doc.get(union, ())) != len(con.get(union, ())):
            problems.append(f"{where}: {union} {doc.get(union)!r} but the contract says {con.get(union)!r}")
            continue
        for i, (d, c) in enumerate(zip(doc.get(union, ()), con.get(union, ()), strict=True)):
            problems += incompatibilities(document.at(d), contract.at(c), f"{where}|{i}")
    if "items" in con or "items" in doc:
        if "items" not in con or "items" not in doc:
            problems.append(f"{where}: items {doc.get('items')!r} but the contract says {con.get('items')!r}")
        else:
            problems += incompatibilities(document.at(doc["items"]), contract.at(con["items"]), f"{where}[]")
    return problems


def _object_incompatibilities(document: _Schema, contract: _Schema, where: str) -> list[str]:
    doc, con = document.schema, contract.schema
    if doc.get("type") != "object":
        return [f"{where}: type {doc.get('type')!r} but the contract says an object"]
    problems: list[str] = []
    doc_props, con_props = doc.get("properties", {}), con.get("properties", {})
    for name, con_prop in con_props.items():
        if name not in doc_props:
            problems.append(f"{where}.{name}: missing (the contract has it)")
            continue
        problems += incompatibilities(document.at(doc_props[name]), contract.at(con_prop), f"{where}.{name}")
    doc_required = set(doc.get("required", ())) & set(con_props)
    con_required = set(con.get("required", ()))
    if doc_required != con_required:
        problems.append(f"{where}: required {sorted(doc_required)} but the contract requires {sorted(con_required)}")
    if "additionalProperties" in con and doc.get("additionalProperties") != con["additionalProperties"]:
        extra = con["additionalProperties"]
        if isinstance(extra, dict) and isinstance(doc.get("additionalProperties"), dict):
            problems += incompatibilities(document.at(doc["additionalProperties"]), contract.at(extra), f"{where}{{}}")
        else:
            problems.append(f"{where}: additionalProperties differ from the contract's")
    return problems


def documented_schema(route: ContractRoute) -> _Schema:
    document = openapi_document(route.service)
    operation = document["paths"][route.path][route.method.lower()]
    schema = operation["responses"][route.status]["content"]["application/json"]["schema"]
    return _Schema(schema, document.get("components", {}).get("schemas", {}))


def contract_schema(route: ContractRoute) -> _Schema:
    schema = route.contract.model_json_schema(mode="serialization")
    return _Schema(schema, schema.get("$defs", {}))


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_the_documented_answer_is_compatible_with_the_contract(route: ContractRoute) -> None:
    problems = incompatibilities(documented_schema(route), contract_schema(route))
    assert not problems, f"{route.id} vs {route.contract.__module__}.{route.contract.__qualname__}:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_documented_answer_has_a_contract_or_a_reason(service: str) -> None:
    _, problems = classify(service)
    assert not problems, "\n".join(problems)


def test_the_list_of_routes_without_a_contract_names_real_routes() -> None:
    documented = {
        (service, method.upper(), path)
        for service in SERVICE_NAMES
        for path, item in openapi_document(service)["paths"].items()
        for method in item
    }
    assert not set(NO_CONTRACT) - documented, sorted(set(NO_CONTRACT) - documented)


def test_the_comparison_catches_a_drift() -> None:
    from pydantic import BaseModel

    class Promised(BaseModel):
        id: str
        count: int
        note: str | None = None

    class Drifted(BaseModel):
        id: str
        count: str  # the wrong type
        extra: int  # an added field is fine

    def schema(model: type[BaseModel]) -> _Schema:
        return _Schema(model.model_json_schema(mode="serialization"), {})

    assert incompatibilities(schema(Drifted), schema(Promised)) == [
        "$.count: type 'string' but the contract says 'integer'",
        "$.note: missing (the contract has it)",
    ]
