"""Who may do what: the one permission table.  ``api`` asks :func:`allows`; nothing else decides.

Jurisdiction (which rows) is :mod:`gis.scope`'s business; this table says which actions.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    grid_worker = "grid_worker"  # 网格员: reports in their own grids
    operator = "operator"  # 综治中心工作人员: the center desk
    commander = "commander"  # 指挥中心: read-only command screens
    planner = "planner"  # 网格规划: boundaries
    admin = "admin"  # 系统管理员: everything, the whole deployment


ROLE_NAMES = {
    Role.grid_worker: "网格员",
    Role.operator: "综治中心工作人员",
    Role.commander: "指挥中心",
    Role.planner: "网格规划员",
    Role.admin: "系统管理员",
}
#: the same roles in English (the second locale)
ROLE_NAMES_EN = {
    Role.grid_worker: "grid worker",
    Role.operator: "center operator",
    Role.commander: "command center",
    Role.planner: "grid planner",
    Role.admin: "administrator",
}

#: Every permission an endpoint may declare, with what it lets one do in Chinese and English —
#: the words of a refusal: 您的角色（…）无权{zh} / Your role (…) may not {en}
PERMISSIONS: dict[str, tuple[str, str]] = {
    "map:view": ("打开地图页面", "open the map pages"),
    "boundary:read": ("查看区划、网格和综治中心", "read regions, grids and centers"),
    # 网格调整 and 配置网格员 (a grid's workers)
    "boundary:edit": ("调整网格边界、配置网格员", "redraw grids and staff them"),
    "locate": ("定位坐标", "locate a point"),
    "category:read": ("查看事项分类", "read the category catalogue"),
    "case:read": ("查看案件", "read cases"),
    "case:report": ("上报案件", "submit reports"),
    "case:triage": ("确认或解除疑似重复案件", "confirm or unlink possible duplicates"),
    # the closed loop: accept, dispatch, … close
    "case:handle": ("办理案件（受理、分派、办结等）", "handle cases (accept, dispatch, close …)"),
    # 办理记录 and 补充位置: a grid worker's on-site findings
    "case:note": (
        "填写办理记录、补充案件位置",
        "write handling notes on cases and give a case its missing point",
    ),
    # 现场核查; a grid worker: of their grids
    "case:verify": ("现场核查", "verify resolved cases on the spot"),
    "patrol:record": ("巡查打卡", "check in on patrol"),
    "patrol:read": ("查看巡查记录", "see grid workers' patrol check-ins"),
    # unmasked; each view audited
    "pii:read": ("查看居民个人信息", "see residents' personal data"),
    "user:manage": ("管理用户", "manage users"),
    "audit:read": ("查看审计日志", "read the audit log"),
    # boundaries, rosters and case history from files (数据导入)
    "data:import": ("导入数据", "import data from files"),
}

_READ = {"map:view", "boundary:read", "locate", "category:read", "case:read", "patrol:read"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.grid_worker: frozenset(
        _READ | {"case:report", "case:note", "case:verify", "patrol:record"}
    ),
    Role.operator: frozenset(
        _READ
        | {"case:report", "case:triage", "case:handle", "case:note", "case:verify", "pii:read"}
    ),
    Role.commander: frozenset(_READ),
    Role.planner: frozenset(_READ | {"boundary:edit"}),
    Role.admin: frozenset(PERMISSIONS),
}


def allows(role: Role, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (an unknown permission is a programming error)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS[role]
