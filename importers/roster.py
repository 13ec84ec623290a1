"""Importing the roster: grid workers (网格员) and user accounts from CSV/XLSX.

One row per person: name, mobile phone, role, region, grids (separated by ``;`` ``，`` ``、`` or
spaces), and optionally a worker code (工号) and a user name (用户名).  Regions and grids are
given by code or by name (:func:`_named_places`).

- A **grid worker** row becomes a ``worker`` with exactly the grids listed (current grids of one
  village; the village is the row's region, or found from the grids).  Upsert by worker code; a
  row without one matches the worker with the same phone, else gets the next free
  ``W<village><nn>``.  So re-running the same file changes nothing.
- A grid worker's **part in the team** of their grids (网格分工, 一主任三大员: 网格长 chief,
  网格管理员 manager, 网格信息员 informant, 网格监督员 supervisor) comes from a 网格分工 column,
  or from a 岗位 that names one (网格长).  A row naming a grid's chief makes whoever was its
  chief a manager; without a part, a worker keeps the one they had, and a newcomer is the chief
  of a team without one, else a manager.  Two rows naming the same grid's chief: the second is
  rejected.
- A row with a **user name** also gets a login account with that role and region (grid workers'
  accounts are linked to their worker record).  New accounts get a random initial password,
  written only to the ``--passwords`` file (mode 0600); existing accounts keep their password and
  are updated in place.  Administrator accounts are never created or changed by an import.
- Invalid rows (no name, a phone that is not a mainland mobile number, an unknown role, part,
  region or grid, a grid of another village, the same person twice) are listed and skipped;
  ``--strict`` refuses the whole file instead.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import audit
from gis.errors import InvalidInput
from gis.passwords import initial_password
from gis.permissions import Role
from gis.pii import normalize_phone
from gis.users import add_user, end_sessions
from importers.core import (
    SCIENTIFIC,
    SCIENTIFIC_FIX,
    Both,
    ImportReport,
    Issue,
    Progress,
    field_options,
    import_transaction,
    pick_fields,
    read_table,
    refuse_if_strict,
    regions_named,
    require_fields,
    sheet_notes,
    short_code,
)

#: usual column names of a roster (compared as ``core.field_key`` spells them)
ROSTER_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("工号", "人员编号", "网格员编号", "编号", "CODE", "WORKER_CODE", "ID"),
    "name": ("姓名", "名字", "NAME", "XM"),
    "phone": (
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "联系方式",
        "移动电话",
        "电话",
        "PHONE",
        "MOBILE",
        "TEL",
    ),
    "role": ("角色", "岗位", "职务", "人员类型", "ROLE"),
    "region": (
        "所属区划",
        "区划代码",
        "所属区划代码",
        "所属社区",
        "所属村社区",
        "村社区代码",
        "所属村",
        "所属村居",
        "社区编码",
        "REGION",
        "REGION_CODE",
    ),
    "grids": (
        "网格编码",
        "网格编号",
        "负责网格",
        "负责网格编码",
        "所属网格",
        "所属网格编码",
        "网格",
        "GRIDS",
        "GRID_CODES",
        "GRID",
    ),
    "username": ("用户名", "账号", "登录名", "登录账号", "USERNAME", "LOGIN", "ACCOUNT"),
    "part": ("网格分工", "网格职务", "分工", "网格角色", "PART", "GRID_ROLE"),
}

#: role words of real rosters → role; compared after removing spaces, case-insensitively
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "grid_worker": ("网格员", "专职网格员", "兼职网格员", "专属网格员", "社区网格员", "村网格员",
                    "网格长", "网格管理员", "专职网格管理员", "网格信息员", "网格专干",
                    "GRID_WORKER", "WORKER"),
    "operator": ("综治中心工作人员", "工作人员", "综治专干", "受理员", "坐席", "综治中心人员",
                 "中心工作人员", "综治办工作人员", "调解员", "人民调解员", "接线员", "值班员",
                 "OPERATOR"),
    "commander": ("指挥中心", "指挥", "领导", "值班领导", "中心主任", "综治中心主任", "分管领导",
                  "COMMANDER"),
    "planner": ("网格规划员", "规划员", "PLANNER"),
    "admin": ("系统管理员", "管理员", "ADMIN"),
}  # fmt: skip
_ROLE_OF = {w.upper(): role for role, words in ROLE_WORDS.items() for w in words}
#: a grid worker's part in a grid's team (一主任三大员, gis.roles.GRID_ROLES) in the words of
#: rosters: the 网格分工 column, or else a 岗位 that names one (网格长)
PART_WORDS: dict[str, tuple[str, ...]] = {
    "chief": ("网格长", "网格主任", "网格组长", "主任", "组长", "CHIEF"),
    "manager": ("网格管理员", "专职网格管理员", "管理员", "专职网格员", "兼职网格员", "网格员",
                "网格专干", "MANAGER"),
    "informant": ("网格信息员", "信息员", "INFORMANT"),
    "supervisor": ("网格监督员", "监督员", "网格督导员", "督导员", "SUPERVISOR"),
}  # fmt: skip
_PART_OF = {w.upper(): part for part, words in PART_WORDS.items() for w in words}
#: 岗位 words that say the part too (网格员 alone does not: the grid's chief may be one)
_PART_OF_ROLE_WORD = {
    w.upper(): _PART_OF[w.upper()] for w in ("网格长", "网格管理员", "专职网格管理员", "网格信息员")
}
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
_GRID_SEPARATORS = re.compile(r"[;；,，、/|\s]+")


def normalise_phone(raw: str | None) -> str | None:
    """A mainland mobile number as 11 digits (as :func:`gis.pii.normalize_phone` reads it, and
    without a spreadsheet's ``.0``), or None when it is not one."""
    if not raw:
        return None
    s = normalize_phone(unicodedata.normalize("NFKC", str(raw)).strip().removesuffix(".0"))
    return s if _MOBILE.match(s) else None


def _word(raw: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw or "")).upper()


