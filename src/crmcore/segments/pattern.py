r"""The regular-expression dialect of segment rules: one meaning on every backend, linear time.

A ``matches`` rule (``field("display_name").matches("^Sm")``) holds a pattern
in a small dialect that crmcore parses itself, then renders for each engine
so that memory, SQLite, polars, PostgreSQL and MariaDB select the same
customers:

- literal characters; ``\`` before ASCII punctuation makes it literal
  (``\.``, ``\(``, ``\\``); ``{`` and ``}`` are literal only when escaped;
- ``.`` — any character except a newline;
- bracket classes ``[abc]``, ``[a-z0-9]``, ``[^,]``: ranges by code point;
  inside a class, ``\``, ``]``, ``[``, ``^`` and ``-`` are escaped with ``\``
  (a ``-`` may also stand first or last), and ``&&``, ``--``, ``~~``, ``||``
  are refused (set operations in some engines);
- repetition of one character, ``.`` or a class: ``*``, ``+``, ``?``,
  ``{m}``, ``{m,}``, ``{m,n}`` with ``m ≤ n ≤`` :data:`MAX_REPEAT` (``{,n}``
  means different things to different engines, so it is refused);
- groups ``( … )`` with alternatives ``a|b`` — a group is not repeated;
- the anchors ``^`` (start of the text) and ``$`` (end of the text only,
  never before a final newline).

Matching is a case-sensitive search: the rule holds when the pattern
matches anywhere in the value (anchor it with ``^`` and ``$`` for the whole
value). What the dialect leaves out — ``\d``/``\w``/``\s`` (their Unicode
meaning differs between engines), flags, look-around, back-references, lazy
quantifiers, repeated groups — is refused by :func:`check_pattern` with the
reason, before any work.

Linear time: crmcore never hands a pattern to a backtracking engine where it
evaluates it. In memory (and in SQLite, where crmcore registers the
function) a pattern runs on :class:`Pattern`, a lazily built DFA, so a match
takes time proportional to the text, whatever the pattern
(``(a|a)+$``-style blow-ups cannot even be written: groups do not repeat).
polars uses Rust's ``regex`` crate (finite automata); PostgreSQL's engine is
automaton-based too. MariaDB's PCRE2 backtracks; with no repeated groups and
at most :data:`MAX_VARIABLE_REPEATS` variable repetitions per pattern, its
work is bounded by a small polynomial of the value's length.

>>> p = compile_pattern("^1[3-9][0-9]{9}$")
>>> p.search("13800138000"), p.search("+8613800138000")
(True, False)
>>> compile_pattern("th ?$").search("Anna Smith")
True
>>> check_pattern("a{,3}")
Traceback (most recent call last):
...
crmcore.errors.InvalidValueError: invalid pattern 'a{,3}': at 2: write the lower bound ...

May import: ``crmcore.errors``.
"""

from __future__ import annotations

import enum
import functools
from typing import Final

import attrs

from crmcore.errors import InvalidValueError

__all__ = [
    "MAX_PATTERN_LENGTH",
    "MAX_REPEAT",
    "MAX_VARIABLE_REPEATS",
    "Engine",
    "Pattern",
    "check_pattern",
    "compile_pattern",
    "render_pattern",
]

MAX_PATTERN_LENGTH: Final = 200
"""The most characters a pattern may have."""
MAX_REPEAT: Final = 100
"""The largest count in ``{m,n}`` (PostgreSQL allows 255, RE2 1,000)."""
MAX_VARIABLE_REPEATS: Final = 4
"""The most variable-length repetitions (``*``, ``+``, ``?``, ``{m,n}`` with m < n) per pattern."""

_META: Final = frozenset("\\.^$|?*+()[]{}")
_CLASS_META: Final = frozenset("\\]^-[")
_PUNCTUATION: Final = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_DOUBLED: Final = ("&&", "--", "~~", "||")
_MAX_DFA_STATES: Final = 2_000


