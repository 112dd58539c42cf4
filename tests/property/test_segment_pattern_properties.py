"""The dialect's matcher agrees with Python's re and polars' Rust regex on every pattern.

Patterns are drawn from the dialect's grammar; texts from a small alphabet that
includes a newline and the characters the pattern draws from, so matches are
frequent and the edges ('.' and newlines, '$' before a final newline) are met.
"""

from __future__ import annotations

import re

import polars as pl
from hypothesis import assume, given
from hypothesis import strategies as st

from crmcore.errors import InvalidValueError
from crmcore.segments.pattern import Engine, check_pattern, compile_pattern, render_pattern

ALPHABET = "ab-.\n张"
LITERALS = ("a", "b", "张", "\\-", "\\.", "\\(", "-")
CLASSES = ("[ab]", "[^a]", "[a-c]", "[\\-.]", "[^\n张]", "[张-龥]")
QUANTIFIERS = ("", "", "", "*", "+", "?", "{0,2}", "{2}", "{1,}")


def _sequences(atom: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(
        st.sampled_from(("", "^")),
        st.lists(atom, min_size=1, max_size=4),
        st.sampled_from(("", "$")),
    ).map(lambda parts: parts[0] + "".join(parts[1]) + parts[2])


def _alternatives(atom: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(_sequences(atom), min_size=1, max_size=3).map("|".join)


# Built once, bottom up (groups nest two deep): strategies made per draw cost hypothesis
# more than the whole check.
_SINGLE = st.tuples(st.sampled_from(LITERALS + CLASSES + (".",)), st.sampled_from(QUANTIFIERS)).map(
    "".join
)
_INNER = _SINGLE | _alternatives(_SINGLE).map(lambda inner: f"({inner})")
_ATOM = _SINGLE | _alternatives(_INNER).map(lambda inner: f"({inner})")
PATTERNS = _alternatives(_ATOM)


def _pattern(text: str) -> str:
    try:
        return check_pattern(text)
    except InvalidValueError:
        assume(False)
        raise


@given(PATTERNS, st.lists(st.text(ALPHABET, max_size=8), min_size=1, max_size=6))
def test_the_matcher_agrees_with_python_re_and_polars(pattern: str, texts: list[str]) -> None:
    found = [compile_pattern(_pattern(pattern)).search(t) for t in texts]
    python = re.compile(render_pattern(pattern, Engine.PYTHON))
    assert found == [python.search(t) is not None for t in texts]
    rust = pl.Series(texts).str.contains(render_pattern(pattern, Engine.POLARS)).to_list()
    assert rust == found


@given(st.text(max_size=40))
def test_any_text_is_either_a_pattern_or_a_clear_refusal(text: str) -> None:
    try:
        check_pattern(text)
    except InvalidValueError as exc:
        refusal: InvalidValueError | None = exc
    else:
        refusal = None
        compile_pattern(text).search(text)
    assert refusal is None or refusal.field == "pattern"
