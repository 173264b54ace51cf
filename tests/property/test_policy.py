"""Task policy and outcome records."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.outcome import ErrorInfo
from alsek.pure.policy import TaskPolicy
from tests.property.strategies import error_infos, light


def test_policy_defaults() -> None:
    policy = TaskPolicy()
    assert policy.max_retries == defaults.DEFAULT_MAX_RETRIES
    assert policy.max_redeliveries == defaults.DEFAULT_MAX_REDELIVERIES
    assert TaskPolicy(max_retries=None).max_retries is None


@light
@given(
    st.sampled_from(["max_retries", "max_redeliveries"]),
    st.integers(max_value=-1) | st.sampled_from([True, 1.5, "3"]),
)
def test_policy_rejects_invalid_limits(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        TaskPolicy(**{field: value})


def test_max_redeliveries_is_not_optional() -> None:
    with pytest.raises(ValidationError, match="max_redeliveries"):
        TaskPolicy(max_redeliveries=None)  # type: ignore[arg-type]


@light
@given(error_infos)
def test_error_summary(info: ErrorInfo) -> None:
    if info.message:
        assert info.summary == f"{info.type_name}: {info.message}"
    else:
        assert info.summary == info.type_name
