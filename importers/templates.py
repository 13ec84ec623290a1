"""Templates to fill in (填表模板): a workbook for each kind of table an office keeps by hand —
historical cases, grid workers and users, centers — whose first sheet has the columns the
importer knows, and whose second (填表说明) says what each holds, whether it is required, and an
example taken from this deployment (its own codes and a point inside one of its grids), so that
a filled-in copy imports without a field mapping.

Boundaries (regions, grids) come as the GIS files their owners keep, not as tables: none here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import NotFound
from gis.report import workbook_bytes
from gis.worktime import SHANGHAI

#: the kinds with a template, and their names (the file's and the first sheet's)
TEMPLATE_NAMES = {
    "cases": ("历史案件", "historical cases"),
    "workers": ("网格员与用户", "workers and users"),
    "centers": ("综治中心", "centers"),
}


@dataclass(frozen=True)
class Column:
    """A column of a template: its header (one of the names the importer knows; ``*`` marks a
    required one, which the importer reads past), what it holds, and the key of its example."""

    header: str
    required: bool
    zh: str
    en: str
    example: str  # a key of :func:`_examples`, or the example itself
    text: bool = False  # codes and phones: kept as text (no 9.9E+11, no lost leading zero)

    def head(self) -> str:
        return f"*{self.header}" if self.required else self.header


COLUMNS: dict[str, tuple[Column, ...]] = {
    "cases": (
        Column("编号", True, "原系统中的案件编号，每行唯一；重复导入同一文件时据此跳过已导入的案件",
               "The case's id in the former system, unique; importing the file again skips the "
               "cases already in", "SYN-2025-000001", text=True),
        Column("上报时间", True, "北京时间，如 2025-03-05 14:30；也可写 2025年3月5日 下午2:30",
               "Beijing time, e.g. 2025-03-05 14:30", "reported_at"),
        Column("经度", False, "度，如 113.9435；也可写 东经113°56′12.5″。没有坐标的旧台账可空，"
               "须填“村（社区）”", "Degrees, e.g. 113.9435; an old ledger's row without "
               "coordinates leaves it empty and names its village", "lon"),
        Column("纬度", False, "度，如 23.0113；同上", "Degrees, e.g. 23.0113; as above", "lat"),
        Column("坐标系", False, "WGS84（GPS、天地图）、GCJ02（高德、腾讯）、BD09（百度）"
               "或 CGCS2000；不填按 WGS84", "WGS84 (GPS, Tianditu), GCJ02 (Amap, Tencent), "
               "BD09 (Baidu) or CGCS2000; empty: WGS84", "WGS84"),
        Column("村（社区）", False, "没有坐标时按此登记：村（社区）的 12 位代码或名称（同名时加填"
               "乡镇（街道））；不上地图和热力图，计入各项统计。有坐标时不用",
               "Without coordinates, the case is filed here: the village's 12-digit code or its "
               "name (with the township where two share it); on no map, counted in every "
               "figure. Not used with coordinates", "village", text=True),
        Column("乡镇（街道）", False, "村（社区）重名时，所属乡镇（街道）的名称或 9 位代码",
               "Where two villages share a name: the township's name or 9-digit code", ""),
        Column("类型", True, "矛盾纠纷 或 安全隐患", "矛盾纠纷 (dispute) or 安全隐患 (hazard)",
               "矛盾纠纷"),
        Column("类别", True, "如 邻里纠纷、劳资纠纷、消防安全隐患；无法识别的归入该类型的“其他”",
               "E.g. 邻里纠纷, 劳资纠纷, 消防安全隐患; one not recognised goes to the kind's "
               "other", "邻里纠纷"),
        Column("描述", True, "事情经过，简明扼要", "What happened, briefly",
               "楼上楼下因噪音发生争执"),
        Column("状态", False, "已结案、已办结、处置中、已受理 等；不填按已结案",
               "已结案 (closed), 处置中 (in progress) …; empty: closed", "已结案"),
        Column("来源", False, "网格员上报、群众来访、12345热线、110非警务警情分流、信访、网上反映",
               "Where it came from: 网格员上报, 群众来访, 12345热线 …", "12345热线"),
        Column("工单号", False, "来源渠道中的编号（如 12345 工单号）", "Its number there "
               "(a 12345 work order)", "12345-2025-000815", text=True),
        Column("是否就地化解", False, "“是”：网格员在现场化解（须为已办结或已结案，"
               "计入就地化解率）；不填或“否”：不是", "是 (yes): the grid worker settled it on "
               "the spot (the case must be settled); empty or 否: no", "否"),
        Column("当事人", False, "当事人（反映人）姓名，一行一人；加密保存，显示时打码",
               "The resident's name, one a row; stored encrypted, shown masked", "王小红"),
        Column("联系电话", False,
               "当事人的手机或带区号的固定电话；格式不对的不保存，案件仍导入",
               "Their mobile or landline with area code; one that is not a number is left out "
               "(the case imported)", "13912345678", text=True),
        Column("身份证号", False, "当事人的 18 位身份证号，最后一位可为 X；校验位不对的不保存",
               "Their 18-character ID-card number, the last may be X; a wrong one is left out",
               "11010519491231002X", text=True),
    ),
    "workers": (
        Column("姓名", True, "网格员或用户的姓名", "The person's name", "张三"),
        Column("手机号码", True, "大陆手机号，11 位", "A mainland mobile number, 11 digits",
               "13800138000", text=True),
        Column("岗位", True, "网格员、网格长、综治专干、调解员、综治中心主任 等",
               "网格员 (grid worker), 综治专干 (operator) …", "网格员"),
        Column("所属区划", True, "村（社区）代码（12 位）或名称", "The village's code (12 digits) "
               "or name", "village", text=True),
        Column("网格编码", False, "网格员负责的网格，多个用空格隔开；须属于上面的村（社区）",
               "The grids a worker walks, separated by spaces, of that village", "grid",
               text=True),
        Column("网格分工", False, "网格长、网格管理员、网格信息员、网格监督员（一主任三大员；"
               "每个网格一名网格长）；不填则保留原分工，新配的网格员在没有网格长时任网格长，"
               "否则任网格管理员", "The part in the grids' team: 网格长 (chief, one a grid), "
               "网格管理员 (manager), 网格信息员 (informant), 网格监督员 (supervisor); empty: "
               "kept, or the chief of a team without one, else a manager", "网格管理员"),
        Column("工号", False, "不填则自动编号（W + 村代码 + 序号）",
               "Empty: numbered W<village><nn>", ""),
        Column("用户名", False, "需要登录系统的填写；初始密码在导入后只显示一次",
               "For those who log in; the initial password is shown once after the import", ""),
    ),
    "centers": (
        Column("名称", True, "综治中心或综治服务站的名称", "The center's name", "center"),
        Column("区划代码", True, "所在区划的代码（每个区划一个中心）",
               "Its region's code (one center a region)", "village", text=True),
        Column("经度", True, "度", "Degrees", "lon"),
        Column("纬度", True, "度", "Degrees", "lat"),
        Column("坐标系", False, "同上（历史案件模板）；不填按 WGS84", "As for cases; empty: WGS84",
               "WGS84"),
        Column("电话", False, "值班电话", "The duty phone", "0769-12345678", text=True),
        Column("地址", False, "办公地址", "Its address", "示例路 1 号"),
    ),
}  # fmt: skip


def _examples(session: Session) -> dict[str, str]:
    """This deployment's example values: its first village with grids, one of the grids, a point
    inside it, that village's center's name, and yesterday morning."""
    row = session.execute(
        text("""
        SELECT v.code AS village, g.code AS grid, ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat,
               (SELECT c.name FROM center c WHERE c.region_id = v.id) AS center
        FROM grid g JOIN region v ON v.id = g.village_id
        CROSS JOIN LATERAL (SELECT ST_PointOnSurface(g.geom) AS pt) p
        WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1
    """)
    ).first()
    yesterday = datetime.now(SHANGHAI) - timedelta(days=1)
    examples = {"reported_at": f"{yesterday:%Y-%m-%d} 09:30"}
    if row is not None:  # (a deployment without grids yet: the examples say what they are)
        examples |= {
            "village": row.village,
            "grid": row.grid,
            "lon": f"{row.lon:.6f}",
            "lat": f"{row.lat:.6f}",
            "center": row.center or "示例社区综治服务站",
        }
    else:
        examples |= {"village": "440305001001", "grid": "440305001001001", "lon": "113.943500",
                     "lat": "22.540000", "center": "示例社区综治服务站"}  # fmt: skip
    return examples


def template_name(what: str, lang: str = "zh") -> str:
    """The file's name: ``导入模板-历史案件.xlsx`` (``import-template-cases.xlsx`` in English)."""
    if lang == "en":
        return f"import-template-{what}.xlsx"
    return f"导入模板-{TEMPLATE_NAMES[what][0]}.xlsx"


