"""The regular-expression dialect of segment rules: what it accepts, refuses and how it renders."""

from __future__ import annotations

import re

import pytest

from crmcore.errors import InvalidValueError
from crmcore.segments import field
from crmcore.segments.pattern import (
    MAX_PATTERN_LENGTH,
    MAX_REPEAT,
    MAX_VARIABLE_REPEATS,
    Engine,
    check_pattern,
    compile_pattern,
    render_pattern,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^13[0-9]{9}$", "13800138000", True),
        ("^13[0-9]{9}$", "138001380001", False),
        ("th ?$", "Anna Smith", True),
        ("th ?$", "Anna Smith\n", False),  # '$' is the very end, never before a final newline
        ("^a.b$", "a\nb", False),  # '.' never matches a newline
        ("^a.b$", "a张b", True),
        ("[^a-z]", "abc", False),
        ("[^a-z]", "abC", True),
        ("[\\-_]", "a-b", True),
        ("(no|南)方", "南方", True),
        ("^(Anna|Li) ", "Li Änna", True),
        ("a{0,3}", "", True),  # matches the empty string, so every text
        ("^$", "", True),
        ("^$", "x", False),
        ("x{2,}", "axxb", True),
        ("x{2,}", "axb", False),
        ("\\.", "a.b", True),
        ("\\.", "ab", False),
        ("a|", "zzz", True),  # an empty alternative matches everywhere
        ("😀", "hi 😀", True),
    ],
)
def test_search_follows_the_dialect(pattern: str, text: str, expected: bool) -> None:
    assert compile_pattern(pattern).search(text) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "a non-empty regular expression is required"),
        ("a" * (MAX_PATTERN_LENGTH + 1), f"longer than {MAX_PATTERN_LENGTH} characters"),
        ("\\d+", "at 1: '\\d' is not supported"),
        ("\\w", "at 1: '\\w' is not supported"),
        ("(a)\\1", "at 4: back-references"),
        ("(?i)a", "at 1: '(?' (flags, look-around"),
        ("(?=a)", "at 1: '(?'"),
        ("a{,3}", "at 2: write the lower bound of a repetition"),
        ("a{3,1}", "at 2: '{3,1}' counts backwards"),
        (f"a{{{MAX_REPEAT + 1}}}", f"at 2: repetition counts are at most {MAX_REPEAT}"),
        ("a{x}", "at 2: '{x}' is not a repetition count"),
        ("a{", "at 2: '{' is never closed"),
        ("(a|a)+$", "at 6: a group cannot be repeated"),
        ("(a+)+", "at 5: a group cannot be repeated"),
        ("a**", "at 3: a repetition cannot be repeated"),
        ("a*?", "at 3: a repetition cannot be repeated"),
        ("^*", "at 2: an anchor cannot be repeated"),
        ("*a", "at 1: '*' repeats nothing"),
        ("a)", "at 2: ')' without an opening '('"),
        ("(a", "at 1: '(' is never closed"),
        ("()", "at 1: an empty group"),
        ("[]", "at 2: an empty class"),
        ("[a", "at 1: '[' is never closed"),
        ("[[:alpha:]]", "at 2: '[' inside a class"),
        ("[a&&b]", "at 3: '&&' inside a class"),
        ("[z-a]", "the range z-a is backwards"),
        ("a]", "at 2: a lone ']'"),
        ("a}", "at 2: a lone '}'"),
        ("a\\", "at 2: a trailing '\\' escapes nothing"),
        ("a\x00", "at 2: contains NUL"),
        ("a\ud800", "at 2: contains a lone surrogate"),
        ("a*b*c*d*e*", f"at most {MAX_VARIABLE_REPEATS} variable repetitions"),
    ],
)
def test_patterns_outside_the_dialect_are_refused_with_the_reason(
    pattern: str, reason: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        check_pattern(pattern)
    assert caught.value.field == "pattern"
    assert caught.value.reason.startswith(reason) or reason in caught.value.reason


def test_the_builder_checks_the_pattern_when_the_rule_is_built() -> None:
    with pytest.raises(InvalidValueError, match="a group cannot be repeated"):
        field("display_name").matches("(a|a)+$")


@pytest.mark.parametrize(
    ("pattern", "engine", "rendered"),
    [
        ("^a.c$", Engine.POSTGRESQL, "^a[^\n]c$"),
        ("^a.c$", Engine.MARIADB, "^a.c\\z"),
        ("^a.c$", Engine.POLARS, "^a.c$"),
        ("^a.c$", Engine.PYTHON, "^a.c\\Z"),
        ("(a|b)c", Engine.POSTGRESQL, "(a|b)c"),
        ("(a|b)c", Engine.MARIADB, "(?:a|b)c"),
        ("[&~a-]", Engine.POLARS, "[\\&\\-a\\~]"),
        ("[&~a-]", Engine.POSTGRESQL, "[&\\-a~]"),
        ("\\{x\\}", Engine.POLARS, "\\{x\\}"),
        ("a{2,}b{0,1}c{3}", Engine.MARIADB, "a{2,}b?c{3}"),
        ("^a.c$", Engine.SPARK, "^a[^\n]c\\z"),
        ("(a|b)c", Engine.SPARK, "(?:a|b)c"),
        ("[&~a-]", Engine.SPARK, "[\\&\\-a\\~]"),
    ],
)
def test_rendering_per_engine(pattern: str, engine: Engine, rendered: str) -> None:
    assert render_pattern(pattern, engine) == rendered


def test_a_blow_up_pattern_of_backtracking_engines_runs_in_linear_time() -> None:
    # A backtracking engine needs about n**4 steps here (four '.*' before a missing 'x');
    # the DFA reads each character once. (No timing assertion: a regression would hang.)
    text = "a" * 20_000
    assert compile_pattern(".*.*.*.*x").search(text) is False
    assert compile_pattern("a?a?a?a?aaaa$").search(text) is True
    assert re.search(render_pattern("a?a?a?a?aaaa$", Engine.PYTHON), "aaaa") is not None


def test_the_automaton_cache_starts_over_instead_of_growing() -> None:
    # '[a-z]{0,100}' over changing letters meets many DFA states; the cache stays bounded.
    pattern = compile_pattern("q[a-z]{0,99}q")
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(50_000))
    assert pattern.search(text) is True  # 'q' ... 'q' within 100 letters
    assert len(pattern._dfa.rows) <= 2_000
