"""Parties to a case (当事人): stored apart from the case, encrypted, masked on the way out.

Reading goes through row-level security on ``case_party`` (visible only with its case) and the
query layer's case scope.  Unmasked views are for callers with ``pii:read`` and are audited by
the caller of :func:`parties_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.pii import PiiCipher, mask_id_card, mask_name, mask_phone

PARTY_ROLES = {
    "applicant": "申请人",
    "respondent": "被申请人",
    "party": "当事人",
    "witness": "证人",
    "reporter": "反映人",
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


def store_parties(
    session: Session, case_id: int, parties: tuple[NewParty, ...], cipher: PiiCipher
) -> None:
    """Encrypt and insert the parties of case ``case_id`` (one statement)."""
    if not parties:
        return

    def enc(value: str | None, column: str) -> bytes | None:
        return None if value is None else cipher.encrypt(value, f"{case_id}:{column}")

    session.execute(
        text("""
        INSERT INTO case_party (case_id, role, name_enc, phone_enc, id_card_enc, phone_index)
        VALUES (:case_id, :role, :name, :phone, :id_card, :phone_index)
    """),
        [
            {
                "case_id": case_id,
                "role": p.role,
                "name": enc(p.name, "name"),
                "phone": enc(p.phone, "phone"),
                "id_card": enc(p.id_card, "id_card"),
                "phone_index": cipher.phone_index(p.phone) if p.phone else None,
            }
            for p in parties
        ],
    )


def parties_of(
    session: Session, case_id: int, cipher: PiiCipher, *, unmask: bool = False
) -> list[PartyView]:
    """The parties of a case, masked unless ``unmask`` (the caller checks and audits that)."""
    rows = session.execute(
        text(
            "SELECT role, name_enc, phone_enc, id_card_enc FROM case_party "
            "WHERE case_id = :case_id ORDER BY id"
        ),
        {"case_id": case_id},
    ).all()

    def dec(blob: bytes | None, column: str) -> str | None:
        return None if blob is None else cipher.decrypt(blob, f"{case_id}:{column}")

    out = []
    for role, name_enc, phone_enc, id_enc in rows:
        name, phone, id_card = (
            dec(name_enc, "name"),
            dec(phone_enc, "phone"),
            dec(id_enc, "id_card"),
        )
        if not unmask:
            name = mask_name(name) if name else None
            phone = mask_phone(phone) if phone else None
            id_card = mask_id_card(id_card) if id_card else None
        out.append(PartyView(role, name, phone, id_card, masked=not unmask))
    return out
