"""Parties to a case (当事人): stored apart from the case, encrypted, masked on the way out.

Reading goes through row-level security on ``case_party`` (visible only with its case) and the
query layer's case scope.  Unmasked views are for callers with ``pii:read`` and are audited by
the caller of :func:`parties_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.pii import PiiCipher, mask_id_card, mask_name, mask_phone
from gis.worktime import SHANGHAI

#: the most parties one case may name
MAX_PER_CASE = 20
#: the longest name a party may have (a report's, an imported ledger's)
NAME_MAX = 50

PARTY_ROLES = {
    "applicant": "申请人",
    "respondent": "被申请人",
    "party": "当事人",
    "witness": "证人",
    "reporter": "反映人",
}
#: the same roles in English (the second locale)
PARTY_ROLES_EN = {
    "applicant": "Applicant",
    "respondent": "Respondent",
    "party": "Party",
    "witness": "Witness",
    "reporter": "Reporter",
}


@dataclass(frozen=True, slots=True)
class NewParty:
    """Validated personal data of one party (phone normalised, ID checked)."""

    role: str = "party"
    name: str | None = None
    phone: str | None = None
    id_card: str | None = None


@dataclass(frozen=True, slots=True)
class PartyView:
    role: str
    name: str | None
    phone: str | None
    id_card: str | None
    masked: bool
    #: when its personal data was erased, its retention period over (gis.pii_expiry)
    erased_at: datetime | None = None

    @property
    def role_name(self) -> str:
        """The role in Chinese (申请人 …)."""
        return PARTY_ROLES.get(self.role, self.role)


def parties_of(
    session: Session, case_id: int, cipher: PiiCipher, *, unmask: bool = False
) -> list[PartyView]:
    """The parties of a case, masked unless ``unmask`` (the caller checks and audits that)."""
    rows = session.execute(
        text(
            "SELECT role, name_enc, phone_enc, id_card_enc, erased_at FROM case_party "
            "WHERE case_id = :case_id ORDER BY id"
        ),
        {"case_id": case_id},
    ).all()

    return [
        masked_party(
            cipher,
            case_id,
            role,
            name_enc,
            phone_enc,
            id_enc,
            unmask=unmask,
            erased_at=erased.astimezone(SHANGHAI) if erased else None,
        )
        for role, name_enc, phone_enc, id_enc, erased in rows
    ]


def masked_party(
    cipher: PiiCipher,
    case_id: int,
    role: str,
    name_enc: bytes | None,
    phone_enc: bytes | None,
    id_card_enc: bytes | None,
    *,
    unmask: bool = False,
    erased_at: datetime | None = None,
) -> PartyView:
    """Decrypt one stored party of case ``case_id``; masked unless ``unmask``.  ``erased_at``:
    when its data was erased (:mod:`gis.pii_expiry`), if it was."""

    def dec(blob: bytes | None, column: str) -> str | None:
        return None if blob is None else cipher.decrypt(blob, f"{case_id}:{column}")

    name, phone, id_card = (
        dec(name_enc, "name"),
        dec(phone_enc, "phone"),
        dec(id_card_enc, "id_card"),
    )
    if not unmask:
        name = mask_name(name) if name else None
        phone = mask_phone(phone) if phone else None
        id_card = mask_id_card(id_card) if id_card else None
    return PartyView(role, name, phone, id_card, masked=not unmask, erased_at=erased_at)