class Engine(enum.StrEnum):
    """The engines a pattern is rendered for."""

    PYTHON = "python"
    POLARS = "polars"
    POSTGRESQL = "postgresql"
    MARIADB = "mariadb"
    SPARK = "spark"  # java.util.regex, as Spark's ``rlike`` runs it


# --------------------------------------------------------------------------- syntax tree


@attrs.frozen
class _Chars:
    """One character out of a set: ``ranges`` of code points, or all but them when ``negated``."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False
    kind: str = "class"  # "char", "any" or "class": how it is rendered

    def accepts(self, char: str) -> bool:
        code = ord(char)
        inside = any(lo <= code <= hi for lo, hi in self.ranges)
        return inside != self.negated


_ANY: Final = _Chars(((10, 10),), negated=True, kind="any")


@attrs.frozen
class _Anchor:
    end: bool  # False: ^, True: $


@attrs.frozen
class _Repeat:
    item: _Chars
    least: int
    most: int | None  # None: unbounded


@attrs.frozen
class _Group:
    options: tuple[tuple[_Node, ...], ...]


_Node = _Chars | _Anchor | _Repeat | _Group


class _Parser:
    """A recursive-descent parser of the dialect; positions in messages count from 1."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0
        self.variable = 0

    def fail(self, reason: str, at: int | None = None) -> InvalidValueError:
        where = (self.at if at is None else at) + 1
        return InvalidValueError("pattern", self.text, f"at {where}: {reason}")

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def parse(self) -> tuple[tuple[_Node, ...], ...]:
        options = self.alternatives(depth=0)
        if self.at < len(self.text):  # only a stray ")" stops the top level early
            raise self.fail("')' without an opening '('")
        return options

    def alternatives(self, depth: int) -> tuple[tuple[_Node, ...], ...]:
        options = [self.sequence(depth)]
        while self.peek() == "|":
            self.at += 1
            options.append(self.sequence(depth))
        return tuple(options)

    def sequence(self, depth: int) -> tuple[_Node, ...]:
        items: list[_Node] = []
        while self.at < len(self.text) and self.peek() not in "|)":
            items.append(self.item(depth))
        return tuple(items)

    def item(self, depth: int) -> _Node:
        char, start = self.peek(), self.at
        node: _Node
        if char == "(":
            node = self.group(depth)
        elif char in "^$":
            self.at += 1
            node = _Anchor(end=char == "$")
        elif char in "*+?{":
            raise self.fail(f"{char!r} repeats nothing: escape it (\\{char}) to mean itself")
        elif char in "]}":
            raise self.fail(f"a lone {char!r}: escape it (\\{char}) to mean itself")
        else:
            node = self.single()
        if self.peek() in ("*", "+", "?", "{"):
            if not isinstance(node, _Chars):
                what = "a group" if isinstance(node, _Group) else "an anchor"
                raise self.fail(
                    f"{what} cannot be repeated (repeat one character, '.' or a class)", self.at
                )
            node = self.repeat(node)
        if start == self.at:  # pragma: no cover - every branch consumes
            raise self.fail("unexpected character")
        return node

    def group(self, depth: int) -> _Group:
        opened = self.at
        self.at += 1
        if self.peek() == "?":
            raise self.fail(
                "'(?' (flags, look-around, named or non-capturing groups) is not supported",
                opened,
            )
        if depth >= 8:
            raise self.fail("groups nest at most 8 deep")
        options = self.alternatives(depth + 1)
        if self.peek() != ")":
            raise self.fail("'(' is never closed", opened)
        self.at += 1
        if options == ((),):
            raise self.fail("an empty group '()'", opened)
        return _Group(options)

    def single(self) -> _Chars:
        char = self.peek()
        if char == ".":
            self.at += 1
            return _ANY
        if char == "[":
            return self.bracket()
        if char == "\\":
            return _literal(self.escaped())
        self.at += 1
        return _literal(char)

    def escaped(self) -> str:
        if self.at + 1 >= len(self.text):
            raise self.fail("a trailing '\\' escapes nothing")
        char = self.text[self.at + 1]
        if char not in _PUNCTUATION:
            if char.isdigit():
                reason = "back-references (\\1) are not supported"
            else:
                reason = (
                    f"'\\{char}' is not supported: escape only punctuation; write classes"
                    " such as [0-9] instead of \\d"
                )
            raise self.fail(reason)
        self.at += 2
        return char

    def bracket(self) -> _Chars:
        opened = self.at
        self.at += 1
        negated = self.peek() == "^"
        if negated:
            self.at += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            char = self.peek()
            if not char:
                raise self.fail("'[' is never closed", opened)
            if char == "]" and not first:
                self.at += 1
                break
            if char == "]":
                raise self.fail("an empty class '[]': escape ']' inside a class (\\])")
            if char == "[":
                raise self.fail(
                    "'[' inside a class: escape it (\\[); POSIX classes are not supported"
                )
            if self.text.startswith(_DOUBLED, self.at):
                pair = self.text[self.at : self.at + 2]
                raise self.fail(f"{pair!r} inside a class: escape one of them")
            low = self.class_char()
            if (
                self.peek() == "-"
                and self.at + 1 < len(self.text)
                and self.text[self.at + 1] != "]"
            ):
                self.at += 1
                high = self.class_char()
                if ord(high) < ord(low):
                    raise self.fail(f"the range {low}-{high} is backwards")
                ranges.append((ord(low), ord(high)))
            else:
                ranges.append((ord(low), ord(low)))
            first = False
        return _Chars(tuple(sorted(set(ranges))), negated=negated)

    def class_char(self) -> str:
        char = self.peek()
        if char == "\\":
            return self.escaped()
        if char == "[":
            raise self.fail("'[' inside a class: escape it (\\[)")
        if not char:
            raise self.fail("the class is never closed")
        self.at += 1
        return char

    def repeat(self, item: _Chars) -> _Repeat:
        at = self.at
        char = self.peek()
        self.at += 1
        least: int
        most: int | None
        if char == "*":
            least, most = 0, None
        elif char == "+":
            least, most = 1, None
        elif char == "?":
            least, most = 0, 1
        else:
            least, most = self.counts(at)
        if self.peek() in ("*", "+", "?", "{"):
            raise self.fail(
                "a repetition cannot be repeated (lazy and possessive forms are not supported)"
            )
        if most is None or least != most:
            self.variable += 1
            if self.variable > MAX_VARIABLE_REPEATS:
                raise self.fail(
                    f"at most {MAX_VARIABLE_REPEATS} variable repetitions (*, +, ?, {{m,n}})"
                    " per pattern",
                    at,
                )
        return _Repeat(item, least, most)

    def counts(self, at: int) -> tuple[int, int | None]:
        close = self.text.find("}", self.at)
        body = self.text[self.at : close] if close >= 0 else ""
        if close < 0:
            raise self.fail("'{' is never closed: escape it (\\{) to mean itself", at)
        low, comma, high = body.partition(",")
        if not low:
            raise self.fail("write the lower bound of a repetition: {0,n}, not {,n}", at)
        if not (low.isascii() and low.isdigit()) or (
            high and not (high.isascii() and high.isdigit())
        ):
            raise self.fail(f"'{{{body}}}' is not a repetition count", at)
        least = int(low)
        most: int | None = least if not comma else (int(high) if high else None)
        if least > MAX_REPEAT or (most is not None and most > MAX_REPEAT):
            raise self.fail(f"repetition counts are at most {MAX_REPEAT}", at)
        if most is not None and most < least:
            raise self.fail(f"'{{{body}}}' counts backwards", at)
        self.at = close + 1
        return least, most


