"""Cases: accepting a report, reading it back, listing cases as GeoJSON, heat bins.

A report becomes a case in one statement: the case code (一案一码), the WGS 84 point and the
assignment chain from ``wangge_assign`` (see :mod:`gis.locate`) are written together — and only if
the assignment lies where the caller may act — followed by the case's parties (encrypted) and its
first ``case_event``.  Every function takes the caller's :class:`~gis.scope.Scope`.  Services flush;
the caller (the request) commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db import like_containing
from gis.errors import InvalidInput, NotFound
from gis.geo import BBOX_SQL, BBox, feature_collection
from gis.locate import Location, location_from_row
from gis.models import CaseKind, Severity
from gis.parties import NewParty, PartyView, masked_party, parties_of
from gis.photos import PhotoView
from gis.pii import PiiCipher, mask_text, mask_text_sql
from gis.repeats import decide_duplicate
from gis.scope import Scope
from gis.workflow import (
    DUPLICATE_SQL,
    EVENT_NAMES,
    EVENT_NAMES_EN,
    OPEN_STATES,
    PRIVATE_EVENTS,
    REPEAT_SQL,
    STATE_NAMES,
    STATE_NAMES_EN,
    category_name_sql,
    merged_into_sql,
    open_sql,
    status_sql,
    unplaced_sql,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISO_SHANGHAI = """'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'"""
KIND_NAMES = {"dispute": ("矛盾纠纷", "dispute"), "hazard": ("安全隐患", "hazard")}
#: the note of a historical case's first event (``wangge import cases``), Chinese and English
IMPORT_NOTE = ("历史案件导入", "Historical case imported")
#: who took a case in from a file, in its history (``wangge import cases``); the demo city's
#: loader writes its history as DEMO_ACTOR.  The case page names them in words (数据导入)
IMPORT_ACTOR, DEMO_ACTOR = "import", "demo"
SYSTEM_ACTOR_WORDS = {
    IMPORT_ACTOR: ("数据导入", "Data import"),
    DEMO_ACTOR: ("示例数据", "Demo data"),
}
#: where a case came from (案件来源, migration 0034): its code, Chinese name and English name
SOURCE_NAMES = {
    "grid_worker": ("网格员上报", "grid worker"),
    "walk_in": ("群众来访", "walk-in"),
    "hotline": ("12345热线", "12345 hotline"),
    "police_diversion": ("110非警务警情分流", "diverted from 110"),
    "petition": ("信访", "petition"),
    "online": ("网上反映", "online"),
    "other": ("其他", "other"),
}


def default_source(role: str) -> str:
    """A report's channel when it does not say: a grid worker's own, else ``other``."""
    return "grid_worker" if role == "grid_worker" else "other"


@dataclass(frozen=True, slots=True)
class NewReport:
    """A report as submitted.  ``lon``/``lat`` are degrees in ``datum`` (converted to WGS 84
    before locating; the point as received is kept too).  A desk's report of a place no one
    could show on a map gives ``region`` instead — the code of its 村（社区） or 乡镇（街道） — and
    no point: the case is filed by that region (method ``region``), on no grid and no map."""

    kind: CaseKind
    category: str
    description: str
    lon: float | None
    lat: float | None
    datum: str = "wgs84"
    severity: Severity | None = None
    reported_at: datetime | None = None
    accuracy_m: float | None = None
    reporter: str | None = None
    parties: tuple[NewParty, ...] = ()
    source: str = "other"  # a key of SOURCE_NAMES
    #: its number in that channel: a 12345 work order (工单号), a 110 incident … (来源编号)
    source_ref: str | None = None
    #: 就地化解: what the reporter did to settle it on the spot (None: it is for the center)
    on_site_resolution: str | None = None
    #: where it happened when no point is known: a 村（社区） or 乡镇（街道） code (a desk's)
    region: str | None = None


#: the severities in words (轻微 … 重大)
SEVERITY_NAMES = {"minor": "轻微", "normal": "一般", "major": "较大", "critical": "重大"}


@dataclass(frozen=True, slots=True)
class CaseView:
    code: str
    kind: str
    category: str
    category_name: str
    severity: str
    status: str
    description: str
    #: where it is (WGS 84); None for an old ledger's case filed by its village's name
    #: (migration 0080)
    lon: float | None
    lat: float | None
    datum: str
    reported_at: datetime
    received_at: datetime
    location: Location
    parties: tuple[PartyView, ...] = ()
    received_lon: float | None = 0.0
    received_lat: float | None = 0.0
    deadline: datetime | None = None
    public_token: str = ""
    flags: dict | None = None
    #: possible duplicates: (other case code, suggested | confirmed | unlinked, metres)
    duplicates: tuple[tuple[str, str, float | None], ...] = ()
    photos: tuple[PhotoView, ...] = ()
    source: str = "other"
    source_ref: str | None = None
    #: the description had phone or ID-card numbers, masked in it (:func:`gis.pii.mask_text`)
    description_masked: bool = False


@dataclass(frozen=True, slots=True)
class CategoryView:
    code: str
    kind: str
    name_zh: str
    name_en: str
    default_severity: str
    deadline_hours: int


def category_names_en(session: Session) -> dict[str, str]:
    """The categories' English names by code."""
    rows = session.execute(text("SELECT code, name_en FROM category"))
    return {code: name for code, name in rows}


