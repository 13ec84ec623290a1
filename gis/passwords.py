"""Passwords: argon2id hashes and the policy every new password must pass."""

from __future__ import annotations

import secrets
import string
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gis.errors import InvalidInput

MIN_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_WEAK_FILE = Path(__file__).with_name("weak_passwords.txt")


@lru_cache(maxsize=1)
def _weak_passwords() -> frozenset[str]:
    lines = _WEAK_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def check_password_policy(username: str, password: str) -> None:
    """Refuse weak passwords with a message that says what to change."""
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    problem = None
    if len(password) < MIN_LENGTH:
        problem = (f"至少 {MIN_LENGTH} 个字符", f"at least {MIN_LENGTH} characters")
    elif classes < 3:
        problem = (
            "须包含小写字母、大写字母、数字、符号中的至少三类",
            "must mix at least three of: lower case, upper case, digits, symbols",
        )
    elif password.lower() in _weak_passwords() or _dressed_up_common_word(password):
        problem = ("过于常见，容易被猜中", "is too common and easily guessed")
    elif username and username.lower() in password.lower():
        problem = ("不能包含用户名", "must not contain the user name")
    if problem:
        raise InvalidInput(
            f"密码不符合要求：{problem[0]}。", f"Password rejected: {problem[1]}.", field="password"
        )


def _dressed_up_common_word(password: str) -> bool:
    """A listed word with digits and symbols around it: Admin@123456, Password#2026."""
    letters = "".join(c for c in password.lower() if c.isalpha())
    return len(letters) >= 4 and letters in _weak_passwords()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _HASHER.hash("wangge-timing-equaliser")


def burn_verification_time(password: str) -> None:
    """Spend the time a real verification takes, so unknown user names cannot be told apart."""
    verify_password(_DUMMY_HASH, password)


def initial_password() -> str:
    """A random initial password that passes the policy (four classes, 14 characters)."""
    alphabet = string.ascii_letters + string.digits + "#%+=@"
    while True:
        p = "".join(secrets.choice(alphabet) for _ in range(14))
        try:
            check_password_policy("", p)
        except InvalidInput:
            continue
        if sum((any(c.isdigit() for c in p), any(not c.isalnum() for c in p))) == 2:
            return p
