"""一主任三大员: a grid worker's part in a grid's team, its names and its rules.

Apart from :mod:`gis.workers` (the roster, which reads the cases) so that the layout's own
modules (:mod:`gis.edits`, :mod:`gis.ledger`) may check parts without the case modules.
"""

from __future__ import annotations

from gis.errors import InvalidInput

#: a grid worker's part in a grid's team (一主任三大员: the grid chief and the three officers),
#: in the order a team is listed; one chief a grid
GRID_ROLES: dict[str, tuple[str, str]] = {
    "chief": ("网格长", "grid chief"),
    "manager": ("网格管理员", "grid manager"),
    "informant": ("网格信息员", "grid informant"),
    "supervisor": ("网格监督员", "grid supervisor"),
}


def role_name(role: str, lang: str = "zh") -> str:
    """A grid worker's part in a grid's team, in ``lang`` (the code itself if unknown)."""
    zh, en = GRID_ROLES.get(role, (role, role))
    return en if lang == "en" else zh


def check_roles(workers: list[str], roles: dict[str, str]) -> None:
    """422 unless ``roles`` gives parts of :data:`GRID_ROLES` to some of ``workers`` (their
    codes), one chief at most."""
    strangers = sorted(set(roles) - set(workers))
    if strangers:
        raise InvalidInput(
            f"分工（roles）中的 {'、'.join(strangers)} 不在所配网格员（workers）之列。",
            f"roles names {', '.join(strangers)}, who are not among the workers given.",
            field="roles",
        )
    unknown = sorted({r for r in roles.values() if r not in GRID_ROLES})
    if unknown:
        raise InvalidInput(
            f"没有这种分工：{'、'.join(unknown)}。可选："
            + "、".join(f"{k}（{zh}）" for k, (zh, _) in GRID_ROLES.items()),
            f"No such role: {', '.join(unknown)}. Choose from: {', '.join(GRID_ROLES)}.",
            field="roles",
        )
    chiefs = sorted(w for w, r in roles.items() if r == "chief")
    if len(chiefs) > 1:
        raise InvalidInput(
            f"一个网格只设一名网格长，收到 {len(chiefs)} 名：{'、'.join(chiefs)}。"
            "请把其余几位设为网格管理员、信息员或监督员。",
            f"A grid has one grid chief; {len(chiefs)} were given: {', '.join(chiefs)}. Make "
            "the others manager, informant or supervisor.",
            field="roles",
        )


def role_rank_sql(alias: str) -> str:
    """SQL: the rank of ``worker_grid`` row ``alias``'s role in :data:`GRID_ROLES` (chief
    first), to list a team in its order."""
    roles = ", ".join(f"'{r}'" for r in GRID_ROLES)
    return f"array_position(ARRAY[{roles}], CAST({alias}.role AS text))"
