"""A "too many attempts" answer says how long to wait, on the page, in the API's error and in Retry-After."""

from __future__ import annotations

import re

from flask import g

from app.errors import wait_text
from tests.test_public_portal import open_case


def test_the_tracking_page_says_how_long_to_wait_after_too_many_wrong_codes(client):
    for _ in range(10):
        assert open_case(client, "JL2026-000001", "WRONGCODE2").status_code == 422
    blocked = open_case(client, "JL2026-000001", "WRONGCODE2")
    assert blocked.status_code == 429
    wait = int(blocked.headers["Retry-After"])
    assert 1 <= wait <= 60  # the per-minute budget is the one spent
    html = blocked.get_data(as_text=True)
    assert re.search(r"操作过于频繁。请在 \d+ 秒后再试。", html)


def test_the_wait_is_said_in_english_and_in_the_apis_error(client):
    for _ in range(10):
        client.get("/api/v1/appeals/JL2026-000001", headers={"X-Access-Code": "WRONGCODE2"})
    g.pop("_flask_babel", None)
    blocked = client.get("/api/v1/appeals/JL2026-000001?lang=en", headers={"X-Access-Code": "WRONGCODE2"})
    g.pop("_flask_babel", None)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert re.search(r"Please try again in \d+ sec", blocked.json["error"])


def test_long_waits_are_in_minutes(app):
    with app.test_request_context():
        assert wait_text(45) == "45 秒" and wait_text(91) == "2 分钟" and wait_text(3600) == "60 分钟"