def _literal(char: str) -> _Chars:
    return _Chars(((ord(char), ord(char)),), kind="char")


# --------------------------------------------------------------------------- checking


def check_pattern(pattern: str) -> str:
    r"""Return ``pattern`` if it is in the dialect (see the module docstring).

    Args:
        pattern: The regular expression.

    Returns:
        The pattern, unchanged.

    Raises:
        InvalidValueError: If it is empty, longer than :data:`MAX_PATTERN_LENGTH`,
            holds NUL or a lone surrogate, or is outside the dialect — the reason
            names the position (counting from 1) and what to write instead.

    >>> check_pattern("^13[0-9]{9}$")
    '^13[0-9]{9}$'
    >>> check_pattern(r"\d+")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid pattern '\\d+': at 1: '\d' is not supported: ...
    >>> check_pattern("(a|a)+$")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid pattern '(a|a)+$': at 6: a group cannot be ...
    """
    _parse(pattern)
    return pattern


@functools.lru_cache(maxsize=512)
def _parse_cached(pattern: str) -> tuple[tuple[_Node, ...], ...]:
    return _Parser(pattern).parse()


def _parse(pattern: object) -> tuple[tuple[_Node, ...], ...]:
    if not isinstance(pattern, str) or not pattern:
        raise InvalidValueError("pattern", pattern, "a non-empty regular expression is required")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidValueError("pattern", pattern, f"longer than {MAX_PATTERN_LENGTH} characters")
    for index, char in enumerate(pattern):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            what = "NUL" if char == "\x00" else "a lone surrogate"
            raise InvalidValueError("pattern", pattern, f"at {index + 1}: contains {what}")
    return _parse_cached(pattern)


