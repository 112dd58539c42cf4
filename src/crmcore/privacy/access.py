"""Access policies (权限): who may view, edit, delete, merge or export which records.

A policy is data. Each :class:`Role` holds :class:`Grant` rows — an
:class:`Action` on a :class:`RecordType` within a :class:`Scope` — and says
whether the role sees sensitive fields masked. The :class:`AccessPolicy`
adds the team hierarchy (:class:`TeamTree`). An :class:`Actor` is the user
acting: their id, roles, teams and the records explicitly shared with them
or their teams.

Scopes:

- ``own`` — the record's owner is the actor;
- ``team`` — the record's team is one of the actor's teams;
- ``team_tree`` — the record's team is one of the actor's teams or a team
  below one of them in the hierarchy (a manager's sub-teams);
- ``unassigned`` — the record has no owner;
- ``shared`` — the record's id is shared with the actor (the host passes the
  shares in the actor; nothing is stored per record for own or team access);
- ``all`` — every record.

For one actor, action and record type the policy resolves to one
:class:`AccessFilter` (owners, teams, unassigned, ids, or everything). The
in-memory predicate (:func:`allows`, :func:`visible`) and the compilers to SQL
(:mod:`crmcore.adapters.sql.access`) and polars
(:mod:`crmcore.adapters.frames.access`) all read that filter, so they select the
same records.

Masking (:func:`mask`) is driven by the classification every domain field
carries (:mod:`crmcore.domain.classification`): for an actor none of whose
roles sees sensitive data, every sensitive value is masked by kind (phones
``+86138****8000``, emails ``l***@example.com``, national ids ``********``,
see :mod:`crmcore.privacy._mask`).

>>> policy = AccessPolicy.from_dict({
...     "roles": {
...         "rep": {"grants": {"view": {"customer": ["own", "shared"]},
...                            "edit": {"customer": ["own"]}},
...                 "mask_sensitive": True},
...         "manager": {"grants": {"view": {"customer": ["team_tree"]}}},
...     },
...     "teams": {"east-1": "east"},
... })
>>> rep = Actor(user="u1", roles={"rep"}, teams={"east-1"}, shared={"customer": ["c9"]})
>>> f = access_filter(policy, rep, "view", "customer")
>>> sorted(f.owners), sorted(f.ids), f.unassigned
(['u1'], ['c9'], False)
>>> sorted(access_filter(policy, Actor(user="m1", roles={"manager"}, teams={"east"}),
...                      "view", "customer").teams)
['east', 'east-1']

May import: ``crmcore.domain``, ``crmcore.errors``; attrs.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from crmcore.domain.activity import Activity
from crmcore.domain.case import Case
from crmcore.domain.consent import Consent
from crmcore.domain.customer import Customer
from crmcore.domain.ids import TeamId, UserId
from crmcore.domain.lead import Lead
from crmcore.domain.opportunity import Opportunity
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import (
    InvalidValueError,
    NotFoundError,
    PayloadError,
    PermissionDeniedError,
    Problem,
)
from crmcore.privacy._mask import masked_copy

__all__ = [
    "DEFAULT_POLICY",
    "AccessFilter",
    "AccessPolicy",
    "Action",
    "Actor",
    "Decision",
    "Grant",
    "RecordType",
    "Role",
    "Scope",
    "SecuredRepository",
    "Share",
    "TeamTree",
    "access_filter",
    "allows",
    "grants",
    "mask",
    "masks_sensitive",
    "record_type_of",
    "require",
    "visible",
]


class Action(enum.StrEnum):
    """What an actor does to a record."""

    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    MERGE = "merge"
    EXPORT = "export"


class RecordType(enum.StrEnum):
    """The kinds of record a policy speaks about."""

    CUSTOMER = "customer"
    LEAD = "lead"
    OPPORTUNITY = "opportunity"
    ACTIVITY = "activity"
    CASE = "case"
    ORDER = "order"
    SURVEY_RESPONSE = "survey_response"
    CONSENT = "consent"

    @property
    def has_owner(self) -> bool:
        """Whether records of this type carry an ``owner`` (own / unassigned scopes apply)."""
        return self in _OWNED

    @property
    def has_team(self) -> bool:
        """Whether records of this type carry a ``team`` (team scopes apply)."""
        return self in _TEAMED


_TEAMED = frozenset({RecordType.CUSTOMER, RecordType.LEAD, RecordType.OPPORTUNITY, RecordType.CASE})
_OWNED = _TEAMED | {RecordType.ACTIVITY}

_CLASSES: Mapping[type[Any], RecordType] = {
    Customer: RecordType.CUSTOMER,
    Lead: RecordType.LEAD,
    Opportunity: RecordType.OPPORTUNITY,
    Activity: RecordType.ACTIVITY,
    Case: RecordType.CASE,
    Order: RecordType.ORDER,
    SurveyResponse: RecordType.SURVEY_RESPONSE,
    Consent: RecordType.CONSENT,
}


class Scope(enum.StrEnum):
    """Which records of a type a grant reaches (see the module docstring)."""

    ALL = "all"
    OWN = "own"
    TEAM = "team"
    TEAM_TREE = "team_tree"
    UNASSIGNED = "unassigned"
    SHARED = "shared"


_SCOPE_ORDER = tuple(Scope)


def record_type_of(record: object) -> RecordType:
    """Return the :class:`RecordType` of a domain record.

    Raises:
        InvalidValueError: If access policies do not cover records of its class.

    >>> from crmcore.domain import Money, Order
    >>> import pendulum
    >>> at = pendulum.datetime(2026, 1, 1)
    >>> record_type_of(Order(id="o1", customer_id="c1", amount=Money("1", "CNY"),
    ...                      ordered_at=at, created_at=at, updated_at=at))
    <RecordType.ORDER: 'order'>
    """
    kind = _CLASSES.get(type(record))
    if kind is None:
        raise InvalidValueError("record", type(record).__name__, "not covered by access policies")
    return kind


def _scope_problem(record_type: RecordType, scope: Scope) -> str | None:
    if scope in (Scope.OWN, Scope.UNASSIGNED) and not record_type.has_owner:
        return f"{record_type} records have no owner: scope {scope} cannot apply"
    if scope in (Scope.TEAM, Scope.TEAM_TREE) and not record_type.has_team:
        return f"{record_type} records have no team: scope {scope} cannot apply"
    return None


def _check_grant(instance: Grant, _: attrs.Attribute[Scope], scope: Scope) -> None:
    problem = _scope_problem(instance.record_type, scope)
    if problem is not None:
        raise InvalidValueError("scope", scope.value, problem)


@attrs.frozen(order=True)
class Grant:
    """One row of a role: ``action`` on ``record_type`` records within ``scope``.

    >>> Grant("view", "activity", "team")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid scope 'team': activity records have no team: ...
    """

    action: Action = attrs.field(converter=Action)
    record_type: RecordType = attrs.field(converter=RecordType)
    scope: Scope = attrs.field(converter=Scope, validator=_check_grant)


def _words(value: str | Iterable[str]) -> list[str]:
    return value.split() if isinstance(value, str) else list(value)


def grants(
    actions: str | Iterable[str], record_types: str | Iterable[str], scopes: str | Iterable[str]
) -> frozenset[Grant]:
    """Return every grant of ``actions`` × ``record_types`` × ``scopes``.

    Each argument is a list of values or one string of space-separated values.

    Raises:
        InvalidValueError: If a name is unknown or a scope cannot apply to a type.

    >>> sorted(g.scope.value for g in grants("view edit", "customer", "own team"))
    ['own', 'own', 'team', 'team']
    """
    return frozenset(
        Grant(action, record_type, scope)
        for action in _words(actions)
        for record_type in _words(record_types)
        for scope in _words(scopes)
    )


def _grant_set(value: Iterable[Grant]) -> frozenset[Grant]:
    items = frozenset(value)
    if any(not isinstance(g, Grant) for g in items):
        raise InvalidValueError("grants", sorted(map(repr, items)), "expected Grant values")
    return items


def _role_name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("role", value, "a role needs a non-empty name")
    return value.strip()


@attrs.frozen(kw_only=True, cache_hash=True)
class Role:
    """A named set of grants, and whether the role sees sensitive fields masked.

    >>> rep = Role(name="rep", grants=grants("view edit", "customer", "own"), mask_sensitive=True)
    >>> rep.scopes("view", "customer")
    frozenset({<Scope.OWN: 'own'>})
    """

    name: str = attrs.field(converter=_role_name)
    grants: frozenset[Grant] = attrs.field(default=frozenset(), converter=_grant_set)
    mask_sensitive: bool = attrs.field(default=False)

    def scopes(self, action: Action | str, record_type: RecordType | str) -> frozenset[Scope]:
        """Return the scopes this role grants for ``action`` on ``record_type``."""
        act, kind = Action(action), RecordType(record_type)
        return frozenset(g.scope for g in self.grants if g.action is act and g.record_type is kind)


def _parents(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    pairs = tuple(sorted((str(child), str(parent)) for child, parent in items))
    children = [child for child, _ in pairs]
    if len(set(children)) != len(children):
        raise InvalidValueError("teams", children, "a team has one parent")
    for child, _ in pairs:
        problem = _cycle(dict(pairs), child)
        if problem is not None:
            raise InvalidValueError("teams", child, problem)
    return pairs


def _cycle(parents: Mapping[str, str], team: str) -> str | None:
    seen = {team}
    current = parents.get(team)
    while current is not None:
        if current in seen:
            return f"the hierarchy loops through {current!r}"
        seen.add(current)
        current = parents.get(current)
    return None


@attrs.frozen(kw_only=True, cache_hash=True)
class TeamTree:
    """The team hierarchy: each team's parent team (teams without a parent are roots).

    >>> tree = TeamTree(parents={"east-1": "east", "east-2": "east", "east-2a": "east-2"})
    >>> sorted(tree.below({"east-2"}))
    ['east-2', 'east-2a']
    """

    parents: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_parents)

    def below(self, teams: Iterable[str]) -> frozenset[TeamId]:
        """Return ``teams`` and every team below one of them."""
        children: dict[str, list[str]] = {}
        for child, parent in self.parents:
            children.setdefault(parent, []).append(child)
        found: set[str] = set()
        stack = list(teams)
        while stack:
            team = stack.pop()
            if team not in found:
                found.add(team)
                stack.extend(children.get(team, ()))
        return frozenset(TeamId(t) for t in found)


def _roles(value: Iterable[Role]) -> tuple[Role, ...]:
    items = tuple(sorted(value, key=lambda r: r.name))
    names = [r.name for r in items]
    if len(set(names)) != len(names):
        raise InvalidValueError("roles", names, "role names must be unique")
    return items


@attrs.frozen(kw_only=True, cache_hash=True)
class AccessPolicy:
    """Every role and the team hierarchy; JSON-able through :meth:`to_dict` / :meth:`from_dict`."""

    roles: tuple[Role, ...] = attrs.field(converter=_roles)
    teams: TeamTree = attrs.field(factory=TeamTree)

    def role(self, name: str) -> Role:
        """Return the role called ``name``.

        Raises:
            InvalidValueError: If the policy defines no such role.
        """
        for role in self.roles:
            if role.name == name:
                return role
        raise InvalidValueError("role", name, f"not defined by the policy {self.role_names}")

    @property
    def role_names(self) -> list[str]:
        """The names of the roles, sorted."""
        return [r.name for r in self.roles]

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as plain JSON-able data (the form :meth:`from_dict` reads).

        >>> DEFAULT_POLICY.to_dict()["roles"]["rep"]["grants"]["view"]["customer"]
        ['own', 'unassigned', 'shared']
        >>> AccessPolicy.from_dict(DEFAULT_POLICY.to_dict()) == DEFAULT_POLICY
        True
        """
        roles: dict[str, Any] = {}
        for role in self.roles:
            table: dict[str, dict[str, list[str]]] = {}
            for action in Action:
                for kind in RecordType:
                    scopes = role.scopes(action, kind)
                    if scopes:
                        ordered = [s.value for s in _SCOPE_ORDER if s in scopes]
                        table.setdefault(action.value, {})[kind.value] = ordered
            roles[role.name] = {"grants": table, "mask_sensitive": role.mask_sensitive}
        return {"roles": roles, "teams": dict(self.teams.parents)}

    @classmethod
    def from_dict(cls, data: object) -> AccessPolicy:
        """Read a policy from plain data, checking everything.

        The form is ``{"roles": {name: {"grants": {action: {record_type:
        [scope, ...]}}, "mask_sensitive": bool}}, "teams": {team: parent}}``;
        ``mask_sensitive`` and ``teams`` are optional.

        Raises:
            PayloadError: Listing every problem with its path
                (``$.roles.rep.grants.view.activity[0]``).

        >>> AccessPolicy.from_dict({"roles": {"rep": {"grants": {"view": {"order": ["own"]}},
        ...                                           "colour": "red"}}})
        Traceback (most recent call last):
        ...
        crmcore.errors.PayloadError: invalid AccessPolicy (2 problems):
          unknown key 'colour' @ $.roles.rep.colour
          order records have no owner: scope own cannot apply @ $.roles.rep.grants.view.order[0]
        """
        problems: list[Problem] = []
        policy = _read_policy(data, problems)
        if problems or policy is None:
            raise PayloadError("AccessPolicy", problems)
        return policy


