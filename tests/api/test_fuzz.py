"""Property-based fuzzing of every documented operation (Schemathesis over the app's own OpenAPI
document) as a learner, a manager, an editor and an admin: never a 5xx, never a status the
document does not list, and every response in its documented type and schema.

`make test` runs a short pass (FUZZ_EXAMPLES, default 2 per operation and role); `make fuzz`
runs a longer one.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import auth_headers

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("role", ["learner", "manager", "editor", "admin"])
def test_every_operation_stays_within_its_contract(
    app, session, learner, manager, editor, admin, module, role
):
    person = {"learner": learner, "manager": manager, "editor": editor, "admin": admin}[role]
    # identity: the WSGI test transport hands Schemathesis the body as the app sent it.
    headers = {**auth_headers(session, person), "Accept-Encoding": "identity"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        # (pytest 9 and Schemathesis' own pytest plugin do not get along: Hypothesis directly.)
        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def within_contract(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            within_contract()
        except BaseExceptionGroup as failure:  # every operation's failures, reported together
            failures[operation.label] = str(failure)[:3000]
    assert operations > 50
    if failures:
        pytest.fail(
            f"{len(failures)} operation(s) broke their contract as {role}:\n\n"
            + "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())
        )
