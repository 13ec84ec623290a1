"""Residents' personal data: validation, encryption at rest, blind index, masking.

Names, phone numbers and ID-card numbers are stored as AES-256-GCM ciphertext (a random 96-bit
nonce per value; the case id and field name as associated data, so a value cannot be moved to
another row or column).  Phone look-ups use an HMAC-SHA256 blind index of the normalised number.
Both keys derive (HKDF) from one master key that lives in settings or a key file outside the
repository — never in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import DatabaseNotReady, InvalidInput
from gis.settings import Settings

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


def normalize_phone(phone: str) -> str:
    """Digits only: typed in full-width (a Chinese input method's full-width mode: １３９…),
    with spaces, dashes or brackets, or with the country code (+86, 0086, 86 before a mobile
    number), the same number."""
    digits = re.sub(r"[\s\-–—()]", "", unicodedata.normalize("NFKC", phone))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    return digits


def validate_phone(phone: str, field: str = "phone") -> str:
    normalized = normalize_phone(phone)
    if not (_MOBILE.match(normalized) or _LANDLINE.match(normalized)):
        raise InvalidInput(
            f"{field}（电话）格式不正确：应为 11 位手机号或带区号的固定电话。",
            f"{field}: not a phone number (an 11-digit mobile or a landline with area code).",
            field=field,
        )
    return normalized


def validate_id_card(id_card: str, field: str = "id_card") -> str:
    """An 18-character resident ID (GB 11643) with a correct check character."""
    value = id_card.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise InvalidInput(
            f"{field}（身份证号）应为 18 位，最后一位可为 X。",
            f"{field}: an ID-card number has 18 characters, the last may be X.",
            field=field,
        )
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise InvalidInput(
            f"{field}（身份证号）校验位不正确，请核对。",
            f"{field}: the check character is wrong; please check the number.",
            field=field,
        )
    return value


def id_check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def mask_name(name: str) -> str:
    """李*明, 李*, 欧**明."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """138****5678 (first 3 and last 4 digits kept)."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_card(id_card: str) -> str:
    """4419**********123X (first 4 and last 4 kept)."""
    if len(id_card) < 9:
        return "*" * len(id_card)
    return id_card[:4] + "*" * (len(id_card) - 8) + id_card[-4:]


# Phone and ID-card numbers typed into free text (a description: "王某（13812345678）反映…"),
# masked as the parties' are.  The same patterns serve Python (:func:`mask_text`) and SQL
# (:func:`mask_text_sql`, PostgreSQL's regular expressions, for text a query turns into JSON).
_DIGIT = "[0-9０-９]"  # (a Chinese input method in full-width mode types ０-９)
#: a mainland mobile number, with a +86/86 before it or not, in groups or not: 138 1234 5678
_TEXT_MOBILE = (
    f"(?<!{_DIGIT})((?:[+＋]?[8８][6６][- ]?)?)([1１][3-9３-９]{_DIGIT})[- ]?"
    f"({_DIGIT}{{4}})[- ]?({_DIGIT}{{4}})(?!{_DIGIT})"
)
#: a resident ID-card number: 17 digits and a digit or X
_TEXT_ID_CARD = (
    f"(?<![0-9A-Za-z０-９])({_DIGIT}{{4}}){_DIGIT}{{10}}({_DIGIT}{{3}}[0-9Xx０-９Ｘｘ])"
    "(?![0-9A-Za-z０-９])"
)
_TEXT_MOBILE_RE = re.compile(_TEXT_MOBILE)
_TEXT_ID_CARD_RE = re.compile(_TEXT_ID_CARD)


def mask_text(text: str) -> str:
    """``text`` with the phone and ID-card numbers in it masked: 138****5678,
    4419**********123X (names cannot be told from other words, and stay)."""
    text = _TEXT_ID_CARD_RE.sub(r"\1**********\2", text)
    return _TEXT_MOBILE_RE.sub(r"\1\2****\4", text)


def mask_text_sql(column: str) -> str:
    """The SQL of :func:`mask_text` applied to ``column`` (a trusted expression)."""
    id_card = f"regexp_replace({column}, '{_TEXT_ID_CARD}', '\\1**********\\2', 'g')"
    return f"regexp_replace({id_card}, '{_TEXT_MOBILE}', '\\1\\2****\\4', 'g')"


def has_numbers_sql(column: str) -> str:
    """SQL: whether ``column`` holds a number :func:`mask_text` masks."""
    return f"({column} ~ '{_TEXT_MOBILE}' OR {column} ~ '{_TEXT_ID_CARD}')"


class PiiCipher:
    """Encrypts, decrypts and indexes personal data with keys derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the PII master key must be 32 bytes")
        self._aead = AESGCM(self._derive(master_key, b"wangge pii encryption"))
        self._index_key = self._derive(master_key, b"wangge pii blind index")

    @staticmethod
    def _derive(master: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)

    def encrypt(self, value: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        data = bytes(blob)
        return self._aead.decrypt(data[:12], data[12:], context.encode()).decode("utf-8")

    def phone_index(self, phone: str) -> bytes:
        return hmac.new(self._index_key, normalize_phone(phone).encode(), hashlib.sha256).digest()

    def digest(self, context: str, value: str) -> bytes:
        """A keyed hash of a secret that is checked but never read back (动态口令's recovery
        codes): without the master key, a stolen table cannot be searched for them."""
        return hmac.new(self._index_key, f"{context}:{value}".encode(), hashlib.sha256).digest()

    def fingerprint(self, data: bytes) -> bytes:
        """A keyed hash of submitted content: compares reports without storing what they say
        (plain SHA-256 of a payload with a phone number in it could be brute-forced)."""
        return hmac.new(self._index_key, b"fingerprint:" + data, hashlib.sha256).digest()


def load_cipher(settings: Settings, session: Session | None = None) -> PiiCipher:
    """The cipher: ``WANGGE_PII_KEY``, else ``<data_dir>/pii.key`` (created on first use).

    With ``session``, the key is first tried on a party stored in the database: a process
    started with another data directory (another working directory, a service's unit) would
    otherwise make itself a new key, encrypt new parties with it and fail to read the old ones
    — and its blind indexes would no longer find a resident's earlier cases.  It refuses to
    start instead (503), and creates no key where the database already holds personal data."""
    sample = _stored_party(session) if session is not None else None
    if settings.pii_key:
        try:
            key = base64.b64decode(settings.pii_key, validate=True)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise DatabaseNotReady(
                "WANGGE_PII_KEY 应为 32 字节密钥的 base64 编码（44 个字符，如 "
                "`openssl rand -base64 32` 的输出），拒绝启动。",
                "WANGGE_PII_KEY must be a 32-byte key, base64-encoded (44 characters, as "
                "`openssl rand -base64 32` prints): not starting.",
            )
        return _checked(PiiCipher(key), sample, "WANGGE_PII_KEY")
    path = Path(settings.data_dir) / "pii.key"
    if not path.exists():
        if sample is not None:
            raise DatabaseNotReady(
                f"数据库中已有加密的当事人信息，但密钥文件 {path} 不存在（未新建：新密钥读不了这些"
                "数据）。请在原来的数据目录下运行（或设置 WANGGE_DATA_DIR 指向它），或把原来的 "
                "pii.key 放到该处，或设置 WANGGE_PII_KEY。",
                f"The database holds encrypted personal data, but the key file {path} does not "
                "exist (none was created: a new key cannot read that data). Run from the original "
                "data directory (or point WANGGE_DATA_DIR to it), put the original pii.key there, "
                "or set WANGGE_PII_KEY.",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return _checked(PiiCipher(base64.b64decode(path.read_text().strip())), sample, str(path))


def _stored_party(session: Session) -> tuple[int, bytes] | None:
    """One stored party's case and encrypted name (any jurisdiction's), or None if none is (or
    the database is not migrated yet)."""
    if session.execute(text("SELECT to_regclass('case_party')")).scalar() is None:
        return None
    look = session.begin_nested()  # rolled back after: the scope set here goes with it
    try:
        session.execute(text("SELECT set_config('wangge.scope', '*', true)"))
        row = session.execute(
            text("""SELECT case_id, name_enc FROM case_party WHERE name_enc IS NOT NULL
                    ORDER BY id LIMIT 1""")
        ).first()
    finally:
        look.rollback()
    return None if row is None else (int(row[0]), bytes(row[1]))


def _checked(cipher: PiiCipher, sample: tuple[int, bytes] | None, source: str) -> PiiCipher:
    if sample is not None:
        case_id, blob = sample
        try:
            cipher.decrypt(blob, f"{case_id}:name")
        except InvalidTag:
            raise DatabaseNotReady(
                f"个人信息密钥（{source}）与数据库中已加密的当事人信息不符，拒绝启动：用它会读不出"
                "已有数据，新数据也会用另一把密钥加密。请使用原来的密钥（原数据目录下的 pii.key，"
                "或 WANGGE_PII_KEY）。",
                f"The personal-data key ({source}) does not match the encrypted party data in the "
                "database; refusing to start: with it the stored data could not be read and new "
                "data would be encrypted under another key. Use the original key (pii.key in the "
                "original data directory, or WANGGE_PII_KEY).",
            ) from None
    return cipher