def _expect_object(value: object, path: str, problems: list[Problem]) -> Mapping[str, Any] | None:
    if not isinstance(value, dict):
        problems.append(Problem(path, f"expected an object, got {type(value).__name__}"))
        return None
    return value


def _unknown_keys(
    value: Mapping[str, Any], known: set[str], path: str, problems: list[Problem]
) -> None:
    problems.extend(
        Problem(f"{path}.{key}", f"unknown key {key!r}") for key in value if key not in known
    )


def _read_enum(enum_cls: type[Any], value: object, path: str, problems: list[Problem]) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        problems.append(Problem(path, f"unknown {enum_cls.__name__} {value!r}; one of {allowed}"))
        return None


def _read_grants(value: object, path: str, problems: list[Problem]) -> set[Grant]:
    found: set[Grant] = set()
    table = _expect_object(value, path, problems)
    if table is None:
        return found
    for action_name, kinds in table.items():
        action_path = f"{path}.{action_name}"
        action = _read_enum(Action, action_name, action_path, problems)
        by_kind = _expect_object(kinds, action_path, problems)
        if action is None or by_kind is None:
            continue
        for kind_name, scopes in by_kind.items():
            kind_path = f"{action_path}.{kind_name}"
            kind = _read_enum(RecordType, kind_name, kind_path, problems)
            if not isinstance(scopes, list):
                problems.append(
                    Problem(kind_path, f"expected a list of scopes, got {type(scopes).__name__}")
                )
                continue
            for i, scope_name in enumerate(scopes):
                scope = _read_enum(Scope, scope_name, f"{kind_path}[{i}]", problems)
                if kind is None or scope is None:
                    continue
                problem = _scope_problem(kind, scope)
                if problem is not None:
                    problems.append(Problem(f"{kind_path}[{i}]", problem))
                else:
                    found.add(Grant(action, kind, scope))
    return found