def list_categories(session: Session) -> list[CategoryView]:
    rows = session.execute(
        text(
            "SELECT code, kind::text, name_zh, name_en, default_severity::text, deadline_hours "
            "FROM category "
            "ORDER BY kind, code"
        )
    ).all()
    return [CategoryView(*row) for row in rows]


def check_category(session: Session, code: str) -> None:
    """A filter's category: one of the catalogue's codes, or 422 naming them all (a misspelt
    code would otherwise match nothing, and look like a quiet month)."""
    catalogue = list_categories(session)
    if any(c.code == code for c in catalogue):
        return
    valid = ", ".join(c.code for c in catalogue)
    raise InvalidInput(
        f"未知的案件类别 {code!r}。有效类别：{valid}",
        f"Unknown category {code!r}. Valid categories: {valid}",
        field="category",
    )


# A whole case as one JSON document (migration 0023, ``wangge_case_doc``): its category name,
# parties, photos, possible duplicates and assignment chain (the columns of
# ``gis.locate.CHAIN_COLUMNS``).  One column, not forty: the driver's and SQLAlchemy's handling
# of each column's description cost more than the reading.  The intake's call returns the same
# document for each new case.
_CASE_BY_CODE = """
    SELECT d.doc FROM wangge_case_doc(ARRAY(
        SELECT c.id FROM cases c
        WHERE c.code = ANY(CAST(:codes AS varchar[])) AND {in_scope})) d
"""


def _case_rows(session: Session, scope: Scope, codes: list[str]) -> list[dict]:
    sql = _CASE_BY_CODE.format(in_scope=scope.case_condition("c"))
    return list(session.execute(text(sql), scope.params() | {"codes": codes}).scalars())


def _case_row(session: Session, scope: Scope, code: str) -> dict:
    rows = _case_rows(session, scope, [code])
    if not rows:  # absent and out of scope look the same: never reveal that it exists
        raise NotFound(
            "没有找到该案件（或不在您的管辖范围内）。",
            "No such case (or not in your jurisdiction).",
        )
    return rows[0]


def get_case(
    session: Session, scope: Scope, code: str, cipher: PiiCipher, *, unmask: bool = False
) -> CaseView:
    """One case in ``scope`` by its code, with its assignment chain and masked parties."""
    return case_view(_case_row(session, scope, code), cipher, unmask=unmask)


def get_cases(
    session: Session, scope: Scope, codes: list[str], cipher: PiiCipher
) -> list[CaseView]:
    """The cases with these codes that lie in ``scope`` (others are left out), in one query."""
    return [case_view(r, cipher) for r in _case_rows(session, scope, codes)]


def _photo(p: list) -> PhotoView:
    """A photo of the case document (migration 0067: its account, time and name last)."""
    by, at, name = p[6:9] if len(p) >= 9 else (None, None, None)
    return PhotoView(p[0], p[1], p[2], p[3], p[4], p[5], by, _time(at) if at else None, name)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(SHANGHAI)