def part_of(word: str | None, role_word: str | None = None) -> str | None:
    """The part in a grid's team a roster's 网格分工 word names (``""``: unknown word); without
    one, the part its 岗位 word names (网格长), else None: the import's rule decides."""
    w = _word(word)
    if w:
        return _PART_OF.get(w) or _PART_OF.get(re.sub(r"\([^()]*\)", "", w)) or ""
    return _PART_OF_ROLE_WORD.get(_word(role_word))


def role_of(word: str | None, has_grids: bool) -> Role | None:
    """The role a roster's word names; an empty word means a grid worker when grids are listed."""
    w = re.sub(r"\s+", "", unicodedata.normalize("NFKC", word or "")).upper()
    if not w:
        return Role.grid_worker if has_grids else None
    name = _ROLE_OF.get(w) or _ROLE_OF.get(re.sub(r"\([^()]*\)", "", w))  # 网格员（专职）
    return Role(name) if name else None


@dataclass
class RosterOptions:
    commit: bool = False
    encoding: str | None = None
    strict: bool = False
    passwords: Path | None = None  # where new accounts' initial passwords go (CSV, mode 0600)
    code_field: str | None = None
    name_field: str | None = None
    fields: list[str] | None = None  # --field ROLE=COLUMN (core.field_options)


@dataclass
class _Person:
    line: int
    name: str
    role: Role
    phone: str | None
    region: str | None
    grids: list[str] = field(default_factory=list)
    code: str | None = None  # worker code
    username: str | None = None
    part: str | None = None  # their part in their grids' teams; None: kept, or the rule's


def _cell(frame: pd.DataFrame, mapping: dict[str, str], role: str, i: int) -> str:
    if role not in mapping:
        return ""
    value = frame[mapping[role]].iloc[i]
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip().removesuffix(".0") if role != "name" else str(value).strip()


