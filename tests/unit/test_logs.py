"""Structured log keys: JSON as keys, text as trailing key=value; nothing else leaks in."""

from __future__ import annotations

import json
import logging

from hub.runtime.logs import JsonFormatter, TextFormatter

KEYS = {
    "cluster": "member-1",
    "object": "federatedsecrets/ns/s",
    "member_object": "member-1/Secret/ns/s",
}


def record(**extra: str) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "hub.x", "levelname": "WARNING", "msg": "hello %s"})
    made.args = ("world",)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_json_lines_carry_the_structured_keys() -> None:
    entry = json.loads(JsonFormatter().format(record(**KEYS)))
    assert entry["message"] == "hello world"
    assert {k: entry[k] for k in KEYS} == KEYS


def test_text_lines_end_with_the_keys_as_key_value() -> None:
    line = TextFormatter("%(levelname)s %(name)s: %(message)s").format(record(**KEYS))
    assert line == (
        "WARNING hub.x: hello world cluster=member-1 object=federatedsecrets/ns/s "
        "member_object=member-1/Secret/ns/s"
    )


def test_text_lines_without_keys_are_unchanged() -> None:
    line = TextFormatter("%(asctime)s %(message)s", "%H").format(record())
    assert line.endswith(" hello world")
    assert "=" not in line
