"""Masking of personal data wherever the full value is not needed."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """138****5678 for a mobile number; the middle of any other number hidden."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 11 else min(3, len(digits) - 4)
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_id_number(id_number: str | None) -> str:
    """220102********1234: the region code and the last four shown."""
    if not id_number:
        return ""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_address(address: str | None) -> str:
    """The first six characters (province, city) kept, the rest hidden."""
    if not address:
        return ""
    head = address[:6]
    return head + ("****" if len(address) > 6 else "")


def mask_name(name: str | None) -> str:
    """张** : the family name only."""
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_email(email: str | None) -> str:
    """a***@example.com"""
    if not email or "@" not in email:
        return ""
    local, domain = email.split("@", 1)
    return local[:1] + "***@" + domain
