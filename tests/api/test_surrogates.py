"""Half a character in a JSON body (api.surrogates): U+FFFD, and nothing else changed."""

from __future__ import annotations

import json

import pytest

from api.errors import describe_error
from api.surrogates import mend


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (rb'{"d": "a\ud83d"}', "a\ufffd"),  # a high half alone
        (rb'{"d": "\uDE00b"}', "\ufffdb"),  # a low half alone, in capitals
        (rb'{"d": "\ude00\ud83d"}', "\ufffd\ufffd"),  # the halves in the wrong order
        (rb'{"d": "\ud83d\ude00"}', "\U0001f600"),  # a pair: the emoji
        (rb'{"d": "\\ud83d"}', "\\ud83d"),  # a backslash, then text
        (rb'{"d": "\\\ud83d"}', "\\\ufffd"),  # a backslash, then half an emoji
        (b'{"d": "\xed\xa0\xbd\xed\xb8\x80 x"}', "\ufffd\ufffd x"),  # raw: no UTF-8
        ('{"d": "한국 \\u0041"}'.encode(), "한국 A"),  # (ED 95 9C: Hangul, not a surrogate)
    ],
)
def test_an_unpaired_surrogate_is_read_as_a_replacement_character(sent: bytes, read: str) -> None:
    mended = mend(sent)
    assert json.loads(mended)["d"] == read
    mended.decode("utf-8")  # (strictly)


def test_a_body_without_one_is_passed_as_it_is() -> None:
    body = '{"description": "楼道堆放杂物 😀 \\u00e9 \\"x\\""}'.encode()
    assert mend(body) is body  # (not even copied)
    paired = b'{"description": "\\ud83d\\ude00 \\\\ \\"x\\""}'
    assert mend(paired) == paired


def test_a_refusal_quoting_half_an_emoji_can_be_written() -> None:
    """However such a text reaches a refusal, it is quoted as its escape: the answer is UTF-8."""
    said = describe_error(
        {"type": "string_too_long", "loc": ("body", "note"), "input": "x\ud83d", "ctx": {}}, "zh"
    )
    assert said["message"].endswith("收到 x\\ud83d"), said
    json.dumps(said, ensure_ascii=False).encode("utf-8")
