"""The command line's usage errors in Chinese: a missing option, a value that is not a number.

Click and Typer word them in English ("Missing option '--region'."), in the red box under the
usage line, where every other message of ``wangge`` is Chinese (English where ``LANG`` is
English: :func:`importers.core.env_lang`).  :func:`in_chinese` says the ones a user meets,
with the English after it in brackets (as the command's own refusals of a date say both); one
it does not know stays as Click wrote it.  :func:`install` puts it before Typer's printing of
the box."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: Click's and Typer's words → ours (``{a}``, ``{b}``: what the pattern found)
USAGE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern + r"\Z", re.DOTALL), words)
    for pattern, words in (
        (r"Missing option '(?P<a>[^']+)'\.", "缺少选项 {a}。"),
        (r"Missing argument '(?P<a>[^']+)'\.", "缺少参数 {a}。"),
        (r"No such option: (?P<a>\S+) \(Possible options: (?P<b>[^)]+)\)",
         "没有选项 {a}（相近的有：{b}）。"),
        (r"No such option: (?P<a>\S+)", "没有选项 {a}。"),
        (r"No such command '(?P<a>[^']+)'\. Did you mean '?(?P<b>[^'?]+)'?\?",
         "没有命令 {a}，是不是 {b}？"),
        (r"No such command '(?P<a>[^']+)'\.", "没有命令 {a}。"),
        (r"Got unexpected extra argument(?:\(s\)|s)? \((?P<a>.+)\)", "多余的参数：{a}。"),
        (r"Option '(?P<a>[^']+)' requires an argument\.", "选项 {a} 需要一个值。"),
        (r"Option '(?P<a>[^']+)' does not take a value\.",
         "选项 {a} 不带值：写 {a} 即为是，不写即为否。"),
        (r"Invalid value for '(?P<a>[^']+)': (?P<value>.+)", "{a} 的值无效：{value}。"),
    )
)  # fmt: skip
#: what a value is told (after "Invalid value for …:")
VALUE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern + r"\Z", re.DOTALL), words)
    for pattern, words in (
        (r"Input should be a valid integer.*", "应为整数"),
        (r"Input should be a valid number.*", "应为数字"),
        (r"Input should be less than or equal to (?P<a>\S+)", "不能大于 {a}"),
        (r"Input should be greater than or equal to (?P<a>\S+)", "不能小于 {a}"),
        (r"Input should be less than (?P<a>\S+)", "应小于 {a}"),
        (r"Input should be greater than (?P<a>\S+)", "应大于 {a}"),
        (r"'(?P<a>.*)' is not one of (?P<b>.+)\.", "{a} 不是可选的值（可选：{b}）"),
        (r"(?:File|Path|Directory) '(?P<a>.*)' does not exist\.", "{a} 不存在"),
    )
)  # fmt: skip


def _words(table: tuple[tuple[re.Pattern[str], str], ...], text: str) -> str | None:
    """``text`` in the words of the first pattern of ``table`` that matches it."""
    for pattern, words in table:
        if found := pattern.match(text):
            parts = found.groupdict()
            if "value" in parts:  # what the value is told, in words of its own
                value = _words(VALUE_WORDS, parts["value"])
                if value is None:
                    return None
                parts["value"] = value
            return words.format(**parts)
    return None


def in_chinese(message: str) -> str | None:
    """``message`` (Click's or Typer's) in Chinese, then itself in brackets; None if not known."""
    said = _words(USAGE_WORDS, message.strip())
    return None if said is None else f"{said} ({message.strip()})"


#: the box's title and the line above it that points to the help (Typer's words, its markup)
BOX_WORDS = ("错误", "查看帮助：[blue]'{command_path} {help_option}'[/]")


def install(chinese: Callable[[], bool]) -> None:
    """Have Typer print usage errors in Chinese whenever ``chinese()`` says so."""
    from typer import rich_utils

    shown = rich_utils.rich_format_error
    if getattr(shown, "wangge", False):  # (installed already)
        return

    def format_error(error: Any) -> None:  # (a ClickException of Typer's own copy of Click)
        said = in_chinese(error.format_message()) if chinese() else None
        if said is None:
            shown(error)
            return
        # the same error, its usage line and status: in other words, and the box's title and
        # the line that points to the help with it (Typer's, read as it prints)
        error.format_message = lambda: said
        english = rich_utils.ERRORS_PANEL_TITLE, rich_utils.RICH_HELP
        rich_utils.ERRORS_PANEL_TITLE, rich_utils.RICH_HELP = BOX_WORDS
        try:
            shown(error)
        finally:
            rich_utils.ERRORS_PANEL_TITLE, rich_utils.RICH_HELP = english

    format_error.wangge = True  # type: ignore[attr-defined]
    rich_utils.rich_format_error = format_error  # type: ignore[assignment]