# --------------------------------------------------------------------------- rendering


def render_pattern(pattern: str, engine: Engine) -> str:
    r"""Return ``pattern`` written for ``engine`` so that it means what the dialect says.

    PostgreSQL's ``.`` also matches a newline, so it becomes ``[^\n]``;
    MariaDB's (PCRE2) ``$`` also matches before a final newline, so it becomes
    ``\z``; Java's (Spark's ``rlike``) ``.`` also refuses ``\r`` and ``$`` also
    matches before a final line break, so both are rewritten as for PostgreSQL
    and MariaDB; polars (Rust ``regex``) and Java read ``&``, ``~`` and ``-`` inside a class
    as set operators, so they are escaped there.

    Args:
        pattern: A pattern in the dialect.
        engine: The engine it is for.

    Returns:
        The pattern in that engine's syntax.

    Raises:
        InvalidValueError: If ``pattern`` is outside the dialect.

    >>> render_pattern("^a.c$", Engine.POSTGRESQL)
    '^a[^\n]c$'
    >>> render_pattern("^a.c$", Engine.MARIADB)
    '^a.c\\z'
    """
    return "|".join(_render_sequence(option, engine) for option in _parse(pattern))


def _render_sequence(items: tuple[_Node, ...], engine: Engine) -> str:
    return "".join(_render(item, engine) for item in items)


def _render(node: _Node, engine: Engine) -> str:
    if isinstance(node, _Anchor):
        if not node.end:
            return "^"
        return {Engine.MARIADB: "\\z", Engine.SPARK: "\\z", Engine.PYTHON: "\\Z"}.get(engine, "$")
    if isinstance(node, _Group):
        inner = "|".join(_render_sequence(option, engine) for option in node.options)
        return f"({inner})" if engine is Engine.POSTGRESQL else f"(?:{inner})"
    if isinstance(node, _Repeat):
        return _render_chars(node.item, engine) + _render_count(node.least, node.most)
    return _render_chars(node, engine)


def _render_count(least: int, most: int | None) -> str:
    short = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((least, most))
    if short is not None:
        return short
    if most is None:
        return f"{{{least},}}"
    return f"{{{least}}}" if most == least else f"{{{least},{most}}}"


