"""Hostile and unusual text is stored and shown back intact (escaped, never evaluated), or refused with a clear message.

The fuzz tests prove that no text gives a 500; these prove what happens to the text: the exact value in the
database, on the staff case page and through the staff API.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g
from markupsafe import escape

from app.extensions import db
from cases import accounts
from cases.models import Appeal
from tests.conftest import make_user
from tests.test_api_public import appeal_body, file_appeal

SAMPLES = {
    "emoji": "信号差😀👨‍👩‍👧，投诉三次🙏",
    "rare_cjk": "生僻字𠮷𪚥𬌗𰻞，扩展区的字",
    "mixed_scripts": "ئۇيغۇرچە 한국어 ᠮᠣᠩᠭᠣᠯ བོད་ཡིག Русский English 中文 ١٢٣",
    "template": "{{7*7}} {% if 1 %}x{% endif %} ${7*7} #{7*7} <%= 7*7 %>",
    "sql": "'; DROP TABLE appeal; -- 1 OR 1=1 \" UNION SELECT password FROM user_account",
    "html": '<script>alert(1)</script><img src=x onerror="alert(1)">&amp;',
    "multiline": "第一行\n\t第二行，缩进\n第三行",
}


@pytest.fixture
def staff_api(app):
    user = make_user("supervisor", "text-api")
    _, plain = accounts.create_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def _stored(case_no: str) -> Appeal:
    db.session.expire_all()
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_text_is_stored_and_shown_back_exactly_as_typed(client, auth, staff_api, kind):
    text = SAMPLES[kind]
    receipt = file_appeal(client, facts=text, request=text, address="吉林省长春市" + text[:40])
    appeal = _stored(receipt["case_no"])
    assert (appeal.facts, appeal.request) == (text, text)

    detail = client.get(f"/api/v1/cases/{appeal.case_no}", headers=staff_api).get_json()
    assert (detail["facts"], detail["request"]) == (text, text)

    auth.as_role("mediator")
    page = client.get(f"/staff/cases/{appeal.case_no}").get_data(as_text=True)
    assert str(escape(text)) in page  # escaped once, so the browser shows exactly what was typed
    if kind == "template":
        assert "49" not in page.split('class="text">', 1)[1].split("</dd>", 1)[0]  # never evaluated
    if kind == "html":
        assert "<script>alert(1)</script>" not in page and "onerror=" not in page.replace("onerror=&#34;", "")


def test_control_and_direction_override_characters_are_removed_and_the_rest_kept(client):
    receipt = file_appeal(client, facts="事实\x07经过\u202e反向\u2066隔离\u2069\x1b[31m完\u200d毕")
    stored = _stored(receipt["case_no"]).facts
    assert stored == "事实经过反向隔离[31m完\u200d毕"  # the joiner stays: emoji sequences need it


def test_the_longest_allowed_facts_are_kept_whole_and_one_more_character_is_refused_by_name(client):
    longest = "𠮷" * 4999 + "完"  # 5,000 characters, 4 bytes each in UTF-8
    receipt = file_appeal(client, facts=longest)
    assert _stored(receipt["case_no"]).facts == longest
    refused = client.post("/api/v1/appeals", json=appeal_body(facts=longest + "。"))
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["facts"] == ["内容过长：最多5000个字，现在是5001个字。"]
    g.pop("_flask_babel", None)  # the test's app context outlives requests: forget the locale Flask-Babel cached
    english = client.post("/api/v1/appeals?lang=en", json=appeal_body(facts=longest + "。"))
    assert "5000" in english.get_json()["errors"]["facts"][0] and "最多" not in english.get_json()["errors"]["facts"][0]