def case_view(r: dict, cipher: PiiCipher, *, unmask: bool = False) -> CaseView:
    """A case from its document (``wangge_case_doc``, migration 0023): its parties' personal
    data, and the phone and ID-card numbers in its description, masked unless ``unmask`` (the
    caller checks ``pii:read`` and audits that)."""
    description = r["description"] if unmask else mask_text(r["description"])
    return CaseView(
        code=r["code"],
        kind=r["kind"],
        category=r["category"],
        category_name=r["category_name"],
        severity=r["severity"],
        status=r["status"],
        description=description,
        lon=r["lon"],
        lat=r["lat"],
        datum=r["datum"],
        reported_at=_time(r["reported_at"]),
        received_at=_time(r["received_at"]),
        location=location_from_row(r),
        parties=tuple(
            masked_party(
                cipher,
                r["id"],
                p["role"],
                *(bytes.fromhex(p[k]) if p[k] else None for k in ("name", "phone", "id_card")),
                erased_at=_time(p["erased_at"]) if p.get("erased_at") else None,
                unmask=unmask,
            )
            for p in r["parties"] or ()
        ),
        received_lon=r["received_lon"],
        received_lat=r["received_lat"],
        deadline=_time(r["deadline"]) if r["deadline"] else None,
        public_token=r["public_token"],
        flags=r["flags"],
        duplicates=tuple((o, st, d) for o, st, d in r["links"] or ()),
        photos=tuple(_photo(p) for p in r["photos"] or ()),
        source=r.get("source") or "other",
        source_ref=r.get("source_ref"),
        description_masked=description != r["description"],
    )


def case_parties(
    session: Session, scope: Scope, code: str, cipher: PiiCipher, *, unmask: bool
) -> list[PartyView]:
    """The parties of a case in ``scope``; unmasked only on request (check ``pii:read`` first)."""
    return parties_of(session, _case_row(session, scope, code)["id"], cipher, unmask=unmask)


#: characters of description in a reporter's own list of cases (:func:`cases_geojson`)
MINE_DESCRIPTION = 40