def _render_chars(node: _Chars, engine: Engine) -> str:
    if node.kind == "any":
        return "[^\n]" if engine in {Engine.POSTGRESQL, Engine.SPARK} else "."
    if node.kind == "char":
        char = chr(node.ranges[0][0])
        return f"\\{char}" if char in _META else char
    escape = _CLASS_META | ({"&", "~"} if engine in {Engine.POLARS, Engine.SPARK} else set())

    def one(code: int) -> str:
        return f"\\{chr(code)}" if chr(code) in escape else chr(code)

    parts = [one(lo) if lo == hi else f"{one(lo)}-{one(hi)}" for lo, hi in node.ranges]
    return f"[{'^' if node.negated else ''}{''.join(parts)}]"


# --------------------------------------------------------------------------- matching

_ACCEPT: Final = -1


@attrs.frozen
class _Nfa:
    """A Thompson automaton: per state, a character test or epsilon moves (some anchored)."""

    tests: tuple[_Chars | None, ...]  # a character test, or None for an epsilon state
    moves: tuple[tuple[int, ...], ...]  # where a test leads, or the epsilon targets
    anchors: tuple[int, ...]  # 0: plain, 1: only at the start, 2: only at the end
    start: int


class _Builder:
    def __init__(self) -> None:
        self.tests: list[_Chars | None] = []
        self.moves: list[list[int]] = []
        self.anchors: list[int] = []

    def state(self, test: _Chars | None, moves: list[int], anchor: int = 0) -> int:
        self.tests.append(test)
        self.moves.append(moves)
        self.anchors.append(anchor)
        return len(self.tests) - 1

    def options(self, options: tuple[tuple[_Node, ...], ...], then: int) -> int:
        starts = [self.sequence(option, then) for option in options]
        return starts[0] if len(starts) == 1 else self.state(None, starts)

    def sequence(self, items: tuple[_Node, ...], then: int) -> int:
        for item in reversed(items):
            then = self.node(item, then)
        return then

    def node(self, node: _Node, then: int) -> int:
        if isinstance(node, _Chars):
            return self.state(node, [then])
        if isinstance(node, _Anchor):
            return self.state(None, [then], 2 if node.end else 1)
        if isinstance(node, _Group):
            return self.options(node.options, then)
        if node.most is None:  # a loop: test -> (loop | then)
            loop = self.state(None, [])
            body = self.state(node.item, [loop])
            self.moves[loop] = [body, then]
            tail = loop
        else:
            tail = then
            for _ in range(node.most - node.least):
                tail = self.state(None, [self.state(node.item, [tail]), then])
        for _ in range(node.least):
            tail = self.state(node.item, [tail])
        return tail


class _Dfa:
    """The DFA states met so far: their NFA state sets and cached transitions."""

    __slots__ = ("index", "rows", "start")

    def __init__(self) -> None:
        self.index: dict[frozenset[int], int] = {}
        self.rows: list[tuple[frozenset[int], dict[str, int]]] = []
        self.start = 0

    def intern(self, states: frozenset[int]) -> int:
        found = self.index.get(states)
        if found is None:
            found = len(self.rows)
            self.index[states] = found
            self.rows.append((states, {}))
        return found


