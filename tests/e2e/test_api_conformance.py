"""Every service answers as its OpenAPI document says: schemathesis, all checks, three callers.

A real ``agora up`` (its own data directory, so what the fuzzing creates, changes or disables
stays there) serves the documents and the answers. For each service and each caller (anonymous,
a customer, an admin) schemathesis generates requests from the document (its examples, the
coverage of each constraint's edges, then random ones; valid and invalid) and runs every check:
no 5xx, only declared statuses and content types, bodies and headers that match their schemas,
valid requests accepted and invalid ones refused, 405 with the path's ``Allow``, auth not ignored.

Bounded: a few examples per operation and phase (``MAX_EXAMPLES``), no shrinking, two
unexpected methods per path; about 11,000 cases in all. Run it with ``pytest -m fuzz``: it is
left out of the default run (tests/conftest.py) until media is at 0 failures too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.engine.recorder import CheckFailureInfo, Interaction

from agora.platform.testing.processes import agora_up
from agora.topology import SERVICE_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

#: per operation and generation phase; enough to reach every declared constraint's edges
MAX_EXAMPLES = 5
#: a fixed seed: a failure found once is found again on the next run
SEED = 20261204
#: the web serves pages and forms, not an API: its document lists no operation
SERVICES = [name for name in SERVICE_NAMES if name != "web"]
ROLES = ("anonymous", "customer", "admin")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
CUSTOMER_EMAIL = "shopper@example.com"
CUSTOMER_PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Site:
    base_url: str
    tokens: dict[str, str]


def _login(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/api/identity/login", json={"email": email, "password": password})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("conformance-site")
    # the longest access-token lifetime identity allows: the run's tokens outlive it
    env = {"AGORA_IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "900"}
    with agora_up(directory, admin=(ADMIN_EMAIL, ADMIN_PASSWORD), env=env) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            registered = client.post(
                "/api/identity/register", json={"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD}
            )
            assert registered.status_code == 201, registered.text
            tokens = {
                "customer": _login(client, CUSTOMER_EMAIL, CUSTOMER_PASSWORD),
                "admin": _login(client, ADMIN_EMAIL, ADMIN_PASSWORD),
            }
        yield Site(base_url=base, tokens=tokens)


#: What schemathesis expects of a schema-valid request (its default for positive_data_acceptance).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
#: Schema-valid requests that an operation still refuses for a reason no JSON schema can state;
#: only these statuses, only on these operations, count as accepting valid data:
REFUSALS_NO_SCHEMA_STATES = {
    # relevance sorting needs a search query; min_price must not exceed max_price (across parameters)
    ("GET", "/api/catalog/products"): [422],
    # a product's category must exist (the catalog's state)
    ("POST", "/api/catalog/products"): [422],
    ("PATCH", "/api/catalog/products/{product_id}"): [422],
    # the card's Luhn checksum and its expiry (checked against today's date)
    ("POST", "/api/orders/checkout"): [422],
    # the product must exist and be for sale (the catalog's state), and a line must stay within
    # the configured per-line bound together with what the cart already holds
    ("POST", "/api/cart/items"): [422],
    ("PUT", "/api/cart/items/{product_id}"): [422],
    # the file's bytes must be a JPEG, PNG or WebP image (415), whole and within the purpose's
    # pixel limit (422): a schema can only say "binary"
    ("POST", "/api/media/images"): [415, 422],
}


#: Parameters whose valid values only the service's state defines: a made-up cursor is a 400 (a
#: cursor is valid only when this service signed it), a made-up If-Match a 412 (it must be the
#: resource's current ETag).
STATEFUL_PARAMETERS = {("query", "cursor"): 400, ("header", "if-match"): 412}


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-operation check settings: the refusals above, and those of stateful parameters."""
    extra: dict[tuple[str, str], set[int]] = {key: set(value) for key, value in REFUSALS_NO_SCHEMA_STATES.items()}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                status = STATEFUL_PARAMETERS.get((parameter["in"], parameter["name"].lower()))
                if status is not None:
                    extra.setdefault((method.upper(), path), set()).add(status)
    return [
        {
            # one filter naming both: an include-method and an include-path would be two filters
            # that each select (every POST, and every method on the path)
            "include-name": f"{method} {path}",
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED + sorted(statuses)}},
        }
        for (method, path), statuses in extra.items()
        if path in document["paths"]
    ]


def _config(headers: dict[str, str], document: dict[str, Any]) -> SchemathesisConfig:
    generation = {"max-examples": MAX_EXAMPLES, "no-shrink": True, "database": "none"}
    return SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "checks": {"enabled": True},
            "generation": generation,
            "seed": SEED,
            # a shared two-core machine can be slow to answer; a timeout would be an error here
            "request-timeout": 60,
            "operations": _operations(document),
            # OPTIONS (Allow must name the path's methods) and TRACE (405, with Allow) for the
            # methods a path does not take; every other unknown method routes the same way
            "phases": {"coverage": {"unexpected-methods": ["OPTIONS", "TRACE"]}},
            # nothing written into the working tree (.schemathesis/)
            "cache": {"enabled": False},
        }
    )


@dataclass
class Outcome:
    cases: int = 0
    failures: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _describe(info: CheckFailureInfo, interaction: Interaction | None, label: str) -> str:
    failure = info.failure
    answer = ""
    if interaction is not None and interaction.response is not None:
        answer = f"\n    answered {interaction.response.status_code}: {interaction.response.content[:300]!r}"
    heading = f"{failure.operation or label}: {failure.code} {failure.title}"
    return f"{heading}\n    {failure.message}\n    {info.code_sample}{answer}"


def run_schemathesis(url: str, headers: dict[str, str]) -> Outcome:
    """What ``st run URL --checks all`` does (every phase: examples, coverage, fuzzing, stateful),
    through its engine in this process, so a failure's details end up in the assertion."""
    outcome = Outcome()
    document = httpx.get(url, timeout=30).json()
    schema = schemathesis.openapi.from_url(url, config=_config(headers, document))
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                interaction = event.recorder.interactions.get(case_id)
                outcome.failures.update(
                    _describe(check.failure_info, interaction, event.recorder.label)
                    for check in checks
                    if check.failure_info is not None
                )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            outcome.errors.append(str(getattr(event, "value", None) or getattr(event, "exception", None)))
    return outcome


# every service as one caller, then as the next: the admin's changes (a disabled account) come last
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_document_says(site: Site, service: str, role: str) -> None:
    headers = {"Authorization": f"Bearer {site.tokens[role]}"} if role in site.tokens else {}
    outcome = run_schemathesis(f"{site.base_url}/api/{service}/openapi.json", headers)
    assert outcome.cases > 0
    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, f"{len(outcome.failures)} failures in {outcome.cases} cases:\n" + "\n".join(
        sorted(outcome.failures)
    )


def test_the_web_documents_no_pages_as_api(site: Site) -> None:
    document = httpx.get(f"{site.base_url}/api/web/openapi.json").json()
    assert document["paths"] == {}
