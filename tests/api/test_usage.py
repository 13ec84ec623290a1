"""The command line's usage errors in Chinese (api.usage)."""

from __future__ import annotations

import pytest

from api.usage import in_chinese


@pytest.mark.parametrize(
    ("click_said", "said"),
    [
        ("Missing option '--region'.", "缺少选项 --region。"),
        ("Missing argument 'file'.", "缺少参数 file。"),
        ("No such option: --regon (Possible options: --region)",
         "没有选项 --regon（相近的有：--region）。"),
        ("No such option: --zzz", "没有选项 --zzz。"),
        ("No such command 'dialy'. Did you mean 'daily'?", "没有命令 dialy，是不是 daily？"),
        ("Got unexpected extra argument(s) (b c)", "多余的参数：b c。"),
        ("Option '--datum' requires an argument.", "选项 --datum 需要一个值。"),
        ("Invalid value for '--days': Input should be a valid integer, unable to parse string "
         "as an integer", "--days 的值无效：应为整数。"),
        ("Invalid value for '--days': Input should be greater than or equal to 1",
         "--days 的值无效：不能小于 1。"),
        ("Invalid value for '--size': 'huge' is not one of 'city', 'small'.",
         "--size 的值无效：huge 不是可选的值（可选：'city', 'small'）。"),
    ],
)  # fmt: skip
def test_a_usage_error_is_said_in_chinese_then_as_click_said_it(click_said: str, said: str) -> None:
    assert in_chinese(click_said) == f"{said} ({click_said})"


def test_one_not_known_stays_as_click_said_it() -> None:
    assert in_chinese("Invalid value for '--x': something else entirely") is None
    assert in_chinese("A message of another kind.") is None
