"""The API's declarations: every /api/v1 rule is in the generated document, and the body guard of every JSON
endpoint refuses deep, huge, non-object and non-JSON bodies with a clear 4xx (never a 500, never a hang)."""

from __future__ import annotations

import io
import re
import time

import pytest

from app.api import spec
from app.api.body import MAX_DEPTH, depth
from app.extensions import db
from cases import accounts
from tests.conftest import make_user
from tests.factories import make_appeal
from tests.test_api_public import code_header, file_appeal

PREFIX = "/api/v1"


def _operations(app):
    """(rule, openapi path, method, view) of every rule under /api/v1."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, path, method.lower(), app.view_functions[rule.endpoint]


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_rule_under_api_v1_is_in_the_document_with_its_request_and_response_schemas(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": PREFIX}]
    seen = 0
    for rule, path, method, view in _operations(app):
        seen += 1
        assert path in doc["paths"], f"{rule.rule} is not in the document"
        assert method in doc["paths"][path], f"{method.upper()} {rule.rule} is not in the document"
        operation = doc["paths"][path][method]
        declared = spec.api.get_function_metadata(view)
        assert declared is not None, f"{rule.endpoint} has no declaration"
        # the request: the declared body model is the document's request schema
        content = operation.get("requestBody", {}).get("content", {})
        if declared.json:
            assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{declared.json}"}
        if declared.form:
            assert content["multipart/form-data"]["schema"] == {"$ref": f"#/components/schemas/{declared.form}"}
        if not declared.json and not declared.form:
            assert not content, f"{rule.endpoint} documents a body it does not declare"
        if declared.query:
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            model = spec.api.models[declared.query]
            assert names == set(model["properties"])
        for arg in rule.arguments:
            assert any(p["in"] == "path" and p["name"] == arg for p in operation["parameters"])
        # the responses: a success with a schema, and every error with the error schema
        responses = operation["responses"]
        successes = [code for code in responses if code.startswith("2")]
        assert successes, f"{rule.endpoint} documents no success"
        for code, answer in responses.items():
            schema = answer["content"]["application/json"]["schema"]
            assert "$ref" in schema, f"{rule.endpoint} {code} has no declared model"
            if not code.startswith("2"):
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}
        assert "422" in responses
        if operation.get("security") == [{"bearer": []}]:
            assert {"401", "403"} <= set(responses), f"{rule.endpoint} does not document 401/403"
    assert seen >= 20
    for ref in set(_refs(doc)):
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], ref


def test_no_hand_written_schema_dictionary_remains_in_app_api():
    from pathlib import Path

    for source in Path("app/api").glob("*.py"):
        text = source.read_text()
        assert '"properties":' not in text and "openapi.PATHS" not in text, source


# --- the body guard -------------------------------------------------------------------------------------------


def _json_endpoints(app):
    """Every operation of the document that takes a JSON body, with a URL to call (path values filled in)."""
    out = []
    for rule, _path, method, view in _operations(app):
        declared = spec.api.get_function_metadata(view)
        if declared.json:
            url = rule.rule
            for arg in rule.arguments:
                url = url.replace(f"<{arg}>", "x").replace(f"<int:{arg}>", "1")
            url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "x", url)
            out.append((method, url))
    return out


def _bearer(role: str, operator_code: str | None = None) -> dict[str, str]:
    user = make_user(role, f"api-guard-{role}", operator_code)
    _, plain = accounts.create_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def supervisor(app) -> dict[str, str]:
    """A supervisor's bearer-token header."""
    return _bearer("supervisor")


@pytest.fixture
def send(client, supervisor):
    """Send a body as a caller allowed to use the endpoint: the consumer's with a real case and its code,
    the operator endpoints with an operator's token, the others with a supervisor's."""
    operator = _bearer("operator", "cmcc_jl")
    receipt = file_appeal(client)

    def call(method: str, url: str, **kwargs):
        if url.startswith("/api/v1/appeals/x/"):
            url = url.replace("/appeals/x/", f"/appeals/{receipt['case_no']}/")
            return client.open(url, method=method.upper(), headers=code_header(receipt["access_code"]), **kwargs)
        resp = client.open(url, method=method.upper(), headers=supervisor, **kwargs)
        if resp.status_code == 403:
            resp = client.open(url, method=method.upper(), headers=operator, **kwargs)
        return resp

    return call


