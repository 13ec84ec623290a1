"""The 数据导入 page: a file chosen, read as a dry run, its findings shown, then written when the
administrator confirms (``imports.js`` sends it to ``POST /api/imports``)."""

from __future__ import annotations

import json
from html import escape

from importers.core import ASSIGN_WORDS
from importers.run import WHAT_NAMES
from importers.templates import TEMPLATE_NAMES
from maps.assets import asset_url
from maps.pages import _case_page_head, _tr, export_links, language_switch, nav_line

#: what the file chooser offers (a Shapefile comes zipped with its .dbf, .shx, .prj and .cpg)
ACCEPT = ".zip,.gpkg,.geojson,.json,.topojson,.kml,.gml,.csv,.txt,.xlsx,.xls"
DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")


def imports_page(*, user: str, links: list[tuple[str, str]], whole: bool, lang: str = "zh") -> str:
    """The page; ``whole``: the administrator's jurisdiction is the whole deployment (only such
    an administrator may import)."""
    t = _tr(lang)
    whats = "".join(
        f'<option value="{w}">{escape(names[1] if lang == "en" else names[0])} ({w})</option>'
        for w, names in WHAT_NAMES.items()
    )
    datums = "".join(f'<option value="{d}">{d}</option>' for d in DATUMS)
    refused = (
        ""
        if whole
        else f"""<p class="wg-warnings">{
            t(
                "数据导入会改动全系统的区划、网格与账号，只有全系统的管理员可以使用。",
                "An import changes the whole deployment's boundaries and accounts: only an "
                "administrator of the whole deployment may run one.",
            )
        }</p>"""
    )
    head = _case_page_head(t("数据导入", "Data import") + " · 网格 wangge", noindex=True, lang=lang)
    return f"""{head}
<body class="wg-track wg-index wg-queue wg-imports">
<main>
  {language_switch(lang, "/imports")}{nav_line(links, user, lang)}
  <h1>{t("数据导入", "Data import")}</h1>
  <p>{
        t(
            "导入行政区划、网格、综治中心、网格员与用户或历史案件。先检查文件（试运行，不写入）："
            "页面列出将新增、更新、修复和拒绝的内容及发现的问题；确认无误后再写入。写入在一个事务中"
            "完成，出错则一条也不写；同一文件重复导入不会产生重复。",
            "Import regions, grids, centers, workers and users, or historical cases. The file is "
            "checked first (a dry run that writes nothing): the page lists what would be created, "
            "updated, repaired and rejected, and the problems found; then write it. Writing is "
            "one transaction (an error writes nothing), and importing the same file again "
            "changes nothing.",
        )
    }</p>
  {refused}
  <form id="import-form" class="wg-filters">
    <label>{t("导入内容", "What")} <select name="what" required>{whats}</select></label>
    <label>{t("文件", "File")} <input type="file" name="file" required accept="{ACCEPT}"></label>
    <label>{t("图层/工作表/压缩包内文件", "Layer, sheet or file in the archive")}
      <input name="part" maxlength="200"
        placeholder="{t("文件含多个时填写", "when it has several")}">
    </label>
    <details><summary>{t("更多选项", "More options")}</summary>
      <label>{t("编码", "Encoding")} <input name="encoding" maxlength="40" size="8"
        placeholder="GBK" pattern="[A-Za-z0-9][A-Za-z0-9:_.\\-]*"></label>
      <label>{t("坐标系（文件未声明时）", "CRS (when the file has none)")}
        <input name="crs" maxlength="40" size="10" placeholder="EPSG:4547"
        pattern="[A-Za-z0-9][A-Za-z0-9:_.\\-]*"></label>
      <label>{t("点坐标的坐标系", "Datum of points")} <select name="datum">
        <option value="">{t("按文件", "as in the file")}</option>{datums}</select></label>
      <label>{t("编码字段", "Code column")} <input name="code_field" maxlength="64" size="8"
        placeholder="XZQDM"></label>
      <label>{t("名称字段", "Name column")} <input name="name_field" maxlength="64" size="8"
        placeholder="XZQMC"></label>
      <label>{t("上级编码字段", "Parent column")} <input name="parent_field" maxlength="64"
        size="8"></label>
      <label class="wg-wide">{
        t("字段对应（每行一条：角色=列名）", "Column mapping (one a line: ROLE=COLUMN)")
    } <textarea name="fields" rows="3" maxlength="2000"
        placeholder="{
        t("经度=X坐标&#10;上报时间=发生时间", "lon=X&#10;reported_at=Time")
    }"></textarea>
      </label>
      <label><input type="checkbox" name="bulk" value="true">
        {
        t(
            "首次导入大量历史案件（写入期间暂停上报与地图更新，约数分钟）",
            "A first load of many historical cases (reports and maps wait while it is written, "
            "some minutes)",
        )
    }</label>
      <label><input type="checkbox" name="strict" value="true">
        {t("有任何问题就不导入", "refuse on any problem")}</label>
    </details>
    <button type="submit" id="import-check"{"" if whole else " disabled"}>{
        t("检查文件（试运行）", "Check the file (dry run)")
    }</button>
  </form>
  <p class="wg-note">{
        t(
            "Shapefile 请连同 .dbf、.shx、.prj（和 .cpg）压缩成一个 zip 上传；文件不超过 100 MB。"
            "更大的文件请在服务器上用 <code>wangge import</code>。",
            "Zip a Shapefile with its .dbf, .shx, .prj (and .cpg); files up to 100 MB. Larger "
            "files: <code>wangge import</code> on the server.",
        )
    }</p>
  <p class="wg-note" id="import-templates">{t("填表模板", "Templates to fill in")}{t("：", ": ")}{
        t("、", ", ").join(
            f'<a href="/imports/template/{w}.xlsx{"?lang=en" if lang == "en" else ""}">'
            f"{escape(names[1] if lang == 'en' else names[0])}</a>"
            for w, names in TEMPLATE_NAMES.items()
        )
    }{
        t(
            "（按模板填写的表格无需另指定字段对应；“填表说明”工作表列出各列的含义和示例）",
            " (a table filled in from one needs no column mapping; its Instructions sheet says "
            "what each column holds, with an example)",
        )
    }</p>
  <p class="wg-error" id="import-error" role="alert"></p>
  <p class="wg-note" id="import-busy" role="status" aria-live="polite"></p>
  <section id="import-result" hidden data-assigned="{escape(json.dumps(ASSIGN_WORDS))}"></section>
  <p><button type="button" id="import-commit" hidden>{t("确认写入", "Write it")}</button></p>
  {export_links(lang)}
</main>
<script src="{asset_url("session.js")}"></script>
<script src="{asset_url("imports.js")}"></script>
</body>
</html>"""