class Pattern:
    """A compiled pattern that searches text in time linear in the text's length.

    Built by :func:`compile_pattern`. The automaton is a Thompson NFA run as a
    lazily built DFA: each step of a search is a dictionary lookup once the
    states it meets are known. At most 2,000 DFA states are kept per pattern
    (the cache starts over when full), so memory stays bounded too. Safe to
    share between threads: a search that sees the cache start over carries on
    in the new one.
    """

    __slots__ = ("_closures", "_dfa", "_mid", "_nfa", "pattern")

    def __init__(self, pattern: str, nfa: _Nfa) -> None:
        self.pattern = pattern
        self._nfa = nfa
        self._closures: dict[tuple[frozenset[int], bool, bool], frozenset[int]] = {}
        start = frozenset((nfa.start,))
        self._mid = self._closure(start, at_start=False, at_end=False)
        self._dfa = self._new_dfa()

    def _new_dfa(self) -> _Dfa:
        dfa = _Dfa()
        start = frozenset((self._nfa.start,))
        dfa.start = dfa.intern(self._closure(start, at_start=True, at_end=False))
        return dfa

    def _closure(self, seeds: frozenset[int], *, at_start: bool, at_end: bool) -> frozenset[int]:
        """The states reachable from ``seeds`` by the epsilon moves allowed at this position.

        Kept: character tests, ``_ACCEPT``, and end anchors not yet passable
        (they are passed at the end of the text).
        """
        key = (seeds, at_start, at_end)
        cached = self._closures.get(key)
        if cached is not None:
            return cached
        nfa = self._nfa
        seen: set[int] = set()
        kept: set[int] = set()
        stack = list(seeds)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            if state == _ACCEPT or nfa.tests[state] is not None:
                kept.add(state)
                continue
            anchor = nfa.anchors[state]
            if anchor == 1 and not at_start:
                continue
            if anchor == 2 and not at_end:
                kept.add(state)
                continue
            stack.extend(nfa.moves[state])
        result = frozenset(kept)
        if len(self._closures) > 4 * _MAX_DFA_STATES:
            self._closures.clear()
        self._closures[key] = result
        return result

    def _step(self, dfa: _Dfa, index: int, char: str) -> tuple[_Dfa, int]:
        nfa = self._nfa
        seeds = frozenset(
            nfa.moves[state][0]
            for state in dfa.rows[index][0]
            if state != _ACCEPT and (test := nfa.tests[state]) is not None and test.accepts(char)
        )
        following = self._closure(seeds, at_start=False, at_end=False) | self._mid
        if len(dfa.rows) >= _MAX_DFA_STATES:  # bounded memory: start the cache over
            dfa = self._new_dfa()
            self._dfa = dfa
            return dfa, dfa.intern(following)
        target = dfa.intern(following)
        dfa.rows[index][1][char] = target
        return dfa, target

    def search(self, text: str) -> bool:
        """Return whether the pattern matches anywhere in ``text``.

        >>> compile_pattern("é|张").search("Li Änna"), compile_pattern("é|张").search("张伟")
        (False, True)
        """
        dfa = self._dfa
        rows = dfa.rows
        index = dfa.start
        if _ACCEPT in rows[index][0]:
            return True
        for char in text:
            following = rows[index][1].get(char)
            if following is None:
                dfa, following = self._step(dfa, index, char)
                rows = dfa.rows
            index = following
            if _ACCEPT in rows[index][0]:
                return True
        return self._accepts_at_end(rows[index][0], at_start=not text)

    def _accepts_at_end(self, states: frozenset[int], *, at_start: bool) -> bool:
        nfa = self._nfa
        passed = frozenset(
            target
            for state in states
            if state != _ACCEPT and nfa.tests[state] is None
            for target in nfa.moves[state]
        )
        return bool(passed) and _ACCEPT in self._closure(passed, at_start=at_start, at_end=True)

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Pattern:
    """Return the compiled :class:`Pattern` for ``pattern`` (cached).

    Args:
        pattern: A pattern in the dialect.

    Returns:
        The compiled pattern.

    Raises:
        InvalidValueError: If ``pattern`` is outside the dialect.

    >>> compile_pattern("^c0{2}[0-9]").search("c001")
    True
    """
    options = _parse(pattern)
    builder = _Builder()
    start = builder.options(options, _ACCEPT)
    nfa = _Nfa(
        tuple(builder.tests),
        tuple(tuple(m) for m in builder.moves),
        tuple(builder.anchors),
        start,
    )
    return Pattern(pattern, nfa)