def cases_geojson(
    session: Session,
    scope: Scope,
    bbox: BBox | None = None,
    since: datetime | None = None,
    limit: int = 5000,
    party_phone_index: bytes | None = None,
    reporter_id: int | None = None,
    source: str | None = None,
    lang: str = "zh",
    *,
    kind: str | None = None,
    category: str | None = None,
    statuses: Sequence[str] = (),
    overdue: bool | None = None,
    grids: Sequence[str] = (),
    unplaced: bool | None = None,
) -> str:
    """Cases in ``scope`` as a GeoJSON FeatureCollection, newest first, at most ``limit``;
    only those from ``source`` (案件来源, a key of :data:`SOURCE_NAMES`) if given, of ``kind``,
    of ``category``, in one of ``statuses`` (:func:`gis.workflow.status_sql`: ``open`` is every
    open state, ``to_verify`` every resolved one waiting to be verified), overdue or not
    (``overdue``: open and past the deadline), in one of ``grids`` (their codes), without a
    point or with one (``unplaced``: filed by their village, no one could say where — a grid
    worker goes to find the place: 待查明位置).

    Times are ISO 8601 in Asia/Shanghai (+08:00).  ``since`` filters on the time received;
    ``party_phone_index`` (a blind index, :meth:`PiiCipher.phone_index`) on a party's phone;
    ``reporter_id`` on who submitted the case.  Each feature carries its photo count and the
    thumbnail of its first photo (``thumb_url``, null without photos); a resolved one when it is
    to be verified by (``verify_due``; null for the others), and its warnings: ``repeat``
    (高频线索) and ``possible_duplicate`` (a duplicate link still to settle).  A reporter's own list
    (``reporter_id``) also carries the first :data:`MINE_DESCRIPTION` characters of each
    description (phone and ID-card numbers masked), by which the reporter tells their reports
    apart (a map's lists do without), and the code of the case it was merged into
    (``merged_into``, 并案; else null).
    """
    conditions = [scope.case_condition("c")]
    params: dict = scope.params() | {"limit": limit, "open_states": sorted(OPEN_STATES)}
    if party_phone_index is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM case_party p WHERE p.case_id = c.id AND p.phone_index = :pidx)"
        )
        params["pidx"] = party_phone_index
    described = ""
    if reporter_id is not None:
        conditions.append("c.reporter_id = :reporter_id")
        params["reporter_id"] = reporter_id
        # (and the case a report was merged into, 并案: its reporter sees why it closed at once)
        described = (
            f"'description', left({mask_text_sql('c.description')}, {MINE_DESCRIPTION}),"
            f"'merged_into', {merged_into_sql('c')},"
        )
    if bbox is not None:
        conditions.append(BBOX_SQL.format(col="c.geom"))
        params.update(bbox.params())
    if since is not None:
        conditions.append("c.received_at >= :since")
        params["since"] = since
    if source is not None:
        conditions.append("c.source = CAST(:source AS case_source)")
        params["source"] = source
    if kind is not None:
        conditions.append("c.kind = CAST(:kind AS case_kind)")
        params["kind"] = kind
    if category is not None:
        check_category(session, category)
        conditions.append("c.category = :category")
        params["category"] = category
    if statuses:
        condition, params["statuses"] = status_sql(statuses)
        conditions.append(condition)
    if overdue is not None:
        overdue_sql = f"({open_sql('c')} AND c.deadline < now())"
        conditions.append(overdue_sql if overdue else f"NOT {overdue_sql}")
    if grids:
        conditions.append("c.grid_code = ANY(CAST(:grids AS varchar[]))")
        params["grids"] = list(grids)
    if unplaced is not None:
        conditions.append(unplaced_sql("c") if unplaced else "c.geom IS NOT NULL")
    features = f"""
        SELECT c.received_at, c.code, json_build_object(
            'type', 'Feature', 'id', c.code,
            'geometry', ST_AsGeoJSON(c.geom, 6)::json,
            'properties', json_build_object(
                'code', c.code, 'grid_code', c.grid_code, 'kind', c.kind,
                'photo_count', (SELECT count(*) FROM case_photo ph WHERE ph.case_id = c.id),
                'thumb_url', (SELECT '/api/photos/' || min(ph.id) || '/thumb'
                              FROM case_photo ph WHERE ph.case_id = c.id),
                'category', c.category, 'category_name', {category_name_sql(lang, "cat")},
                {described}
                'severity', c.severity, 'status', c.status, 'source', c.source,
                'overdue', c.deadline < now() AND c.status = ANY(CAST(:open_states AS varchar[])),
                -- a resolved case: to be verified by then (回访, 现场核查)
                'verify_due', CASE WHEN c.status = 'resolved' THEN to_char(
                    c.verify_due AT TIME ZONE 'Asia/Shanghai', {ISO_SHANGHAI}) END,
                'center_id', c.center_id, 'assign_method', c.assign_method,
                -- its warnings, as the in-tray marks them: a repeat (高频线索) and a possible
                -- duplicate still to settle (疑似重复)
                'repeat', {REPEAT_SQL}, 'possible_duplicate', {DUPLICATE_SQL},
                -- the case's version as read (a phone's verification made offline is sent
                -- with it: the case moved on meanwhile, it is refused, not applied to the new
                -- round)
                'version', c.version,
                'reported_at', to_char(c.reported_at AT TIME ZONE 'Asia/Shanghai', {ISO_SHANGHAI}),
                'received_at', to_char(c.received_at AT TIME ZONE 'Asia/Shanghai', {ISO_SHANGHAI})
            )) AS f
        FROM cases c JOIN category cat ON cat.code = c.category
        WHERE {" AND ".join(conditions)}
        ORDER BY c.received_at DESC, c.code DESC
        LIMIT :limit
    """
    return feature_collection(session, features, params, order="received_at DESC, code DESC")


#: at most this many cases answer one search (the newest; the total is counted)
FIND_LIMIT = 50
#: a code's beginning finds no fewer than a county's cases of one day: 6 + 6 digits (440305 261121)
FIND_PREFIX_MIN = 12
#: words of at least this many characters are also looked for in the cases' descriptions
FIND_TEXT_MIN = 2
#: how a case matched, most telling first: a case several branches find is shown by the first
FIND_MATCHES = ("code", "token", "source", "ref", "phone", "prefix", "text", "category")
#: characters of description shown around the first word found (and of any other case)
EXCERPT = 40


@dataclass(frozen=True, slots=True)
class FoundCase:
    code: str
    kind: str
    category_name: str
    status: str
    grid_code: str | None
    received_at: datetime
    source_id: str | None
    matched: str  # one of FIND_MATCHES: what in the case the words matched
    description: str = ""  # an excerpt (:func:`excerpt`)
    grid_name: str | None = None
    repeat: bool = False  # a repeat warning (高频线索)
    duplicate: bool = False  # a possible duplicate still to settle (疑似重复)


