"""Schemathesis over the whole OpenAPI document (a bounded run): no generated request gives a server error,
and every answer matches the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from app import readiness
from app.extensions import db
from cases import accounts
from tests.conftest import make_user


@pytest.fixture
def supervisor_token(app) -> str:
    user = make_user("supervisor", "fuzz_supervisor")
    _, plain = accounts.create_token(user, "fuzz")
    db.session.commit()
    return plain


def test_no_generated_request_breaks_the_api(app, supervisor_token, migrated):
    migrated(readiness.revisions(app)[0])  # GET /ready answers 200, as on a migrated database
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case):
            headers = dict(case.headers or {})
            headers.setdefault("Authorization", f"Bearer {supervisor_token}")
            case.headers = headers
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        exercise()
