"""Watch streams split into lines however the bytes arrive, long lines included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.errors import ClusterUnreachable
from hub.kube.client import LineBuffer

lines_strategy = st.lists(st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\n", b"x")))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks, last = [], 0
    for point in points:
        chunks.append(data[last:point])
        last = point
    chunks.append(data[last:])
    return chunks


@given(lines=lines_strategy, cuts=st.lists(st.integers(min_value=0, max_value=5000)))
def test_any_chunking_yields_the_same_lines(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    buffer = LineBuffer("c")
    seen: list[bytes] = []
    for chunk in _split(data, cuts):
        seen.extend(buffer.feed(chunk))
    seen.extend(buffer.close())
    assert seen == [line for line in lines if line.strip()]


def test_a_line_far_beyond_aiohttp_limits_is_one_line() -> None:
    big = b'{"data": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    buffer = LineBuffer("c")
    out: list[bytes] = []
    for start in range(0, len(big), 65536):
        out.extend(buffer.feed(big[start : start + 65536]))
    assert out == []
    assert buffer.feed(b"\n") == [big]


def test_last_line_without_newline_is_kept() -> None:
    buffer = LineBuffer("c")
    assert buffer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert buffer.close() == [b'{"b"']


def test_a_line_over_the_limit_is_refused_in_one_line() -> None:
    buffer = LineBuffer("east", limit=10)
    with pytest.raises(ClusterUnreachable, match="east unreachable: watch event larger than"):
        buffer.feed(b"x" * 11)