def _read_role(name: str, value: object, path: str, problems: list[Problem]) -> Role | None:
    body = _expect_object(value, path, problems)
    if body is None:
        return None
    _unknown_keys(body, {"grants", "mask_sensitive"}, path, problems)
    if "grants" not in body:
        problems.append(Problem(f"{path}.grants", "required"))
    found = _read_grants(body.get("grants", {}), f"{path}.grants", problems)
    mask_sensitive = body.get("mask_sensitive", False)
    if not isinstance(mask_sensitive, bool):
        problems.append(Problem(f"{path}.mask_sensitive", "expected true or false"))
        return None
    if not name.strip():
        problems.append(Problem(path, "a role needs a non-empty name"))
        return None
    return Role(name=name, grants=found, mask_sensitive=mask_sensitive)


def _read_teams(value: object, problems: list[Problem]) -> TeamTree:
    parents = _expect_object(value, "$.teams", problems)
    if parents is None:
        return TeamTree()
    good: dict[str, str] = {}
    for child, parent in parents.items():
        if not isinstance(parent, str) or not parent:
            problems.append(Problem(f"$.teams.{child}", "expected a parent team id (a string)"))
        elif parent == child:
            problems.append(Problem(f"$.teams.{child}", "a team cannot be its own parent"))
        else:
            good[child] = parent
    loops = [child for child in good if _cycle(good, child) is not None]
    problems.extend(Problem(f"$.teams.{child}", str(_cycle(good, child))) for child in loops)
    return TeamTree(parents={} if loops else good)


