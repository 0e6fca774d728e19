"""Messages taken from API errors keep field paths and reasons, never the values they quote."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.describe import without_values
from hub.core.errors import ApiError, Invalid


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'Secret "pull" is invalid: data[.dockerconfigjson]: Invalid value: "hunter2": '
            "invalid character 'h' looking for beginning of value",
            'Secret "pull" is invalid: data[.dockerconfigjson]: Invalid value: '
            "invalid character 'h' looking for beginning of value",
        ),
        (
            'Secret "s" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable',
            'Secret "s" is invalid: type: Invalid value: field is immutable',
        ),
        (
            'Deployment.apps "w" is invalid: spec.replicas: Invalid value: -1: must be >= 0',
            'Deployment.apps "w" is invalid: spec.replicas: Invalid value: must be >= 0',
        ),
        (
            'x: Unsupported value: "Sometimes": supported values: "Always", "Never"',
            'x: Unsupported value: supported values: "Always", "Never"',
        ),
        ('a: Invalid value: "with \\"escaped\\" quotes": bad', "a: Invalid value: bad"),
        ("spec.template: Required value", "spec.template: Required value"),
        ('secrets "x" not found', 'secrets "x" not found'),
    ],
)
def test_values_are_removed_and_the_rest_kept(message: str, expected: str) -> None:
    assert without_values(message) == expected


def test_api_errors_never_carry_the_rejected_value() -> None:
    body = {
        "kind": "Status",
        "reason": "Invalid",
        "message": 'Secret "p" is invalid: data[x]: Invalid value: "s3cr3t-value": bad',
    }
    error = ApiError.from_response("east", 422, body)
    assert isinstance(error, Invalid)
    assert "s3cr3t-value" not in str(error)
    assert "s3cr3t-value" not in error.message
    assert "data[x]: Invalid value: bad" in error.message


@given(value=st.text(min_size=6).map(lambda s: s.replace('"', "").replace("\\", "") + "~v~"))
def test_any_quoted_value_disappears(value: str) -> None:
    escaped = value.replace('"', '\\"')
    message = f'Secret "n" is invalid: data[k]: Invalid value: "{escaped}": must be valid JSON'
    cleaned = without_values(message)
    assert value not in cleaned
    assert cleaned.endswith("data[k]: Invalid value: must be valid JSON")
