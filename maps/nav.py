"""The pages a user can go to from any page: one menu, by permission.

Every page's title box (and the phone page's header) lists the other pages the logged-in user may
open, so an operator finds the command screen and a planner the grid editor without typing
addresses.
"""

from __future__ import annotations

from collections.abc import Callable

#: the app's pages: (label, path, the permission it needs)
PAGES: tuple[tuple[str, str, str], ...] = (
    ("综治网格地图", "/", "map:view"),
    ("指挥中心", "/maps/command", "map:view"),
    ("待办案件", "/queue", "case:handle"),
    ("案件查询", "/find", "case:read"),
    ("每日汇总", "/reports/daily", "case:read"),
    ("统计排名", "/reports/period", "case:read"),
    ("平安指数", "/maps/safety", "case:read"),
    ("网格员", "/workers", "case:read"),
    ("网格台账", "/grids", "case:read"),
    ("网格调整", "/maps/planner", "boundary:edit"),
    ("手机上报", "/m/", "case:report"),
    ("用户管理", "/users", "user:manage"),
    ("审计日志", "/audit", "audit:read"),
    ("数据导入", "/imports", "data:import"),
)


#: the same pages' labels in English (the second locale), by path
PAGES_EN: dict[str, str] = {
    "/": "Grid map",
    "/maps/command": "Command center",
    "/queue": "Case queue",
    "/find": "Find a case",
    "/reports/daily": "Daily roll-up",
    "/reports/period": "Period ranking",
    "/maps/safety": "Safety index",
    "/workers": "Grid workers",
    "/grids": "Grid ledger",
    "/maps/planner": "Grid planner",
    "/m/": "Field reports",
    "/users": "Users",
    "/audit": "Audit log",
    "/imports": "Data import",
    "/account": "My account",
}
#: every user's own page (password), last in every menu
ACCOUNT = ("我的账号", "/account")


def page_links(can: Callable[[str], bool], here: str, lang: str = "zh") -> list[tuple[str, str]]:
    """(label, path) of the pages ``can`` allows, then the user's own account page, but the
    one at ``here``; labels in ``lang``."""
    pages = [(label, path) for label, path, permission in PAGES if can(permission)] + [ACCOUNT]
    return [
        (PAGES_EN[path] if lang == "en" else label, path) for label, path in pages if path != here
    ]


def home_page(can: Callable[[str], bool]) -> str:
    """Where a user lands after logging in: the phone page for those who report but do not
    handle cases (grid workers), else the map."""
    return "/m/" if can("case:report") and not can("case:handle") else "/"
