"""Namespaces: refused when they could match more than themselves."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.keys import NAMESPACE_FORBIDDEN, check_namespace

safe = st.text(
    alphabet=st.characters(
        exclude_characters=NAMESPACE_FORBIDDEN,
        exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"),
        max_codepoint=0x2FF,
    ),
    min_size=1,
    max_size=10,
)
bad_chars = st.sampled_from([*NAMESPACE_FORBIDDEN, " ", "\t", "\n", "\x00", "\u00a0"])


@given(safe)
def test_safe_namespaces_are_kept_as_given(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@given(safe, bad_chars, safe)
def test_a_forbidden_character_anywhere_is_named(before: str, bad: str, after: str) -> None:
    namespace = before + bad + after
    with pytest.raises(ValidationError) as caught:
        check_namespace(namespace)
    assert repr(bad) in str(caught.value)
    assert repr(namespace) in str(caught.value)


@pytest.mark.parametrize("value", ["", None, 5, b"app"])
def test_non_strings_and_empty_are_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="non-empty string"):
        check_namespace(value)


@given(safe, safe, st.text(max_size=12))
def test_a_namespace_glob_matches_only_its_own_names(a: str, b: str, name: str) -> None:
    """What Redis SCAN and SQLite GLOB are given: ``ns:*`` matches a key of
    namespace ``b`` only when ``b`` is ``a`` (no namespace contains ``:``)."""
    check_namespace(a)
    check_namespace(b)
    matches = fnmatch.fnmatchcase(f"{b}:{name}", f"{a}:*")
    assert matches == (a == b)
