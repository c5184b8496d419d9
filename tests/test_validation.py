"""Every rule of the appeal form, checked once in `cases.validation`/`cases.intake` and used by web and API alike."""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata

import pytest

from cases import intake
from cases.validation import (
    BIDI_CONTROLS,
    DROPPED_CHARS,
    DROPPED_CHARS_MULTILINE,
    FieldError,
    check_email,
    check_id_number,
    check_phone,
    check_postcode,
    clean_text,
    id_check_char,
    parse_date,
)

TODAY = dt.date(2026, 11, 29)


def valid_fields(**overrides) -> dict:
    """A complete, valid appeal as the API would send it (without the eligibility answers)."""
    data = {
        "complainant_name": "张三",
        "phone": "13800138000",
        "id_number": "",
        "address": "吉林省长春市朝阳区人民大街1号",
        "postcode": "130000",
        "email": "",
        "operator": "cmcc_jl",
        "service_type": "mobile",
        "service_number": "13800138000",
        "category": "charging",
        "event_date": "2026-11-01",
        "operator_complaint_date": "2026-11-05",
        "operator_ticket_no": "GD20261105001",
        "request": "退还多扣的话费50元",
        "facts": "10月话费账单多扣50元，已向客服投诉，答复不予退还。",
        "pledge": True,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("phone", ["13800138000", "19912345678", "0431-88888888", "043188888888", "010-12345678"])
def test_mainland_mobile_and_fixed_line_numbers_are_accepted(app, phone):
    assert check_phone(phone) == phone


@pytest.mark.parametrize("phone", ["12800138000", "1380013800", "138001380001", "88888888", "0431-0888888", "abc"])
def test_other_phone_numbers_are_refused_with_a_clear_message(app, phone):
    with pytest.raises(FieldError) as exc:
        check_phone(phone)
    assert "手机号码" in exc.value.message


def test_a_resident_id_with_a_correct_gb11643_check_character_is_accepted(app):
    assert id_check_char("11010519491231002") == "X"
    assert check_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    "number,words",
    [("110105194912310021", "校验位"), ("11010519491331002X", "出生日期"), ("1101051949123100", "18位"), ("", "18位")],
)
def test_a_wrong_id_number_is_refused_naming_the_problem(app, number, words):
    with pytest.raises(FieldError) as exc:
        check_id_number(number)
    assert words in exc.value.message


def test_postcode_is_six_digits(app):
    assert check_postcode("130000") == "130000"
    for bad in ("13000", "1300000", "13000a"):
        with pytest.raises(FieldError):
            check_postcode(bad)


def test_email_is_checked_without_a_dns_lookup(app):
    assert check_email("someone@example.com") == "someone@example.com"
    with pytest.raises(FieldError):
        check_email("not-an-address")


def test_text_loses_control_characters_and_is_length_limited(app):
    assert clean_text("张\x00三\x1b ", max_length=10) == "张三"
    assert clean_text("第一行\r\n第二行", max_length=20, multiline=True) == "第一行\n第二行"
    with pytest.raises(FieldError) as exc:
        clean_text("字" * 1001, max_length=1000)
    assert "1000" in exc.value.message
    with pytest.raises(FieldError):
        clean_text(12345, max_length=10)


@pytest.mark.parametrize("multiline", [False, True])
def test_text_drops_exactly_the_control_characters_surrogates_and_direction_controls(multiline):
    """The character classes clean_text removes, against unicodedata, for every code point."""
    keep = "\n\t" if multiline else ""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    expected = "".join(
        ch for ch in every if ch in keep or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in BIDI_CONTROLS)
    )
    assert (DROPPED_CHARS_MULTILINE if multiline else DROPPED_CHARS).sub("", every) == expected
    assert clean_text("甲\u202e乙\ud800丙\x85丁\t", max_length=10, multiline=multiline) == "甲乙丙丁"


def test_dates_must_be_iso_dates(app):
    assert parse_date("2026-11-01") == dt.date(2026, 11, 1)
    for bad in ("2026-13-01", "01/11/2026", 20261101, "1900-01-01"):
        with pytest.raises(FieldError):
            parse_date(bad)


def test_a_valid_appeal_is_cleaned(app):
    cleaned = intake.clean_appeal(valid_fields(id_number="11010519491231002X", email="a@example.com"), TODAY)
    assert cleaned["operator"].code == "cmcc_jl"
    assert cleaned["event_date"] == dt.date(2026, 11, 1)
    assert cleaned["id_number"] == "11010519491231002X"


def errors_for(**overrides) -> dict:
    with pytest.raises(intake.IntakeErrors) as exc:
        intake.clean_appeal(valid_fields(**overrides), TODAY)
    return exc.value.errors


def test_required_fields_are_named_when_missing(app):
    errors = errors_for(
        complainant_name="", phone=" ", address="", postcode="", service_number="", request="", facts=""
    )
    assert set(errors) == {"complainant_name", "phone", "address", "postcode", "service_number", "request", "facts"}
    assert all(msgs == ["此项为必填项。"] for msgs in errors.values())


def test_choices_must_come_from_the_reference_lists(app):
    errors = errors_for(operator="nobody", service_type="satellite", category="weather")
    assert set(errors) == {"operator", "service_type", "category"}


def test_the_event_cannot_be_in_the_future(app):
    assert "event_date" in errors_for(event_date="2026-11-30", operator_complaint_date="2026-11-29")


def test_the_complaint_cannot_precede_the_event_or_be_in_the_future(app):
    assert "不能早于" in errors_for(operator_complaint_date="2026-10-31")["operator_complaint_date"][0]
    assert "operator_complaint_date" in errors_for(operator_complaint_date="2026-12-01")


def test_request_and_facts_have_length_limits(app):
    errors = errors_for(request="请" * 1001, facts="事" * 5001)
    assert set(errors) == {"request", "facts"}


def test_the_truthfulness_pledge_is_required(app):
    assert errors_for(pledge=False)["pledge"] == ["请阅读并勾选承诺。"]


def test_wrong_types_are_field_errors_not_crashes(app):
    errors = errors_for(
        complainant_name=["张三"], phone=13800138000, operator={"code": 1}, event_date=20261101, pledge="no"
    )
    assert {"complainant_name", "phone", "operator", "event_date", "pledge"} <= set(errors)