def _read_policy(data: object, problems: list[Problem]) -> AccessPolicy | None:
    body = _expect_object(data, "$", problems)
    if body is None:
        return None
    _unknown_keys(body, {"roles", "teams"}, "$", problems)
    roles: list[Role] = []
    role_table = _expect_object(body.get("roles"), "$.roles", problems)
    for name, value in (role_table or {}).items():
        role = _read_role(name, value, f"$.roles.{name}", problems)
        if role is not None:
            roles.append(role)
    teams = _read_teams(body.get("teams", {}), problems)
    if problems:
        return None
    return AccessPolicy(roles=roles, teams=teams)


@attrs.frozen(order=True)
class Share:
    """One record explicitly shared with an actor (or one of the actor's teams)."""

    record_type: RecordType = attrs.field(converter=RecordType)
    id: str = attrs.field()


def _shares(value: Mapping[str, Iterable[str]] | Iterable[Share]) -> frozenset[Share]:
    if isinstance(value, Mapping):
        return frozenset(
            Share(kind, str(i))
            for kind, ids in value.items()
            for i in ([ids] if isinstance(ids, str) else ids)
        )
    items = frozenset(value)
    if any(not isinstance(s, Share) for s in items):
        raise InvalidValueError("shared", sorted(map(repr, items)), "expected Share values")
    return items


def _names(value: str | Iterable[str]) -> frozenset[str]:
    return frozenset([value] if isinstance(value, str) else value)


def _user(value: str) -> UserId:
    if not isinstance(value, str) or not value:
        raise InvalidValueError("user", value, "an actor needs a user id")
    return UserId(value)


def _some_role(instance: Actor, _: attrs.Attribute[frozenset[str]], value: frozenset[str]) -> None:
    if not value:
        raise InvalidValueError("roles", instance.user, "an actor needs at least one role")


@attrs.frozen(kw_only=True, cache_hash=True)
class Actor:
    """The user acting: id, roles, teams, and the records shared with them or their teams.

    >>> Actor(user="u1", roles="rep", teams="east", shared={"customer": ["c9"]}).shared_ids(
    ...     "customer")
    frozenset({'c9'})
    """

    user: UserId = attrs.field(converter=_user)
    roles: frozenset[str] = attrs.field(converter=_names, validator=_some_role)
    teams: frozenset[TeamId] = attrs.field(default=frozenset(), converter=_names)
    shared: frozenset[Share] = attrs.field(default=frozenset(), converter=_shares)

    def shared_ids(self, record_type: RecordType | str) -> frozenset[str]:
        """Return the ids of the records of ``record_type`` shared with this actor."""
        kind = RecordType(record_type)
        return frozenset(s.id for s in self.shared if s.record_type is kind)


