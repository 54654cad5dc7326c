"""Every service answers as its OpenAPI document says: schemathesis, all checks, three callers.

A real ``agora up`` (its own data directory, so what the fuzzing creates, changes or disables
stays there) serves the documents and the answers. For each service and each caller (anonymous,
a customer, an admin) schemathesis generates requests from the document (its examples, the
coverage of each constraint's edges, then random ones; valid and invalid) and runs every check:
no 5xx, only declared statuses and content types, bodies and headers that match their schemas,
valid requests accepted and invalid ones refused, 405 with the path's ``Allow``, auth not ignored.

Two depths, with the same seed, so a failure found once is found again:

* the default run (``BRIEF``): every operation of every service as each caller, examples and
  the edges of each constraint, one random case per operation, no stateful phase, derandomized;
  126-137 s of CPU for the tests and the servers together in two runs (`/usr/bin/time`; the
  budget is three minutes of wall time on a quiet two-core machine);
* ``pytest -m fuzz`` (``DEEP``): a few random cases per operation and phase, the stateful phase
  (links between operations) too; 289 s of CPU, 18 min of wall time on the shared machine at load 30-60.
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

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Budget:
    """How deep one run goes: examples per operation and phase, and which phases run."""

    max_examples: int
    phases: tuple[str, ...]
    deterministic: bool


BRIEF = Budget(max_examples=1, phases=("examples", "coverage", "fuzzing"), deterministic=True)
DEEP = Budget(max_examples=5, phases=("examples", "coverage", "fuzzing", "stateful"), deterministic=False)
#: a fixed seed: a failure found once is found again on the next run
SEED = 20261204
#: the web serves pages and forms, not an API: its document lists no operation
SERVICES = [name for name in SERVICE_NAMES if name != "web"]
ROLES = ("anonymous", "customer", "admin")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
CUSTOMER_EMAIL = "shopper@example.com"
CUSTOMER_PASSWORD = "a long enough password"
PASSWORDS = {"customer": (CUSTOMER_EMAIL, CUSTOMER_PASSWORD), "admin": (ADMIN_EMAIL, ADMIN_PASSWORD)}
#: every run's requests come from loopback: the login throttle's per-address limits, at their
#: highest, must not turn the next run's sign-in into a 429 (the fuzzing tries many logins)
SITE_ENV = {
    "AGORA_IDENTITY_THROTTLE_ADDRESS_FAILURES": "100000",
    "AGORA_IDENTITY_THROTTLE_RESET_ADDRESS_REQUESTS": "100000",
}


def _login(base_url: str, role: str) -> dict[str, str]:
    """A new session's bearer header for ``role`` (none for anonymous). Each run signs in afresh:
    the run before may have logged its own session out, and tokens expire."""
    if role not in PASSWORDS:
        return {}
    email, password = PASSWORDS[role]
    response = httpx.post(f"{base_url}/api/identity/login", json={"email": email, "password": password}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("conformance-site")
    with agora_up(directory, admin=(ADMIN_EMAIL, ADMIN_PASSWORD), env=SITE_ENV) as base:
        registered = httpx.post(
            f"{base}/api/identity/register",
            json={"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        yield base


PHASES = ("examples", "coverage", "fuzzing", "stateful")
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
    # the token must be one identity emailed, unused and unexpired
    ("POST", "/api/identity/password-reset/confirm"): [400],
    # the card's Luhn checksum, its expiry (against today's date) and the CVC's length for its brand
    ("POST", "/api/payments/charges"): [422],
    # a rate's digits (at most 10 decimals, 20 in all) and, as a string, that it reads as a positive
    # decimal: JSON Schema counts no digits (multipleOf on binary floats misjudges 0.92)
    ("PUT", "/api/currency/rates/{code}"): [422],
    # an ad ends after it starts (across fields; with PATCH, across the ad's stored fields too)
    ("POST", "/api/ads"): [422],
    ("PATCH", "/api/ads/{ad_id}"): [422],
    # anomaly detection needs at least 20 orders in the period (the analytics store's state)
    ("POST", "/api/analytics/ml/analyze"): [422],
    # from must not be after to, and a period spans at most 366 days (across parameters, and
    # `to` defaults to today)
    ("GET", "/api/analytics/orders/summary"): [422],
}
#: Settings of single operations: the notification stream is an endless Server-Sent Events
#: stream, read up to its first event (``ready``) instead of until the request times out.
OPERATION_SETTINGS = [{"include-name": "GET /api/notifications/stream", "max-stream-events": 1}]


#: Parameters whose valid values only the service's state defines: a made-up cursor is refused (a
#: cursor is valid only when this service signed it: a 422 naming query.cursor from the chassis's
#: Cursors), a made-up If-Match a 412 (it must be the resource's current ETag).
STATEFUL_PARAMETERS = {("query", "cursor"): (422,), ("header", "if-match"): (412,)}


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-operation check settings: the refusals above, and those of stateful parameters."""
    extra: dict[tuple[str, str], set[int]] = {key: set(value) for key, value in REFUSALS_NO_SCHEMA_STATES.items()}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                statuses = STATEFUL_PARAMETERS.get((parameter["in"], parameter["name"].lower()))
                if statuses is not None:
                    extra.setdefault((method.upper(), path), set()).update(statuses)
    return OPERATION_SETTINGS + [
        {
            # one filter naming both: an include-method and an include-path would be two filters
            # that each select (every POST, and every method on the path)
            "include-name": f"{method} {path}",
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED + sorted(statuses)}},
        }
        for (method, path), statuses in extra.items()
        if path in document["paths"]
    ]