def test_the_depth_scan_skips_strings_and_stops_early():
    assert depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert depth(b'{"a": "\\"[[[["}') == 1
    assert depth(b"[" * 100_000) == MAX_DEPTH + 1


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_deeply_nested_bodies_are_400_on_every_json_endpoint(app, send, levels):
    endpoints = _json_endpoints(app)
    assert len(endpoints) >= 5
    cap = app.config["API_JSON_MAX_BYTES"]
    deep = "[" * levels + "]" * levels
    nested_object = '{"a":' * levels + "1" + "}" * levels
    for method, url in endpoints:
        for raw in (deep, nested_object):
            started = time.monotonic()
            resp = send(method, url, data=raw, content_type="application/json")
            assert time.monotonic() - started < 5
            # refused for its depth; a body also over the size cap is refused for its size first
            assert resp.status_code == (400 if len(raw) <= cap else 413), (url, len(raw), resp.status_code)
            assert resp.get_json()["error"]


def test_a_body_just_inside_the_depth_limit_is_parsed(app, client):
    fine = '{"eligibility": ' + '{"a":' * (MAX_DEPTH - 2) + "1" + "}" * (MAX_DEPTH - 2) + "}"
    resp = client.post("/api/v1/appeals", data=fine, content_type="application/json")
    assert resp.status_code == 422  # parsed and checked, not refused for its depth


def test_non_json_and_non_object_bodies_are_400_on_every_json_endpoint(app, send):
    for method, url in _json_endpoints(app):
        for raw in ("not json", "[1, 2]", '"text"', "12", "{broken"):
            resp = send(method, url, data=raw, content_type="application/json")
            assert resp.status_code == 400, (url, raw, resp.status_code)
            assert resp.get_json()["error"]


def test_a_huge_body_is_413_however_it_is_sent(app, send):
    app.config["API_JSON_MAX_BYTES"] = 64 * 1024
    huge = b'{"facts": "' + b"x" * (1024 * 1024) + b'"}'
    for method, url in _json_endpoints(app):
        resp = send(method, url, data=huge, content_type="application/json")
        assert resp.status_code == 413, (url, resp.status_code)
        # chunked: no Content-Length, the cap holds while reading
        chunked = send(
            method,
            url,
            input_stream=io.BytesIO(huge),
            content_type="application/json",
            environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
        )
        assert chunked.status_code == 413, (url, chunked.status_code)


def test_a_nul_in_the_query_is_400_and_in_the_path_404(client, supervisor):
    make_appeal()
    assert client.get("/api/v1/cases?q=a%00b", headers=supervisor).status_code == 400
    assert client.get("/api/v1/contacts?operator=%00", headers=supervisor).status_code == 400
    assert client.get("/api/v1/cases/JL2026-%00", headers=supervisor).status_code == 404
    assert client.get("/api/v1/bulletin/2022H2%00").status_code == 404


def test_a_bad_query_value_is_422_in_chinese_and_in_english(client, supervisor):
    zh = client.get("/api/v1/cases?per_page=500&state=nope", headers=supervisor)
    assert zh.status_code == 422 and zh.get_json()["error"] == "请检查填写的内容。"
    assert set(zh.get_json()["errors"]) == {"per_page", "state"}
    assert zh.get_json()["errors"]["per_page"] == ["应为 1 到 100 之间的整数。"]


def test_a_bad_query_value_is_422_in_english_with_accept_language(client, supervisor):
    en = client.get("/api/v1/cases?per_page=500", headers={**supervisor, "Accept-Language": "en"})
    assert en.status_code == 422 and en.get_json()["errors"]["per_page"][0].startswith("Must be")


def test_contact_text_is_cleaned_before_it_is_stored(client, supervisor):
    """A lone surrogate and NUL never reach the database (they gave a 500 and were stored as typed)."""
    from cases.models import Contact

    resp = client.post(
        "/api/v1/contacts",
        json={"channel": "visit", "topic": "话费\ud800争议", "question": "为什么\x00多扣", "person_name": "李\u202e四"},
        headers=supervisor,
    )
    assert resp.status_code == 201, resp.get_json()
    stored = db.session.get(Contact, resp.get_json()["id"])
    assert (stored.topic, stored.notes) == ("话费争议", "为什么多扣")
    assert stored.person_name == "李四"
    too_long = client.post(
        "/api/v1/contacts", json={"channel": "visit", "topic": "话" * 201, "question": "q"}, headers=supervisor
    )
    assert too_long.status_code == 422 and too_long.get_json()["errors"]["topic"] == [
        "内容过长：最多200个字，现在是201个字。"
    ]


def test_a_405_names_the_allowed_methods(client):
    resp = client.delete("/api/v1/health")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]
    assert resp.get_json()["error"]
    assert "POST" in client.get("/api/v1/appeals").headers["Allow"]