@attrs.frozen(kw_only=True)
class AccessFilter:
    """What one actor may reach for one action and record type, resolved from a policy.

    A record matches when ``everything`` is set, its owner is in ``owners``, its
    team in ``teams``, it has no owner and ``unassigned`` is set, or its id is in
    ``ids``. Adapters compile exactly this to SQL and polars.
    """

    record_type: RecordType
    everything: bool = False
    owners: frozenset[UserId] = frozenset()
    teams: frozenset[TeamId] = frozenset()
    unassigned: bool = False
    ids: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        """Whether no record can match."""
        return not (self.everything or self.owners or self.teams or self.unassigned or self.ids)

    def _terms(self) -> list[str]:
        kind = self.record_type
        terms: list[str] = []
        if kind.has_owner and len(self.owners) == 1 and not self.unassigned:
            terms.append("r.owner == owner")
        elif kind.has_owner and (self.owners or self.unassigned):
            terms.append("r.owner in owners")  # None among them for unassigned records
        if kind.has_team and self.teams:
            terms.append("r.team in teams")
        if self.ids:
            terms.append("r.id in ids")
        return terms

    def _compile(self, template: str, **names: Any) -> Any:
        """Evaluate ``template`` with ``{test}`` replaced by this filter's one expression."""
        terms = ["True"] if self.everything else self._terms() or ["False"]
        namespace: dict[str, Any] = {
            "owner": next(iter(self.owners), None),
            "owners": self.owners | {None} if self.unassigned else self.owners,
            "teams": self.teams,
            "ids": self.ids,
            **names,
        }
        # The source is built from the fixed terms above only; values live in the namespace.
        return eval(template.format(test=" or ".join(terms)), namespace)  # noqa: S307

    def predicate(self) -> Callable[[Any], bool]:
        """Return a fast function telling whether a record of :attr:`record_type` matches.

        The function is one expression with only the tests this filter needs
        (``r.owner in {me, None} or r.id in ids`` for a rep).

        >>> f = AccessFilter(record_type=RecordType.CUSTOMER, owners=frozenset({"u1"}))
        >>> import types
        >>> f.predicate()(types.SimpleNamespace(id="c1", owner="u1", team=None))
        True
        """
        test: Callable[[Any], bool] = self._compile("lambda r: bool({test})")
        return test

    def select(self, records: list[Any], cls: type[Any]) -> list[Any]:
        """Return the records that match, in order; every one must be a ``cls``.

        One list comprehension with the test inlined: no call per record.

        Raises:
            InvalidValueError: If a record is not a ``cls``.
        """

        def other(record: Any) -> bool:
            raise InvalidValueError(
                "records", type(record).__name__, f"mixed record types: expected {cls.__name__}"
            )

        run: Callable[[list[Any]], list[Any]] = self._compile(
            "lambda items: [r for r in items if (type(r) is cls or other(r)) and ({test})]",
            cls=cls,
            other=other,
        )
        return run(records)


def _granted(policy: AccessPolicy, actor: Actor, action: Action, kind: RecordType) -> set[Scope]:
    scopes: set[Scope] = set()
    for name in sorted(actor.roles):
        scopes |= policy.role(name).scopes(action, kind)
    return scopes


def access_filter(
    policy: AccessPolicy, actor: Actor, action: Action | str, record_type: RecordType | str
) -> AccessFilter:
    """Resolve what ``actor`` may reach for ``action`` on ``record_type`` records.

    Team trees are expanded here, so adapters get plain lists of team ids. Policies
    and actors are values, so the last few thousand answers are cached.

    Raises:
        InvalidValueError: If the action or record type is unknown, or the actor
            has a role the policy does not define.
    """
    return _resolve(policy, actor, Action(action), RecordType(record_type))


@functools.lru_cache(maxsize=4096)
def _resolve(policy: AccessPolicy, actor: Actor, act: Action, kind: RecordType) -> AccessFilter:
    # Policies and actors are values (their hashes are cached): an actor's next request
    # resolves with one lookup.
    scopes = _granted(policy, actor, act, kind)
    if Scope.ALL in scopes:
        return AccessFilter(record_type=kind, everything=True)
    teams: frozenset[TeamId] = frozenset()
    if Scope.TEAM_TREE in scopes:
        teams = policy.teams.below(actor.teams)
    elif Scope.TEAM in scopes:
        teams = actor.teams
    return AccessFilter(
        record_type=kind,
        owners=frozenset({actor.user}) if Scope.OWN in scopes else frozenset(),
        teams=teams,
        unassigned=Scope.UNASSIGNED in scopes,
        ids=actor.shared_ids(kind) if Scope.SHARED in scopes else frozenset(),
    )