def template_xlsx(session: Session, what: str, lang: str = "zh") -> bytes:
    """The template of ``what`` (a key of :data:`TEMPLATE_NAMES`) as a workbook: the columns to
    fill in, then 填表说明 (in ``lang``) with an example row of this deployment's."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from gis.report import column_width

    if what not in COLUMNS:
        raise NotFound(
            f"没有 {what} 的填表模板（有：{'、'.join(TEMPLATE_NAMES)}）。",
            f"No template for {what} (there are: {', '.join(TEMPLATE_NAMES)}).",
        )
    en = lang == "en"
    columns = COLUMNS[what]
    examples = _examples(session)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TEMPLATE_NAMES[what][1 if en else 0][:31]
    ws.append([c.head() for c in columns])
    for number, c in enumerate(columns, start=1):
        ws.cell(1, number).font = Font(bold=True, color="B03A2E" if c.required else None)
        letter = get_column_letter(number)
        ws.column_dimensions[letter].width = max(12, column_width(c.head()) + 4)
        if c.text:  # a code typed into the empty rows stays text (all its digits)
            for row in range(2, 1002):
                ws.cell(row, number).number_format = "@"
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("Instructions" if en else "填表说明")
    notes.append(
        [
            "Fill in the first sheet, one row a record, and upload it on the 数据导入 page: "
            "the file is checked first (nothing is written), then written when you confirm. "
            "Columns marked * are required; their names must stay as they are."
            if en
            else "在第一个工作表中逐行填写，一行一条；保存后在“数据导入”页面上传：先检查文件"
            "（不写入），确认无误后再写入。带 * 的列必须填写；列名请勿改动。"
        ]
    )
    notes["A1"].font = Font(bold=True)
    notes.append(["Column", "Required", "What it holds", "Example"] if en else
                 ["列名", "必填", "说明", "示例"])  # fmt: skip
    for cell in notes[2]:
        cell.font = Font(bold=True)
    for c in columns:
        notes.append(
            [c.header, ("yes" if en else "是") if c.required else ("no" if en else "否"),
             c.en if en else c.zh, examples.get(c.example, c.example)]
        )  # fmt: skip
        if c.text:
            notes.cell(notes.max_row, 4).number_format = "@"
    for letter, width in zip("ABCD", (14, 8, 70, 24), strict=True):
        notes.column_dimensions[letter].width = width
    return workbook_bytes(wb)
