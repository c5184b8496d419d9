"""Access codes are stored as keyed hashes (HMAC-SHA256 under ACCESS_CODE_KEY); the PBKDF2 hashes of earlier
versions still open their cases (issue 10)."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from app import create_app
from app.config import ConfigurationError
from app.extensions import db
from cases import tracking
from tests.factories import make_appeal

CODE = "ABCDEFGHJK"


def _pbkdf2(code: str, rounds: int = 2_000) -> str:
    """The stored form the earlier versions wrote: pbkdf2_sha256$rounds$salt$hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), salt, rounds).hex()
    return f"pbkdf2_sha256${rounds}${salt.hex()}${digest}"


def test_a_new_hash_is_keyed_salted_and_verifies_only_its_code(app):
    first, second = tracking.hash_access_code(CODE), tracking.hash_access_code(CODE)
    assert first.startswith("hmac_sha256$") and CODE not in first
    assert first != second  # a salt each: equal codes do not give equal hashes
    assert tracking.verify_access_code(CODE, first) and tracking.verify_access_code("abcde-fghjk", second)
    assert not tracking.verify_access_code("ABCDEFGHJM", first)


def test_the_hash_depends_on_the_server_key(app):
    stored = tracking.hash_access_code(CODE)
    key = app.config["ACCESS_CODE_KEY"]
    try:
        app.config["ACCESS_CODE_KEY"] = "another key"
        assert not tracking.verify_access_code(CODE, stored)  # a stolen table is no use without the key
    finally:
        app.config["ACCESS_CODE_KEY"] = key
    assert tracking.verify_access_code(CODE, stored)


def test_an_earlier_versions_pbkdf2_hash_still_opens_its_case(app, client):
    appeal = make_appeal()
    appeal.access_code_hash = _pbkdf2(CODE)
    db.session.commit()
    assert tracking.find_case(appeal.case_no, CODE) is appeal
    assert tracking.find_case(appeal.case_no, "ABCDEFGHJM") is None
    resp = client.get(f"/api/v1/appeals/{appeal.case_no}", headers={"X-Access-Code": CODE})
    assert resp.status_code == 200 and resp.get_json()["case_no"] == appeal.case_no


def test_a_damaged_stored_hash_opens_nothing_and_raises_nothing(app):
    for stored in ("", "hmac_sha256$zz$00", "pbkdf2_sha256$x$00$00", "md5$1$2", "hmac_sha256$00", "$$$"):
        assert not tracking.verify_access_code(CODE, stored)


def test_the_key_is_made_once_per_instance_folder_or_taken_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ACCESS_CODE_KEY", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    first = create_app().config["ACCESS_CODE_KEY"]
    assert len(first) == 64 and (tmp_path / "access_code_key").read_text() == first
    assert create_app().config["ACCESS_CODE_KEY"] == first  # a restart keeps every issued code valid
    monkeypatch.setenv("ACCESS_CODE_KEY", "from the environment, the same on every node")
    assert create_app().config["ACCESS_CODE_KEY"] == "from the environment, the same on every node"


def test_production_refuses_to_start_without_the_shared_keys_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "the same on every node")
    monkeypatch.delenv("ACCESS_CODE_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ACCESS_CODE_KEY"):
        create_app({"APP_ENV": "production"})  # each node would make its own key in its instance folder
    monkeypatch.setenv("ACCESS_CODE_KEY", "also the same on every node")
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app({"APP_ENV": "production"})
    monkeypatch.setenv("SECRET_KEY", "the same on every node")
    assert create_app({"APP_ENV": "production"}).config["ACCESS_CODE_KEY"] == "also the same on every node"
    create_app({"APP_ENV": "development"})  # a single development machine keeps its keys in the instance folder