@attrs.frozen(kw_only=True)
class Decision:
    """The answer of :func:`allows`: allowed or not, the scope that allowed it, and why.

    Truthy when allowed.
    """

    allowed: bool
    reason: str
    scope: Scope | None = None

    def __bool__(self) -> bool:
        return self.allowed


@functools.lru_cache(maxsize=256)
def _table(policy: AccessPolicy) -> dict[tuple[str, Action, RecordType], frozenset[Scope]]:
    """Every role's scopes by (role, action, record type), for per-record decisions."""
    table: dict[tuple[str, Action, RecordType], set[Scope]] = {}
    for role in policy.roles:
        for g in role.grants:
            table.setdefault((role.name, g.action, g.record_type), set()).add(g.scope)
    return {key: frozenset(scopes) for key, scopes in table.items()}


@functools.lru_cache(maxsize=4096)
def _below(tree: TeamTree, teams: frozenset[TeamId]) -> frozenset[TeamId]:
    return tree.below(teams)


@functools.lru_cache(maxsize=4096)
def _shared(actor: Actor, kind: RecordType) -> frozenset[str]:
    return actor.shared_ids(kind)


def _in_scope(
    scope: Scope, policy: AccessPolicy, actor: Actor, kind: RecordType, record: Any
) -> str | None:
    owner = record.owner if kind.has_owner else None
    team = record.team if kind.has_team else None
    if scope is Scope.ALL:
        return "every record"
    if scope is Scope.OWN and kind.has_owner and owner == actor.user:
        return f"owned by {actor.user!r}"
    if scope is Scope.TEAM and team is not None and team in actor.teams:
        return f"team {team!r} is the actor's"
    if scope is Scope.TEAM_TREE and team is not None and team in _below(policy.teams, actor.teams):
        return f"team {team!r} is the actor's or below it"
    if scope is Scope.UNASSIGNED and kind.has_owner and owner is None:
        return "no owner"
    if scope is Scope.SHARED and record.id in _shared(actor, kind):
        return "shared with the actor"
    return None


def allows(policy: AccessPolicy, actor: Actor, action: Action | str, record: Any) -> Decision:
    """Decide whether ``actor`` may do ``action`` to ``record``, and say why.

    >>> import pendulum
    >>> from crmcore.domain import Organization, register_customer
    >>> c, _ = register_customer(id="c1", organization=Organization(legal_name="Acme"),
    ...                          owner="u2", team="east", at=pendulum.datetime(2026, 1, 1))
    >>> allows(DEFAULT_POLICY, Actor(user="u1", roles="rep", teams="east"), "edit", c)
    Decision(allowed=False, reason="rep may edit customer records only in scope own, shared; customer 'c1' is owned by 'u2' in team 'east'", scope=None)
    >>> allows(DEFAULT_POLICY, Actor(user="m1", roles="manager", teams="east"), "edit", c).reason
    "role 'manager' grants edit on customer in scope team_tree: team 'east' is the actor's or below it"

    Raises:
        InvalidValueError: If the action is unknown, the record's type not covered
            or the actor has a role the policy does not define.
    """  # noqa: E501 - a doctest output line
    act = action if isinstance(action, Action) else Action(action)
    kind = record_type_of(record)
    table = _table(policy)
    granted: set[Scope] = set()
    for name in sorted(actor.roles):
        scopes = table.get((name, act, kind))
        if scopes is None:
            policy.role(name)  # an unknown role raises; a known one grants nothing here
            continue
        granted |= scopes
        for scope in _SCOPE_ORDER:
            if scope in scopes:
                why = _in_scope(scope, policy, actor, kind, record)
                if why is not None:
                    return Decision(
                        allowed=True,
                        reason=f"role {name!r} grants {act} on {kind} in scope {scope}: {why}",
                        scope=scope,
                    )
    roles = ", ".join(sorted(actor.roles))
    if not granted:
        return Decision(allowed=False, reason=f"no role of the actor ({roles}) grants {act} {kind}")
    listed = ", ".join([s for s in _SCOPE_ORDER if s in granted])
    where = ""
    if kind.has_owner:
        where += f" is owned by {record.owner!r}"
    if kind.has_team:
        where += f" in team {record.team!r}"
    return Decision(
        allowed=False,
        reason=f"{roles} may {act} {kind} records only in scope {listed}; "
        f"{kind} {record.id!r}{where or ' is outside them'}",
    )