def import_workers(session: Session, path: Path, opts: RosterOptions) -> ImportReport:
    """Workers and user accounts from a roster (CSV/XLSX); see the module's doc."""
    started = time.perf_counter()
    report = ImportReport(
        Both("网格员与用户", "workers and users", "workers 网格员与用户"), path.name
    )
    frame = read_table(path, opts.encoding, [c for names in ROSTER_FIELDS.values() for c in names])
    lines = sheet_notes(frame, report)
    roles = ["code", "name", "phone", "role", "region", "grids", "username", "part"]
    mapping = pick_fields(
        frame.columns,
        roles,
        field_options(
            opts.fields, ROSTER_FIELDS, {"code": opts.code_field, "name": opts.name_field}
        ),
        candidates=ROSTER_FIELDS,
    )
    require_fields(mapping, ["name"], frame.columns, ROSTER_FIELDS)
    if "grids" not in mapping and "username" not in mapping:
        require_fields(mapping, ["grids"], frame.columns, ROSTER_FIELDS)
    report.mapping = mapping
    report.rows = len(frame) + len(report.rejected)  # (rows a Sheet rejected: too wide)

    people = _parse_rows(frame, mapping, report, lines)
    people = _named_places(session, people, report)
    grid_village: dict[str, str] = dict(
        session.execute(
            text("""
            SELECT g.code, r.code FROM grid g JOIN region r ON r.id = g.village_id
            WHERE g.valid_to IS NULL AND g.code = ANY(CAST(:codes AS varchar[]))
        """),
            {"codes": sorted({g for p in people for g in p.grids})},
        ).all()
    )
    region_level: dict[str, str] = dict(
        session.execute(
            text("SELECT code, level::text FROM region WHERE code = ANY(CAST(:c AS varchar[]))"),
            {"c": sorted({p.region for p in people if p.region})},
        ).all()
    )
    people = [p for p in people if _check_places(p, grid_village, region_level, report)]
    existing_users = {
        r.username: r
        for r in session.execute(
            text("""
            SELECT u.username, u.role::text AS role, r.code AS region, w.code AS worker,
                   u.display_name
            FROM app_user u LEFT JOIN region r ON r.id = u.region_id
                            LEFT JOIN worker w ON w.id = u.worker_id
            WHERE lower(u.username) = ANY(CAST(:names AS text[]))
        """),
            {"names": [p.username.lower() for p in people if p.username]},
        )
    }
    # a roster's Zhang.San is the account zhang.san (logins ignore letter case), spelt as it is
    spelt = {name.lower(): name for name in sorted(existing_users)}
    for p in people:
        if p.username and p.username not in existing_users and p.username.lower() in spelt:
            p.username = spelt[p.username.lower()]
    for p in list(people):
        old = existing_users.get(p.username) if p.username else None
        if old is not None and old.role == Role.admin.value:
            report.rejected.append(
                Issue(
                    "rejected",
                    p.username,
                    Both(
                        f"{p.username} 是系统管理员账号，导入不会修改管理员",
                        f"{p.username} is an administrator: an import never changes one",
                    ).line(p.line),
                )
            )
            people.remove(p)
    new_accounts = [p for p in people if p.username and p.username not in existing_users]
    if opts.commit and new_accounts and opts.passwords is None:
        raise InvalidInput(
            f"将新建 {len(new_accounts)} 个登录账号，需要 --passwords FILE 保存初始密码"
            "（仅写入该文件，权限 0600）。",
            f"{len(new_accounts)} new accounts need --passwords FILE for their initial passwords "
            "(written only there, mode 0600).",
            field="passwords",
        )
    refuse_if_strict(report, opts.strict)

    with import_transaction(session, report, opts.commit):
        _assign_worker_codes(session, people)
        progress = Progress(Both("导入网格员", "importing workers"), len(people))
        for n, p in enumerate(people, 1):
            if p.role is Role.grid_worker:
                state = _upsert_worker(session, p)
                getattr(report, state).append(f"worker:{p.code}")
            progress.update(n, Both("网格员", "workers"))
        passwords: list[tuple[str, str]] = []
        for n, p in enumerate(q for q in people if q.username):
            assert p.username is not None
            state, password = _upsert_user(session, p, existing_users.get(p.username))
            getattr(report, state).append(f"user:{p.username}")
            if password:
                passwords.append((p.username, password))
            progress.update(n, Both("账号", "accounts"))
        progress.done()
        if opts.commit and passwords and opts.passwords is not None:
            _write_passwords(opts.passwords, passwords)
    if new_accounts and not opts.commit:
        report.warnings.append(
            Both(
                f"将新建 {len(new_accounts)} 个账号，初始密码写入 --passwords 指定的文件",
                f"{len(new_accounts)} accounts would be created; passwords go to --passwords FILE",
            )
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _parse_rows(
    frame: pd.DataFrame, mapping: dict[str, str], report: ImportReport, lines: list[int] | None
) -> list[_Person]:
    people: list[_Person] = []
    seen_code: dict[str, int] = {}
    seen_phone: dict[str, int] = {}
    seen_user: dict[str, int] = {}
    seen_chief: dict[str, int] = {}  # grid → the line that names its chief
    for i in range(len(frame)):
        line = lines[i] if lines else i + 2  # (the header on line 1)
        name = _cell(frame, mapping, "name", i)
        grids = [g for g in _GRID_SEPARATORS.split(_cell(frame, mapping, "grids", i)) if g]
        raw_phone = _cell(frame, mapping, "phone", i)
        username = _cell(frame, mapping, "username", i) or None
        code = _cell(frame, mapping, "code", i) or None
        role = role_of(_cell(frame, mapping, "role", i), bool(grids))
        part = part_of(_cell(frame, mapping, "part", i), _cell(frame, mapping, "role", i))
        label = name or code or username or f"#{line}"
        chiefs_before = sorted(
            {seen_chief[g] for g in grids if g in seen_chief} if part == "chief" else set()
        )

        def reject(zh: str, en: str, label: str = label, line: int = line) -> None:
            report.rejected.append(Issue("rejected", label, Both(zh, en).line(line)))

        phone = normalise_phone(raw_phone)
        if not name:
            reject("缺少姓名", "no name")
        elif role is None:
            words = "、".join(ROLE_WORDS["grid_worker"][:2] + ROLE_WORDS["operator"][:1])
            reject(
                f"角色 {_cell(frame, mapping, 'role', i)!r} 无法识别（可用：{words} 等）",
                f"unknown role {_cell(frame, mapping, 'role', i)!r} (grid worker, operator …)",
            )
        elif role is Role.admin:
            reject("系统管理员账号不能批量导入", "administrators are not imported")
        elif raw_phone and phone is None and SCIENTIFIC.match(raw_phone):
            reject(
                f"手机号 {raw_phone!r} 被 Excel 写成了科学计数法，号码已丢失。{SCIENTIFIC_FIX[0]}",
                f"the phone was written by Excel in scientific format and is lost. "
                f"{SCIENTIFIC_FIX[1]}",
            )
        elif raw_phone and phone is None:
            reject(
                f"手机号 {raw_phone!r} 不是有效的大陆手机号",
                f"{raw_phone!r} is not a mainland mobile number",
            )
        elif role is Role.grid_worker and phone is None:
            reject("网格员须有手机号", "a grid worker needs a mobile phone")
        elif role is Role.grid_worker and not grids:
            reject("网格员须列出负责的网格编码", "a grid worker needs grid codes")
        elif role is Role.grid_worker and part == "":
            words = "、".join(words[0] for words in PART_WORDS.values())
            reject(
                f"网格分工 {_cell(frame, mapping, 'part', i)!r} 无法识别（可用：{words}）",
                f"unknown part {_cell(frame, mapping, 'part', i)!r} in the grid's team (chief, "
                "manager, informant, supervisor)",
            )
        elif role is Role.grid_worker and chiefs_before:
            reject(
                f"网格长重复：第 {chiefs_before[0]} 行已是同一网格的网格长（一个网格只设一名）",
                f"a second chief for the same grid: line {chiefs_before[0]} is its chief (one "
                "per grid)",
            )
        elif role is not Role.grid_worker and not username:
            reject("非网格员须有用户名（账号）", "needs a user name")
        elif username and not _USERNAME.match(username):
            reject(
                f"用户名 {username!r} 只能含字母、数字、_ . -",
                f"bad user name {username!r}: letters, digits, _ . - only",
            )
        elif code and len(code) > 20:
            reject(f"工号 {code!r} 超过 20 个字符", f"worker code {code!r} longer than 20")
        elif role is Role.grid_worker and code and code in seen_code:
            reject(
                f"工号 {code} 与第 {seen_code[code]} 行重复",
                f"worker code {code} is on line {seen_code[code]} too",
            )
        elif role is Role.grid_worker and phone in seen_phone:
            reject(
                f"手机号与第 {seen_phone[str(phone)]} 行重复",
                f"the phone is on line {seen_phone[str(phone)]} too",
            )
        elif username and username.lower() in seen_user:  # (logins ignore letter case)
            reject(
                f"用户名 {username} 与第 {seen_user[username.lower()]} 行重复",
                f"user name {username} is on line {seen_user[username.lower()]} too",
            )
        else:
            if role is Role.grid_worker:
                if code:
                    seen_code[code] = line
                seen_phone[str(phone)] = line
                if part == "chief":
                    seen_chief |= dict.fromkeys(grids, line)
            if username:
                seen_user[username.lower()] = line
            region = short_code(_cell(frame, mapping, "region", i)) or None
            people.append(
                _Person(line, name, role, phone, region, grids, code, username,
                        part if role is Role.grid_worker else None)
            )  # fmt: skip
    return people


#: a region's or grid's code: digits; anything else in those columns is a name
_CODE = re.compile(r"^\d+$")


def _named_places(session: Session, people: list[_Person], report: ImportReport) -> list[_Person]:
    """Regions and grids a roster names instead of giving their codes, as rosters kept by hand
    do (所属社区 兴沙社区, 网格 兴沙社区第1网格, or 第1网格 within the row's village), read as
    their codes.  A name that several regions or current grids share rejects its row, listing
    them with their parents; a name nothing has is left for the checks (unknown region, grid)."""
    regions = regions_named(
        session, [p.region for p in people if p.region and not _CODE.match(p.region)]
    )
    kept, by_name = [], 0
    for p in people:

        def reject(zh: str, en: str, p: _Person = p) -> None:
            report.rejected.append(Issue("rejected", p.name, Both(zh, en).line(p.line)))

        if p.region and not _CODE.match(p.region):
            found = regions.get(p.region, [])
            if p.role is Role.grid_worker and len(found) > 1:
                found = [r for r in found if r[1] == "village"] or found
            if len(found) > 1:
                listed = "、".join(f"{code}（{parent}）" for code, _, parent in found)
                reject(
                    f"区划名称 {p.region} 有 {len(found)} 个：{listed}，请写区划代码",
                    f"{len(found)} regions are named {p.region} ("
                    + ", ".join(f"{code} in {parent}" for code, _, parent in found)
                    + "): give its code",
                )
                continue
            if found:
                p.region, by_name = found[0][0], by_name + 1
        kept.append(p)
    named = [(p.region or "", g) for p in kept for g in p.grids if not _CODE.match(g)]
    grids: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (village, name) → grid, village
    for village, word, code, of in session.execute(
        text("""SELECT n.village, n.word, g.code, r.code
                FROM unnest(CAST(:villages AS text[]), CAST(:words AS text[])) AS n(village, word)
                JOIN grid g ON g.valid_to IS NULL
                JOIN region r ON r.id = g.village_id
                WHERE (g.name = n.word AND (n.village = '' OR r.code = n.village))
                   OR (r.code = n.village AND g.name = r.name || n.word)
                ORDER BY g.code"""),
        {"villages": [v for v, _ in named], "words": [w for _, w in named]},
    ):
        grids.setdefault((village, word), []).append((code, of))
    out = []
    for p in kept:
        codes, ok = [], True
        for g in p.grids:
            hits = grids.get((p.region or "", g), []) if not _CODE.match(g) else [(g, "")]
            if len(hits) > 1:
                listed = "、".join(f"{code}（{village}）" for code, village in hits)
                report.rejected.append(
                    Issue("rejected", p.name, Both(
                        f"网格名称 {g} 有 {len(hits)} 个：{listed}，请写网格编码或所属村（社区）",
                        f"{len(hits)} grids are named {g} ("
                        + ", ".join(f"{code} in {village}" for code, village in hits)
                        + "): give the grid's code or "
                        "its village").line(p.line))
                )  # fmt: skip
                ok = False
                break
            codes.append(hits[0][0] if hits else g)
            by_name += bool(hits) and hits[0][0] != g
        if ok:
            p.grids = codes
            out.append(p)
    if by_name:
        report.warnings.append(
            Both(
                f"{by_name} 个区划或网格按名称找到了编码",
                f"{by_name} regions or grids found by name",
            )
        )
    return out


def _check_places(
    p: _Person, grid_village: dict[str, str], region_level: dict[str, str], report: ImportReport
) -> bool:
    """Regions and grids exist; a grid worker's grids are of one village (the row's region)."""

    def reject(zh: str, en: str) -> bool:
        report.rejected.append(Issue("rejected", p.name, Both(zh, en).line(p.line)))
        return False

    if p.region and p.region not in region_level:
        return reject(f"区划 {p.region} 不存在", f"unknown region {p.region}")
    unknown = [g for g in p.grids if g not in grid_village]
    if unknown:
        return reject(
            f"网格 {'、'.join(unknown)} 不存在（或已撤销）",
            f"unknown (or retired) grid {', '.join(unknown)}",
        )
    if p.role is Role.grid_worker:
        villages = sorted({grid_village[g] for g in p.grids})
        if p.region and region_level[p.region] != "village":
            return reject(
                f"网格员的区划须为村（社区），{p.region} 不是",
                f"a grid worker's region is a village; {p.region} is not",
            )
        if p.region and villages != [p.region]:
            other = [g for g in p.grids if grid_village[g] != p.region]
            return reject(
                f"网格 {'、'.join(other)} 不属于 {p.region}",
                f"grid {', '.join(other)} is not of {p.region}",
            )
        if len(villages) > 1:
            return reject(
                f"网格分属多个村（社区）：{'、'.join(villages)}",
                f"grids of more than one village: {', '.join(villages)}",
            )
        p.region = villages[0]
    elif not p.region:
        return reject("缺少所属区划代码", "no region code")
    return True


def _assign_worker_codes(session: Session, people: list[_Person]) -> None:
    """Codes for workers without one: the existing worker with the same phone, else the next free
    ``W<village><nn>``."""
    workers = [p for p in people if p.role is Role.grid_worker and not p.code]
    if not workers:
        return
    by_phone: dict[str, str] = dict(
        session.execute(
            text("SELECT phone, code FROM worker WHERE phone = ANY(CAST(:p AS text[]))"),
            {"p": [p.phone for p in workers]},
        ).all()
    )
    taken = set(
        session.execute(
            text("SELECT code FROM worker WHERE code LIKE ANY(CAST(:prefixes AS text[]))"),
            {"prefixes": [f"W{p.region}%" for p in workers]},
        ).scalars()
    )
    taken |= {p.code for p in people if p.code}
    for p in workers:
        if p.phone in by_phone:
            p.code = by_phone[p.phone]
            continue
        n = 1
        while (code := f"W{p.region}{n:02d}") in taken:
            n += 1
        p.code = code
        taken.add(code)


def _upsert_worker(session: Session, p: _Person) -> str:
    row = session.execute(
        text("""
        SELECT w.id, w.name, w.phone, r.code AS region,
               coalesce(array_agg(wg.grid_code ORDER BY wg.grid_code)
                        FILTER (WHERE wg.grid_code IS NOT NULL), '{}') AS grids,
               coalesce(array_agg(wg.role ORDER BY wg.grid_code)
                        FILTER (WHERE wg.grid_code IS NOT NULL), '{}') AS parts
        FROM worker w LEFT JOIN region r ON r.id = w.region_id
                      LEFT JOIN worker_grid wg ON wg.worker_id = w.id
        WHERE w.code = :code GROUP BY w.id, r.code
    """),
        {"code": p.code},
    ).one_or_none()
    grids = sorted(set(p.grids))
    if (
        row is not None
        and (row.name, row.phone, row.region, list(row.grids)) == (p.name, p.phone, p.region, grids)
        and (p.part is None or set(row.parts) <= {p.part})
    ):
        return "unchanged"
    worker_id = session.execute(
        text("""
        INSERT INTO worker (code, name, phone, region_id)
        SELECT :code, :name, :phone, id FROM region WHERE code = :region
        ON CONFLICT (code) DO UPDATE SET name = excluded.name, phone = excluded.phone,
            region_id = excluded.region_id
        RETURNING id
    """),
        {"code": p.code, "name": p.name, "phone": p.phone, "region": p.region},
    ).scalar_one()
    session.execute(
        text("""
        DELETE FROM worker_grid
        WHERE worker_id = :id AND grid_code <> ALL(CAST(:grids AS varchar[]))
    """),
        {"id": worker_id, "grids": grids},
    )
    if p.part == "chief":  # the roster names the grids' chief: whoever was becomes a manager
        session.execute(
            text("""
            UPDATE worker_grid SET role = 'manager'
            WHERE grid_code = ANY(CAST(:grids AS varchar[])) AND role = 'chief'
              AND worker_id <> :id
        """),
            {"id": worker_id, "grids": grids},
        )
    session.execute(
        text("""
        INSERT INTO worker_grid (worker_id, grid_code, role)
        SELECT :id, g, coalesce(CAST(:part AS text), CASE WHEN EXISTS (
                   SELECT 1 FROM worker_grid x
                   WHERE x.grid_code = g AND x.role = 'chief' AND x.worker_id <> :id)
               THEN 'manager' ELSE 'chief' END)  -- a newcomer to a team with a chief: a manager
        FROM unnest(CAST(:grids AS varchar[])) g
        ON CONFLICT (worker_id, grid_code) DO UPDATE SET role = excluded.role
        WHERE CAST(:part AS text) IS NOT NULL AND worker_grid.role <> excluded.role
    """),
        {"id": worker_id, "grids": grids, "part": p.part},
    )
    return "created" if row is None else "updated"


def _upsert_user(session: Session, p: _Person, old: Any) -> tuple[str, str | None]:
    """``(state, initial password or None)``; the password only for a new account."""
    worker = p.code if p.role is Role.grid_worker else None
    display = p.name
    if old is not None:
        if (old.role, old.region, old.worker, old.display_name) == (
            p.role.value,
            p.region,
            worker,
            display,
        ):
            return "unchanged", None
        session.execute(
            text("""
            UPDATE app_user SET role = CAST(:role AS user_role), display_name = :display,
                region_id = (SELECT id FROM region WHERE code = :region),
                worker_id = (SELECT id FROM worker WHERE code = :worker)
            WHERE username = :username
        """),
            {
                "role": p.role.value,
                "display": display,
                "region": p.region,
                "worker": worker,
                "username": p.username,
            },
        )
        if (old.role, old.region) != (p.role.value, p.region):
            # a new role or jurisdiction: sessions opened under the old one end
            user_id = session.execute(
                text("SELECT id FROM app_user WHERE username = :u"), {"u": p.username}
            ).scalar_one()
            end_sessions(session, user_id)
        audit.record(
            session,
            "user.update",
            success=True,
            username="import",
            object=f"user:{p.username}",
            detail={"role": p.role.value, "region": p.region},
        )
        return "updated", None
    password = initial_password()
    add_user(
        session,
        str(p.username),
        p.role,
        password,
        region_code=p.region,
        worker_code=worker,
        display_name=display,
        actor="import",
        must_change=True,  # an initial password, handed over: its user replaces it
    )
    return "created", password


def _write_passwords(path: Path, passwords: list[tuple[str, str]]) -> None:
    """The initial passwords, readable by the owner only (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig") as f:
        f.write("用户名 username,初始密码 initial password\n")
        f.writelines(f"{u},{pw}\n" for u, pw in passwords)
