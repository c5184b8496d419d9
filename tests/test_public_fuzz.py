"""No input to a public form or endpoint gives a 500: generated text (emoji, rare CJK, control characters,
very long strings, injection strings) and wrong JSON types are fed to the portal and the API."""

from __future__ import annotations

import io
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import limiter
from tests.test_api_public import appeal_body, code_header, file_appeal
from tests.test_public_portal import check_answers, form_data, pass_the_check

NASTY = st.sampled_from(
    [
        "{{7*7}}",
        "{% raw %}x{% endraw %}",
        "${7*7}",
        "'; DROP TABLE appeal; --",
        "1 OR 1=1",
        "<script>alert(1)</script>",
        "𠀀𪚥😀👨‍👩‍👧",
        "\x00\x01\x1b[31m\u202e\ufeff",
        "0431-88888888",
        "2026-02-30",
        "../../etc/passwd",
        "",
        " ",
    ]
)
TEXT = st.one_of(
    NASTY,
    st.text(alphabet=st.sampled_from("\x00\x1b\u202e𠀀😀{}%'\"<>/\\-aZ09中"), max_size=24),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=6000),
)
JSON_VALUE = st.one_of(
    TEXT,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
FORM_FIELDS = list(form_data())
CHECK_FIELDS = list(check_answers())
ECHOED = {"complainant_name", "phone", "id_number", "address", "postcode", "email", "service_number", "request"}
SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@SETTINGS
@given(answers=st.dictionaries(st.sampled_from(CHECK_FIELDS), TEXT, max_size=len(CHECK_FIELDS)))
def test_the_eligibility_check_never_fails_with_a_server_error(client, answers):
    limiter.reset()
    resp = client.post("/appeal/check", data={**check_answers(), **answers})
    assert resp.status_code in (200, 302, 422)


@SETTINGS
@given(fields=st.dictionaries(st.sampled_from(FORM_FIELDS), TEXT, max_size=6))
def test_the_appeal_form_never_fails_with_a_server_error(client, fields):
    limiter.reset()
    pass_the_check(client)
    resp = client.post("/appeal/new", data={**form_data(), **fields})
    assert resp.status_code in (302, 422)
    typed_back = [v for k, v in fields.items() if k in ECHOED and v == "{{7*7}}"]
    if resp.status_code == 422 and typed_back:
        assert "{{7*7}}" in resp.get_data(as_text=True)  # kept as typed, never evaluated


@SETTINGS
@given(case_no=TEXT, code=TEXT, reason=TEXT)
def test_tracking_and_withdrawal_forms_never_fail_with_a_server_error(client, case_no, code, reason):
    limiter.reset()
    assert client.post("/track", data={"case_no": case_no, "access_code": code}).status_code in (302, 422)
    assert client.post("/track/withdraw", data={"reason": reason, "confirm": "yes"}).status_code == 302


@SETTINGS
@given(
    fields=st.dictionaries(st.sampled_from(FORM_FIELDS + ["eligibility"]), JSON_VALUE, max_size=6),
    eligibility=st.one_of(JSON_VALUE, st.dictionaries(st.sampled_from(list(appeal_body()["eligibility"])), JSON_VALUE)),
)
def test_filing_through_the_api_never_fails_with_a_server_error(client, fields, eligibility):
    limiter.reset()
    body = {**appeal_body(), **fields}
    if "eligibility" not in fields:
        body["eligibility"] = eligibility
    resp = client.post("/api/v1/appeals", json=body)
    # 413: a few thousand rare characters in each of six fields, escaped as JSON, pass API_JSON_MAX_BYTES
    assert resp.status_code in (201, 400, 413, 422) and resp.is_json


@SETTINGS
@given(
    case_no=TEXT,
    code=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    body=JSON_VALUE,
)
def test_case_endpoints_of_the_api_never_fail_with_a_server_error(client, case_no, code, body):
    limiter.reset()
    path = "/api/v1/appeals/" + quote(case_no or "x", safe="")
    # a case number that is no case is 404; one that breaks the URL (a slash, "..") is answered by routing
    assert client.get(path, headers=code_header(code)).status_code in (404, 405, 308)
    assert client.post(path + "/withdraw", headers=code_header(code), json=body).status_code in (404, 405, 308)


@SETTINGS
@given(reason=JSON_VALUE, name=TEXT, data=st.binary(max_size=300))
def test_withdrawal_and_uploads_with_a_valid_code_never_fail_with_a_server_error(client, reason, name, data):
    limiter.reset()
    receipt = file_appeal(client)
    base = f"/api/v1/appeals/{receipt['case_no']}"
    upload = client.post(
        base + "/materials",
        headers=code_header(receipt["access_code"]),
        data={"file": (io.BytesIO(data), name)},
    )
    assert upload.status_code in (201, 413, 415, 422)
    resp = client.post(base + "/withdraw", headers=code_header(receipt["access_code"]), json={"reason": reason})
    assert resp.status_code in (200, 422)


def test_nul_bytes_never_reach_the_database(client):
    """PostgreSQL refuses NUL in text: every place a typed value meets SQL cleans or checks it first."""
    assert client.get("/api/v1/appeals/JL2026%00-1", headers=code_header("x")).status_code == 404
    bad_operator = client.post("/api/v1/appeals", json=appeal_body(operator="cmcc_jl\x00"))
    assert bad_operator.status_code == 422 and "operator" in bad_operator.json["errors"]
    receipt = file_appeal(client, complainant_name="王\x00五", facts="事实\x00经过")
    withdrawn = client.post(
        f"/api/v1/appeals/{receipt['case_no']}/withdraw",
        headers=code_header(receipt["access_code"]),
        json={"reason": "不\x00需要了"},
    )
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    pass_the_check(client)
    form = client.post("/appeal/new", data={**form_data(), "operator": "cmcc\x00", "materials": "not a file"})
    assert form.status_code == 422
    assert client.post("/track", data={"case_no": "JL\x002026", "access_code": "\x00"}).status_code == 422