def _config(headers: dict[str, str], document: dict[str, Any], budget: Budget) -> SchemathesisConfig:
    generation = {
        "max-examples": budget.max_examples,
        "no-shrink": True,
        "database": "none",
        "deterministic": budget.deterministic,
    }
    phases: dict[str, Any] = {phase: {"enabled": phase in budget.phases} for phase in PHASES}
    # OPTIONS (Allow must name the path's methods) and TRACE (405, with Allow) for the methods a
    # path does not take; every other unknown method routes the same way
    phases["coverage"]["unexpected-methods"] = ["OPTIONS", "TRACE"]
    return SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "checks": {"enabled": True},
            "generation": generation,
            "seed": SEED,
            # a shared two-core machine can be slow to answer; a timeout would be an error here
            "request-timeout": 60,
            "operations": _operations(document),
            "phases": phases,
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


def run_schemathesis(url: str, headers: dict[str, str], budget: Budget) -> Outcome:
    """What ``st run URL --checks all`` does (every phase: examples, coverage, fuzzing, stateful),
    through its engine in this process, so a failure's details end up in the assertion."""
    outcome = Outcome()
    document = httpx.get(url, timeout=30).json()
    schema = schemathesis.openapi.from_url(url, config=_config(headers, document, budget))
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


def _check(site: str, service: str, role: str, budget: Budget) -> None:
    outcome = run_schemathesis(f"{site}/api/{service}/openapi.json", _login(site, role), budget)
    assert outcome.cases > 0
    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, f"{len(outcome.failures)} failures in {outcome.cases} cases:\n" + "\n".join(
        sorted(outcome.failures)
    )


# every service as one caller, then as the next: the admin's changes (a disabled account) come last
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_document_says(site: str, service: str, role: str) -> None:
    _check(site, service, role, BRIEF)


@pytest.mark.fuzz
@pytest.mark.timeout(900)  # the slowest deep run of one service took 4 min 11 s at load 30-60
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_document_says_deeply(site: str, service: str, role: str) -> None:
    _check(site, service, role, DEEP)


def test_the_web_documents_no_pages_as_api(site: str) -> None:
    document = httpx.get(f"{site}/api/web/openapi.json", timeout=30).json()
    assert document["paths"] == {}