@dataclass(frozen=True, slots=True)
class Found:
    """The answer to a search: the newest :data:`FIND_LIMIT` cases and how many matched."""

    cases: list[FoundCase]
    total: int
    #: the words were one identifier, and a code, id, number or phone matched it: the
    #: descriptions were not read (:func:`find_cases`' ``descriptions`` reads them too)
    descriptions_skipped: bool = False


#: one word that may name a case by one of its numbers (a code, a former system's id, a 12345
#: work order, a phone): ASCII letters, digits and ``- _ . / : #``, with a digit among them
_IDENTIFIER = re.compile(r"(?=\S*\d)[0-9A-Za-z][0-9A-Za-z_\-./:#]*")


def find_cases(
    session: Session,
    scope: Scope,
    words: str,
    phone_index: bytes | None = None,
    descriptions: bool = False,
    numbers: bool = True,
) -> Found:
    """The cases in ``scope`` that ``words`` name: a case code (案件编号), or its beginning of at
    least :data:`FIND_PREFIX_MIN` digits (a county's cases of one day, or fewer), the id an
    imported case had in the source system (its ``source_id``), its number in the channel it came
    from (a 12345 work order, ``source_ref``), or — with ``phone_index``
    (:meth:`PiiCipher.phone_index`, for those who may read personal data) — a party's phone.
    A link pasted whole finds its case: a case page's address, or the tracking link (一案一码)
    a resident was given.  Words that are not a link are also looked for in the descriptions
    (every word, in any order, upper or lower case: 燃气 泄漏); a word may also be part of a
    category's name (燃气 finds the gas hazards whatever their descriptions say).  Newest
    first.

    Each exact branch is an index lookup; a beginning is a range of codes of digits, which sorts
    the same in every collation.  The descriptions have no index (a trigram index would cost
    every report and every import): the words are looked for in the caller's own cases, through
    the per-level index of the scope, about 0.5 s a million cases (Chinese words; 2 s with
    Latin letters, compared in both cases).  So one word shaped like a number
    (:data:`_IDENTIFIER`: SYN00000042, 12345-2026-000815, a phone) is first looked up by the
    exact branches alone: if they find a case, that is the answer (``descriptions_skipped``),
    unless ``descriptions`` asks for the cases that mention it too.

    ``numbers`` False (a caller who may not read personal data): a word that is a phone or an
    ID-card number (:func:`searches_numbers`) is not looked for in the descriptions, where it
    would tell whose cases mention that resident."""
    words = words.strip()
    link = re.search(r"/(?:cases|t)/([^/?#\s]+)", words)
    if link:
        words = unquote(link.group(1))
    # an identifier typed in full-width (a Chinese input method's full-width mode: ９９０１…)
    # is the same identifier; the descriptions are looked for as typed
    key = unicodedata.normalize("NFKC", words)
    params: dict = scope.params() | {"words": words, "key": key, "limit": FIND_LIMIT}
    hits = [
        f"SELECT {_HIT} 'code' AS matched FROM cases c WHERE code IN (:words, :key)",
        f"SELECT {_HIT} 'source' FROM cases c WHERE source_id IN (:words, :key)",
        f"SELECT {_HIT} 'ref' FROM cases c WHERE source_ref IN (:words, :key)",
    ]
    terms = [] if link else text_terms(words)
    if not numbers:
        terms = [t for t in terms if mask_text(t) == t]
    in_text = None
    if terms:
        # ILIKE only for words with case: 4 times the time of LIKE
        likes = [
            f"c.description {'LIKE' if t.lower() == t.upper() else 'ILIKE'} :like{i}"
            for i, t in enumerate(terms)
        ]
        params |= {f"like{i}": like_containing(t) for i, t in enumerate(terms)}
        # a word of a category's name (燃气, 物业, gas) finds that category's cases too, whatever
        # their descriptions say; the list says which matched
        named = _categories_named(session, terms)
        either = [
            f"({like} OR c.category = ANY(CAST(:cat{i} AS varchar[])))" if named[i] else like
            for i, like in enumerate(likes)
        ]
        params |= {f"cat{i}": codes for i, codes in enumerate(named) if codes}
        matched = (
            f"CASE WHEN {' AND '.join(likes)} THEN 'text' ELSE 'category' END"
            if any(named)
            else "'text'"
        )
        in_text = (
            f"SELECT {_HIT} {matched} AS matched FROM cases c WHERE {scope.case_condition('c')} "
            f"AND {' AND '.join(either)}"
        )
    if _PUBLIC_TOKEN.fullmatch(key):
        hits.append(f"SELECT {_HIT} 'token' FROM cases c WHERE public_token = :key")
    if key.isdigit() and key.isascii() and len(key) >= FIND_PREFIX_MIN:
        after = str(int(key) + 1).zfill(len(key))
        if len(after) == len(key):  # (all nines: nothing follows them)
            hits.append(f"SELECT {_HIT} 'prefix' FROM cases c WHERE code > :key AND code < :after")
            params["after"] = after
    if phone_index is not None:
        hits.append(
            f"SELECT {_HIT} 'phone' FROM case_party p JOIN cases c ON c.id = p.case_id "
            "WHERE p.phone_index = :pidx"
        )
        params["pidx"] = phone_index
    if in_text and not descriptions and _IDENTIFIER.fullmatch(key):
        found = _found(session, scope, hits, params, terms)
        if found.total:
            return Found(found.cases, found.total, descriptions_skipped=True)
        hits = []  # (none of them found a case: only the descriptions are left to read)
    return _found(session, scope, [*hits, in_text] if in_text else hits, params, terms)


