"""动态口令: time-based one-time passwords (TOTP, RFC 6238) as a login's second factor.

The code an authenticator app shows (腾讯身份验证器, Google Authenticator, Microsoft
Authenticator, FreeOTP … any that reads an ``otpauth://`` QR code): HMAC-SHA1 of the 30-second
step since the epoch, six digits.  Nothing leaves the server: no SMS gateway, no network.  A
code is taken for the step before and after the server's own (a phone's clock a little off),
and each step once (:func:`verify` refuses a step not after the last one used: a code seen over
a shoulder cannot be used again).  The shared secret is stored encrypted
(:class:`gis.pii.PiiCipher`, bound to the account).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
import unicodedata
from urllib.parse import quote

#: seconds a code stands for, and its digits (what every authenticator app assumes)
STEP_S = 30
DIGITS = 6
#: steps either side of the server's own that are still taken (±30 s of clock drift)
DRIFT_STEPS = 1
#: the issuer an authenticator app lists the account under
ISSUER = "网格 wangge"


def new_secret() -> str:
    """A new shared secret: 160 random bits, base32 (as an app's manual entry takes it)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def code_at(secret: str, step: int) -> str:
    """The code of ``step`` (RFC 4226's HOTP of the step count)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def step_of(at: float | None = None) -> int:
    """The 30-second step of ``at`` (seconds since the epoch; now by default)."""
    return int((time.time() if at is None else at) // STEP_S)


def verify(secret: str, code: str, last_step: int | None = None, at: float | None = None) -> int:
    """The step ``code`` is the code of, near ``at`` and after ``last_step``; 0 if none is.
    Spaces and a dash in the middle (``123 456``) are allowed, and full-width digits (a Chinese
    input method's ２８７０８２) are digits; anything but six digits fails."""
    code = unicodedata.normalize("NFKC", code).replace(" ", "").replace("-", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return 0
    now = step_of(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(
            code_at(secret, step), code
        ):
            return step
    return 0


def otpauth_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from a QR code."""
    label = quote(f"{ISSUER}:{username}", safe="")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"
    )


# ---------- 备用验证码: one-time recovery codes for when the phone is not at hand

#: how many recovery codes a set has, and the digits of each (shown as 1234-5678-9012)
RECOVERY_COUNT = 10
RECOVERY_DIGITS = 12


def new_recovery_codes() -> list[str]:
    """A new set of recovery codes, each good for one login instead of the app's code.  Digits
    only, so a phone's number pad types them; 12 of them (40 bits): against five tries before
    the account locks, guessing one of ten is hopeless."""
    codes: set[str] = set()
    while len(codes) < RECOVERY_COUNT:
        codes.add(str(secrets.randbelow(10**RECOVERY_DIGITS)).zfill(RECOVERY_DIGITS))
    return ["-".join(c[i : i + 4] for i in range(0, RECOVERY_DIGITS, 4)) for c in sorted(codes)]


def recovery_form(code: str) -> str | None:
    """``code``'s digits if it is written as a recovery code (12 digits, with or without spaces
    and dashes, full-width digits too), else None (an app's six digits, or nothing valid)."""
    digits = unicodedata.normalize("NFKC", code).replace(" ", "").replace("-", "")
    if len(digits) != RECOVERY_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits
