"""Reading contact details a user typed: a phone number (Finnish or international)
or an e-mail address, normalised (E.164, lower-case domain)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

EMAIL_LIKE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


@dataclass(frozen=True)
class Contact:
    kind: str  # phone or email
    value: str


def read_contact(text: str) -> Contact | None:
    text = (text or "").strip()
    if not text or len(text) > 320:
        return None
    email = EMAIL_LIKE.search(text)
    if email:
        try:
            valid = validate_email(email.group(0).rstrip("."), check_deliverability=False)
        except EmailNotValidError:
            return None
        return Contact("email", valid.normalized)
    for match in phonenumbers.PhoneNumberMatcher(text, "FI", leniency=phonenumbers.Leniency.VALID):
        return Contact("phone", phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return None