def searches_numbers(words: str) -> bool:
    """Whether a search's words hold a phone or an ID-card number (personal data)."""
    return any(mask_text(t) != t for t in text_terms(words.strip()))


def _categories_named(session: Session, terms: Sequence[str]) -> list[list[str]]:
    """For each of ``terms``, the codes of the categories whose Chinese or English name holds it
    (upper or lower case): 燃气 → gas, 纠纷 → every dispute's."""
    names = session.execute(text("SELECT code, name_zh, name_en FROM category")).all()
    return [
        [r.code for r in names if t.lower() in r.name_zh.lower() or t.lower() in r.name_en.lower()]
        for t in terms
    ]


#: what each branch of a search gives of a case it finds (then ``matched``): enough to choose the
#: page and count them without reading the cases again (a word of a category's name finds
#: ~100,000 of a million: joined and counted case by case, they took half of 0.7 s)
_HIT = "c.id, c.received_at, c.code,"


def _found(
    session: Session, scope: Scope, hits: list[str], params: dict, terms: list[str]
) -> Found:
    """The newest cases that any of the ``hits`` (each ``SELECT {_HIT} matched`` of cases ``c``,
    ending with its condition) find."""
    in_scope = scope.case_condition("c")
    rows = session.execute(
        text(f"""
        WITH hit AS (SELECT DISTINCT ON (id) id, received_at, code, matched
                     FROM ({" UNION ALL ".join(f"{h} AND {in_scope}" for h in hits)}) h
                     ORDER BY id, array_position(CAST(:matches AS text[]), matched)),
        page AS (SELECT * FROM hit ORDER BY received_at DESC, code DESC LIMIT :limit)
        SELECT c.code, CAST(c.kind AS text) AS kind, cat.name_zh AS category_name, c.status,
               c.grid_code, c.received_at, c.source_id, page.matched, c.description,
               (SELECT g.name FROM grid g WHERE g.id = c.grid_id) AS grid_name,
               {REPEAT_SQL} AS repeat, {DUPLICATE_SQL} AS duplicate,
               (SELECT count(*) FROM hit) AS total
        FROM page JOIN cases c ON c.id = page.id JOIN category cat ON cat.code = c.category
        WHERE {in_scope}
        ORDER BY page.received_at DESC, page.code DESC
    """),
        params | {"matches": list(FIND_MATCHES)},
    ).all()
    found = [
        FoundCase(r.code, r.kind, r.category_name, r.status, r.grid_code, r.received_at,
                  r.source_id, r.matched, excerpt(mask_text(r.description), terms), r.grid_name,
                  r.repeat, r.duplicate)
        for r in rows
    ]  # fmt: skip
    return Found(found, int(rows[0].total) if rows else 0)


def text_terms(words: str) -> list[str]:
    """The words to look for in descriptions: split at spaces (also the ideographic one), each
    once; none if any is shorter than :data:`FIND_TEXT_MIN` characters altogether."""
    terms = list(dict.fromkeys(words.split()))
    return terms if sum(len(t) for t in terms) >= FIND_TEXT_MIN else []


