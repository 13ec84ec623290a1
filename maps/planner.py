"""The planner's map (``/maps/planner?village=CODE``): the village's grids, the Draw tools, the
operations of an edit set, its findings and preview on the map, commit or discard.

A pure builder: options in, :class:`folium.Map` out; ``planner.js`` talks to ``/api/edits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Template

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Draw

from gis.edits import OP_NAMES_EN
from gis.roles import GRID_ROLES, role_name
from gis.settings import BaseMapSpec
from maps.command import finish_map, framed_map

#: what planner.js writes, Chinese first and English second ({n}, {village} … filled in there)
PLANNER_TEXT: dict[str, dict] = {
    "zh": {
        "lang": "zh",
        "states": {"added": "新增", "changed": "调整", "retired": "撤销", "unchanged": "未变"},
        "edit_title": "{village} 网格调整",
        "pick_first": "请先点选要拆分的网格",
        "expired": "登录已超时，未能提交；所画图形和填写的内容仍在本页。请在新标签页重新登录后，"
        "回到本页再点一次同一按钮。",
        "log_in_again": "重新登录（新标签页）",
        "resumed": "已接续您未提交的调整方案 #{id}：之前的 {n} 项操作都在，"
        "可继续调整、提交或放弃。",
        "person": "{name}（{account}）",
        "others": "{by}在本村有未提交的调整方案 #{id}（{n} 项操作，最后修改 {at}）："
        "两个方案改到同一网格时，先提交的生效，后提交的须重新调整。",
        "help": "点选网格（可多选）；用左侧工具画分割线或新边界（{m} 米内自动吸附相邻边界）。",
        "other_village": "属于{village}：请在该村（社区）的网格调整页面修改",
        "selected": "已选：",
        "list_sep": "、",
        "none": "（无）",
        "nothing": "无",
        "colon": "：",
        "split": "按线拆分",
        "carve": "拆出所画区域",
        "redraw": "重绘所选网格",
        "create": "新建网格",
        "merge": "合并所选",
        "retire": "撤销（并入相邻）",
        "uncover": "撤销（留空）",
        "rename": "名称与户数",
        "attrs_title": "网格 {grid} 的名称、户数与人口",
        "attr_name": "名称",
        "attr_households": "户数",
        "attr_population": "人口",
        "staff": "配置网格员",
        "staff_title": "网格 {grid} 的网格员",
        "staff_help": "勾选本网格的网格员并选择分工（自动：原有分工不变，新配的无网格长时任"
        "网格长）；提交方案时生效，其他网格的配置不变。",
        "staff_none": "本村（社区）暂无网格员，请先在网格员名册中添加。",
        "staff_other_grids": "另管 {n} 个网格",
        "role_auto": "分工：自动",
        "staff_save": "加入方案",
        "staff_confirm_empty": "未勾选任何人：该网格将没有网格员。确定？",
        "staff_cancel": "取消",
        "clear": "清除所画",
        "edit_set": "调整方案 #",
        "valid": "校验通过",
        "blocking": "{n} 处问题须先解决",
        "preview": "新增 {added}，调整 {changed}，撤销 {retired} 个网格；"
        "在办及待核查案件改派 {cases} 件",
        "center_changed": "（其中 {n} 件责任中心变化）",
        "workers_moved": "；网格员变动 {n} 人",
        "cases_moved": "改派案件",
        "workers_changed": "网格员变动",
        "households_changed": "户数变动",
        "commit": "提交方案",
        "discard": "放弃方案",
        "committed": "已提交方案 #{id}：新增 {added}，调整 {changed}，撤销 {retired}；"
        "改派案件 {cases} 件",
        "records": "网格档案：",
        "ops": {},
    },
    "en": {
        "lang": "en",
        "states": {
            "added": "added",
            "changed": "changed",
            "retired": "retired",
            "unchanged": "unchanged",
        },
        "edit_title": "{village}: grid edits",
        "pick_first": "Select the grid to split first",
        "expired": "Your login has expired: nothing was sent, and what you drew and entered is "
        "still here. Log in again in a new tab, then press the same button again on this page.",
        "log_in_again": "Log in again (new tab)",
        "resumed": "Your edit set #{id}, not yet committed, is open again with its {n} operations, "
        "to go on with, commit or discard.",
        "person": "{name} ({account})",
        "others": "{by} has an edit set here not yet committed, #{id} ({n} operations, last "
        "changed {at}): where two sets change the same grid, the first committed stands and "
        "the other must be redone.",
        "help": "Click grids to select them (several for a merge); draw a split line or a new "
        "boundary with the tools on the left (edges within {m} m snap to their neighbours).",
        "other_village": "In {village}: edit it on that village's grid-edit page",
        "selected": "Selected: ",
        "list_sep": ", ",
        "none": "(none)",
        "nothing": "none",
        "colon": ": ",
        "split": "Split along the line",
        "carve": "Carve out the drawn area",
        "redraw": "Redraw the grid",
        "create": "New grid",
        "merge": "Merge the selected",
        "retire": "Retire (into neighbours)",
        "uncover": "Retire (leave uncovered)",
        "rename": "Name and households",
        "attrs_title": "Name, households and people of {grid}",
        "attr_name": "Name",
        "attr_households": "Households",
        "attr_population": "People",
        "staff": "Grid workers",
        "staff_title": "Grid workers of {grid}",
        "staff_help": "Tick the grid's workers and choose their parts (automatic: a worker keeps "
        "their part, a newcomer leads a team without a chief); it takes effect when the edit set "
        "is committed, and their other grids stay as they are.",
        "staff_none": "The village has no grid workers yet: add them to the roster first.",
        "staff_other_grids": "{n} other grids",
        "role_auto": "Part: automatic",
        "staff_save": "Add to the edit set",
        "staff_confirm_empty": "Nobody is ticked: the grid will have no grid workers. Go on?",
        "staff_cancel": "Cancel",
        "clear": "Clear the drawing",
        "edit_set": "Edit set #",
        "valid": "Checks passed",
        "blocking": "{n} problems to solve first",
        "preview": "{added} grids added, {changed} changed, {retired} retired; {cases} open cases "
        "and cases to verify reassigned",
        "center_changed": " ({n} to another center)",
        "workers_moved": "; {n} grid workers affected",
        "cases_moved": "Cases reassigned",
        "workers_changed": "Grid workers affected",
        "households_changed": "Households changed",
        "commit": "Commit",
        "discard": "Discard",
        "committed": "Edit set #{id} committed: {added} added, {changed} changed, {retired} "
        "retired; {cases} cases reassigned",
        "records": "Grid records:",
        "ops": dict(OP_NAMES_EN),
    },
}


@dataclass(frozen=True)
class PlannerOptions:
    """The village being edited and the tolerance new edges snap within."""

    village: str
    village_name: str
    tolerance_m: float = 1.0
    #: below this zoom (and below the village's own view) panning fetches no more grids
    min_zoom: int = 13
    lang: str = "zh"  # the words of the panel (PLANNER_TEXT)
    #: the grid workers a grid of the village may be given (``assign``): code, name and the
    #: grids they have now with their part in each (gis.ledger.village_workers)
    workers: tuple[dict, ...] = ()
    #: the planner's own open edit set with work in the village, taken up again by the page: its
    #: id and operations (gis.edits.open_edit_of)
    open_edit: dict | None = None
    #: other planners' open edit sets with work in the village (gis.edits.others_open_in)
    others: tuple[dict, ...] = ()

    @property
    def text(self) -> dict:
        return PLANNER_TEXT["en" if self.lang == "en" else "zh"]

    @property
    def roles(self) -> list[list[str]]:
        """The parts in a grid's team (一主任三大员), code and name, in the team's order."""
        return [[code, role_name(code, self.lang)] for code in GRID_ROLES]


class PlannerPanel(JSCSSMixin, MacroElement):
    """Grids of the village (click to select), the action panel, findings and preview layers."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = wangge.planner({{ this._parent.get_name() }}, {
            village: {{ this.options.village|tojson }},
            villageName: {{ this.options.village_name|tojson }},
            toleranceM: {{ this.options.tolerance_m|tojson }},
            minZoom: {{ this.options.min_zoom|tojson }},
            text: {{ this.options.text|tojson }},
            workers: {{ this.options.workers|list|tojson }},
            roles: {{ this.options.roles|tojson }},
            openEdit: {{ this.options.open_edit|tojson }},
            others: {{ this.options.others|list|tojson }}
        });
        {% endmacro %}
    """)
    default_js = [  # noqa: RUF012 - folium's own attribute
        ("wangge.js", "wangge.js"),
        ("planner.js", "planner.js"),
    ]
    default_css = [("wangge.css", "wangge.css")]  # noqa: RUF012

    def __init__(self, options: PlannerOptions) -> None:
        super().__init__()
        self._name = "PlannerPanel"
        self.options = options


def build_planner_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float],
    options: PlannerOptions,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
) -> folium.Map:
    """The planner's map of one village.  ``bounds``: (west, south, east, north) degrees; its
    words in ``options.lang``."""
    m = framed_map(title, bounds, base, subtitle, user, links, options.lang)
    Draw(
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            "polyline": {"shapeOptions": {"color": "#d7191c", "weight": 3}},
            "polygon": {"allowIntersection": False, "shapeOptions": {"color": "#2c7bb6"}},
            "rectangle": False,
            "circle": False,
            "marker": False,
            "circlemarker": False,
        },
        edit_options={"edit": False, "remove": True},
    ).add_to(m)
    PlannerPanel(options).add_to(m)
    return finish_map(m, options.lang)
