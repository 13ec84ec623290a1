"""The media types of what the API sends besides JSON, for the routes to document them."""

from __future__ import annotations

from typing import Any

#: an Excel workbook (.xlsx)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: a route that sends a workbook: the API document says so (not JSON)
XLSX_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {XLSX: {}}}}