def excerpt(description: str, terms: Sequence[str] = ()) -> str:
    """About :data:`EXCERPT` characters of ``description``: around the first of ``terms`` found
    in it (… where cut), else its beginning."""
    at = min((i for i in (description.lower().find(t.lower()) for t in terms) if i >= 0), default=0)
    start = max(0, min(at - EXCERPT // 4, len(description) - EXCERPT))
    cut = description[start : start + EXCERPT]
    return ("…" if start else "") + cut + ("…" if start + EXCERPT < len(description) else "")


@dataclass(frozen=True, slots=True)
class PublicCase:
    """What anyone holding the tracking link may see: no personal data, no exact location."""

    code: str
    category_name: str
    kind: str
    status: str
    received_at: datetime
    deadline: datetime | None
    place: str
    steps: list[tuple[datetime, str, str]]  # (time, action, status after)
    rateable: bool = False  # resolved: the resident may rate the handling
    #: 并案: the case this one was merged into (its code, its status in words, its tracking
    #: token): that case carries the matter now
    merged_into: tuple[str, str, str] | None = None
    #: the center handling it (of the case it was merged into, if so): an office's name and
    #: phone, for the resident's questions
    center_name: str | None = None
    center_phone: str | None = None


_PUBLIC_TOKEN = re.compile(r"[0-9a-f]{32}")


def public_case(session: Session, token: str, lang: str = "zh") -> PublicCase:
    """The case behind a public tracking token (NotFound for any other token, well-formed or
    not: to a resident, a mistyped link is one with no case behind it); its names in ``lang``
    (``zh`` or ``en``; place names stay as they are)."""
    row = (
        session.execute(text("SELECT * FROM wangge_public_case(:token)"), {"token": token})
        .mappings()
        .one_or_none()
        if _PUBLIC_TOKEN.fullmatch(token)
        else None
    )
    if row is None:
        raise NotFound("没有找到该案件，请核对二维码或链接。", "No such case; check the link.")
    english = lang == "en"
    events, states = (EVENT_NAMES_EN, STATE_NAMES_EN) if english else (EVENT_NAMES, STATE_NAMES)
    steps = [
        (
            datetime.fromisoformat(e["at"]).astimezone(SHANGHAI),
            events.get(e["action"], e["action"]),
            states.get(e["to"] or "", ""),
        )
        for e in row["events"]
        if e["action"] not in PRIVATE_EVENTS
    ]
    return PublicCase(
        code=row["code"],
        category_name=row["category_name_en" if english else "category_name"],
        kind=str(row["kind"]),
        status=(
            ("Merged" if english else "已并案")
            if row["merged_into_code"]
            else states.get(row["status"], row["status"])
        ),
        received_at=row["received_at"].astimezone(SHANGHAI),
        deadline=row["deadline"].astimezone(SHANGHAI) if row["deadline"] else None,
        place=row["place"] or ("(outside the grids)" if english else "（未落入网格）"),
        steps=steps,
        rateable=row["status"] in ("resolved", "verified", "closed")
        and not row["merged_into_code"],
        merged_into=(
            (
                row["merged_into_code"],
                states.get(row["merged_into_status"], row["merged_into_status"]),
                row["merged_into_token"],
            )
            if row["merged_into_code"]
            else None
        ),
        center_name=row["center_name"],
        center_phone=row["center_phone"],
    )


def case_states(
    session: Session, scope: Scope, codes: Sequence[str]
) -> dict[str, tuple[str, tuple[float, float] | None]]:
    """The status and point (WGS 84 lon, lat; None without one) of each case of ``codes`` that
    lies in ``scope`` (others are left out)."""
    if not codes:
        return {}
    rows = session.execute(
        text(
            "SELECT c.code, c.status, ST_X(c.geom), ST_Y(c.geom) FROM cases c "
            f"WHERE c.code = ANY(CAST(:codes AS varchar[])) AND {scope.case_condition('c')}"
        ),
        {"codes": list(codes)},
    )
    return {code: (status, None if lon is None else (lon, lat)) for code, status, lon, lat in rows}


def decide_duplicate_of(
    session: Session,
    scope: Scope,
    code: str,
    other_code: str,
    decision: str,
    actor: str,
    cipher: PiiCipher,
) -> CaseView:
    """An operator's verdict on a suggested duplicate of case ``code`` (both in scope)."""
    case_id = _case_row(session, scope, code)["id"]
    _case_row(session, scope, other_code)  # the other case must be visible too
    decide_duplicate(session, case_id, other_code, decision, actor)
    session.flush()
    return get_case(session, scope, code, cipher)