def require(policy: AccessPolicy, actor: Actor, action: Action | str, record: Any) -> Decision:
    """Return the :class:`Decision` allowing ``action``, or raise when it is denied.

    Raises:
        PermissionDeniedError: Naming the actor, the action and the record, with the reason.
        InvalidValueError: As for :func:`allows`.
    """
    decision = allows(policy, actor, action, record)
    if not decision:
        kind = record_type_of(record)
        raise PermissionDeniedError(
            actor.user, f"{Action(action)} {kind}", record.id, decision.reason
        )
    return decision


R = TypeVar("R")


def visible(
    policy: AccessPolicy,
    actor: Actor,
    records: Iterable[R],
    *,
    action: Action | str = Action.VIEW,
) -> list[R]:
    """Return the records ``actor`` may ``action`` (default: view), in their order, unmasked.

    The policy is resolved once (:func:`access_filter`); each record is then one
    cheap test. Records must all be of one type.

    Raises:
        InvalidValueError: As for :func:`allows`, or if the records mix types.
    """
    items = records if isinstance(records, list) else list(records)
    if not items:
        return []
    cls = type(items[0])
    found: list[R] = access_filter(policy, actor, action, record_type_of(items[0])).select(
        items, cls
    )
    return found


def masks_sensitive(policy: AccessPolicy, actor: Actor) -> bool:
    """Return whether ``actor`` sees sensitive fields masked: every one of its roles masks them.

    Raises:
        InvalidValueError: If the actor has a role the policy does not define.
    """
    return all(policy.role(name).mask_sensitive for name in actor.roles)


def mask(record: R, actor: Actor, policy: AccessPolicy) -> R:
    """Return ``record`` as ``actor`` may see it: sensitive values masked unless a role shows them.

    The result has the record's own type, so it serialises like any snapshot;
    see :mod:`crmcore.privacy._mask` for how each kind of value is masked.

    >>> import pendulum
    >>> from crmcore.domain import EmailAddress, Person, PersonName, PhoneNumber
    >>> from crmcore.domain import register_customer
    >>> c, _ = register_customer(
    ...     id="c1", person=Person(name=PersonName.parse("李娜"), national_id="110101199003074514"),
    ...     emails=[EmailAddress("li.na@example.com")], phones=[PhoneNumber("+8613800138000")],
    ...     owner="u1", at=pendulum.datetime(2026, 1, 1))
    >>> m = mask(c, Actor(user="u1", roles="rep"), DEFAULT_POLICY)
    >>> m.display_name, str(m.points.primary_email), str(m.points.primary_phone)
    ('李娜', 'l***@example.com', '+86138****8000')
    >>> m.person.national_id
    '********'

    Raises:
        InvalidValueError: If the actor has a role the policy does not define.
    """
    if not masks_sensitive(policy, actor):
        return record
    masked: R = masked_copy(record)
    return masked


class _Records(Protocol[R]):
    """What :class:`SecuredRepository` needs of a repository (any crmcore repository has it)."""

    def get(self, id: Any) -> R: ...

    def save(self, entity: R) -> R: ...

    def iter_all(self) -> Iterator[R]: ...


class _Denied(Exception):  # noqa: N818 - private signal, never escapes
    def __init__(self, path: str) -> None:
        self.path = path


def _restore(incoming: Any, stored: Any, masked: Any, path: str) -> Any:
    """Put the stored values back where ``incoming`` holds their masked form."""
    if incoming == stored:
        return incoming
    if incoming == masked:
        return stored
    if (
        attrs.has(type(incoming))
        and type(incoming) is type(stored) is type(masked)
        and not isinstance(incoming, tuple)
    ):
        values = {
            f.name: _restore(
                getattr(incoming, f.name),
                getattr(stored, f.name),
                getattr(masked, f.name),
                f"{path}.{f.name}",
            )
            for f in attrs.fields(type(incoming))
        }
        return type(incoming)(
            **{f.alias: values[f.name] for f in attrs.fields(type(incoming)) if f.init}
        )
    if masked == stored:  # nothing sensitive here: the actor may change it
        return incoming
    raise _Denied(path)


class SecuredRepository(Generic[R]):
    """A repository seen through an access policy, for one actor.

    Reads return only what the actor may view, masked; :meth:`save` raises
    :class:`~crmcore.errors.PermissionDeniedError` and stores nothing when the
    actor may not edit the stored record or the record as saved (a rep cannot
    give a customer away to another owner). An actor who sees sensitive fields
    masked may save a snapshot read through this class: the masked values are
    replaced by the stored ones; changing a sensitive value it cannot see is
    denied.

    Args:
        repository: Any crmcore repository (memory, SQL, a host's).
        policy: The access policy.
        actor: Who is acting.
        record_type: The type of the repository's records.
        query: Optional pushdown: returns the stored records an
            :class:`AccessFilter` matches, e.g.
            ``functools.partial(select_allowed, connection)`` with the SQL adapter's
            :func:`~crmcore.adapters.sql.access.select_allowed`; without it,
            :meth:`visible` filters ``repository.iter_all()`` in memory.

    >>> import pendulum
    >>> from crmcore.adapters.memory import MemoryStore
    >>> from crmcore.domain import Organization, register_customer
    >>> store = MemoryStore()
    >>> with store.unit_of_work() as uow:
    ...     for i, owner in enumerate(["u1", "u2", "u1"]):
    ...         c, _ = register_customer(id=f"c{i}", organization=Organization(legal_name="Acme"),
    ...                                  owner=owner, at=pendulum.datetime(2026, 1, 1))
    ...         _ = uow.customers.save(c)
    ...     uow.commit()
    ...     mine = SecuredRepository(uow.customers, policy=DEFAULT_POLICY,
    ...                              actor=Actor(user="u1", roles="rep"), record_type="customer")
    ...     [c.id for c in mine.visible()]
    ['c0', 'c2']
    >>> with store.unit_of_work() as uow:
    ...     mine = SecuredRepository(uow.customers, policy=DEFAULT_POLICY,
    ...                              actor=Actor(user="u1", roles="rep"), record_type="customer")
    ...     mine.save(uow.customers.get("c1"))
    Traceback (most recent call last):
    ...
    crmcore.errors.PermissionDeniedError: 'u1' may not edit customer 'c1': rep may edit ...
    """

    def __init__(
        self,
        repository: _Records[R],
        *,
        policy: AccessPolicy,
        actor: Actor,
        record_type: RecordType | str,
        query: Callable[[AccessFilter], Iterable[R]] | None = None,
    ) -> None:
        self.repository = repository
        self.policy = policy
        self.actor = actor
        self.record_type = RecordType(record_type)
        self._query = query
        masks_sensitive(policy, actor)  # an unknown role fails now, not at the first read

    def get(self, id: str) -> R:
        """Return the record with ``id``, masked for the actor.

        Raises:
            NotFoundError: If there is none.
            PermissionDeniedError: If the actor may not view it.
        """
        record = self.repository.get(id)
        require(self.policy, self.actor, Action.VIEW, record)
        return mask(record, self.actor, self.policy)

    def visible(self, action: Action | str = Action.VIEW) -> list[R]:
        """Return every record the actor may ``action`` (default: view), masked.

        Raises:
            StorageError: If the repository fails.
        """
        found = access_filter(self.policy, self.actor, action, self.record_type)
        if self._query is not None:
            records = list(self._query(found))
        else:
            test = found.predicate()
            records = [r for r in self.repository.iter_all() if test(r)]
        return [mask(r, self.actor, self.policy) for r in records]

    def save(self, entity: R) -> R:
        """Save ``entity`` if the actor may edit it before and after; return it masked.

        Raises:
            PermissionDeniedError: If the actor may not edit the stored record or
                ``entity``, or changes a sensitive value it sees masked; nothing is saved.
            StaleVersionError: As the repository raises it.
        """
        stored: R | None = None
        if getattr(entity, "version", 0):
            try:
                stored = self.repository.get(getattr(entity, "id"))  # noqa: B009 - R is opaque
            except NotFoundError:
                stored = None
        if stored is not None:
            require(self.policy, self.actor, Action.EDIT, stored)
        require(self.policy, self.actor, Action.EDIT, entity)
        if stored is not None and masks_sensitive(self.policy, self.actor):
            try:
                entity = _restore(entity, stored, masked_copy(stored), "$")
            except _Denied as denied:
                kind = record_type_of(entity)
                raise PermissionDeniedError(
                    self.actor.user,
                    f"edit {kind}",
                    getattr(entity, "id"),  # noqa: B009 - R is opaque
                    f"{denied.path} is sensitive and masked for the actor",
                ) from None
        return mask(self.repository.save(entity), self.actor, self.policy)


DEFAULT_POLICY = AccessPolicy(
    roles=[
        Role(
            name="rep",
            grants=grants("view edit", "customer lead opportunity activity case", "own shared")
            | grants("view", "customer lead", "unassigned")
            | grants("export", "customer lead opportunity activity case", "own"),
            mask_sensitive=True,
        ),
        Role(
            name="manager",
            grants=grants(
                "view edit merge export", "customer lead opportunity case", "own team_tree shared"
            )
            | grants("view edit merge export", "activity", "own shared")
            | grants("view edit", "customer lead", "unassigned")
            | grants("view", "order survey_response consent", "all"),
        ),
        Role(
            name="admin",
            grants=grants([a.value for a in Action], [k.value for k in RecordType], "all"),
        ),
    ]
)
"""Roles out of the box (销售 / 主管 / 管理员): a ``rep`` views and edits their own records
and those shared with them, views unassigned customers and leads, and sees sensitive
fields masked; a ``manager`` works on their team and every team below it; an ``admin``
does everything to every record."""
