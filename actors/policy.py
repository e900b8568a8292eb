"""Cinder-style policy: who may perform which API action, kept as data rather than code.

A policy is a mapping of rule name to check string. Check strings are parsed once, when the
policy is built, so a typo in a policy file is reported at start-up (with the rule, the text and
the column) instead of silently refusing requests later. The check language:

* ``""`` or ``"@"`` always allows, ``"!"`` never does;
* ``rule:NAME`` evaluates another rule (unknown names and cycles deny);
* ``is_admin:True`` / ``is_admin:False`` compares the credential's admin flag;
* ``role:NAME`` holds when NAME is one of the credential's roles (case-insensitive);
* ``KEY:%(ATTR)s`` holds when the credential's KEY equals the target's ATTR;
* ``KEY:literal`` holds when the credential's KEY, as a string, equals the literal;
* ``not`` binds tighter than ``and``, which binds tighter than ``or``; parentheses group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from replisim.exception import ConfigError, PolicyNotAuthorized

__all__ = ["DEFAULT_RULES", "DEFAULT_RULE_NAME", "Policy"]

DEFAULT_RULE_NAME = "default"

DEFAULT_RULES: Mapping[str, str] = MappingProxyType(
    {
        "admin_api": "is_admin:True or role:admin",
        "admin_or_owner": "is_admin:True or role:admin or project_id:%(project_id)s",
        "default": "rule:admin_or_owner",
        "volume:create": "",
        "volume:get": "rule:admin_or_owner",
        "volume:get_all": "",
        "volume:delete": "rule:admin_or_owner",
        "volume:update": "rule:admin_or_owner",
        "volume:extend": "rule:admin_or_owner",
        "volume:update_readonly_flag": "rule:admin_or_owner",
        "volume:get_volume_metadata": "rule:admin_or_owner",
        "volume:update_volume_metadata": "rule:admin_or_owner",
        "volume:delete_volume_metadata": "rule:admin_or_owner",
        "volume_extension:volume_admin_actions:reset_status": "rule:admin_api",
        "volume:enable_replication": "rule:admin_api",
        "volume:disable_replication": "rule:admin_api",
        "volume:failover_replication": "rule:admin_api",
        "volume:list_replication_targets": "rule:admin_api",
        "volume:reset_replication_status": "rule:admin_api",
        "volume_extension:types_manage": "rule:admin_api",
        "volume_extension:types_extra_specs": "rule:admin_api",
        "volume_extension:services:index": "rule:admin_api",
        "volume_extension:services:update": "rule:admin_api",
        "volume:failover_host": "rule:admin_api",
        "volume:freeze_host": "rule:admin_api",
        "volume:thaw_host": "rule:admin_api",
        "volume:reset_active_backend": "rule:admin_api",
        "volume_extension:quotas:show": "rule:admin_or_owner",
        "volume_extension:quotas:update": "rule:admin_api",
        "volume_extension:quotas:delete": "rule:admin_api",
        "volume_extension:quota_classes:get": "rule:admin_api",
        "volume_extension:quota_classes:update": "rule:admin_api",
        "limits_extension:used_limits": "rule:admin_or_owner",
        "scheduler_extension:scheduler_stats:get_pools": "rule:admin_api",
        # generic volume groups (3.13) and group replication (3.38): a project member's, not
        # admin-only, as Cinder 29's defaults have them
        "admin_or_project_member": (
            "is_admin:True or role:admin or (role:member and project_id:%(project_id)s)"
        ),
        "admin_or_project_reader": (
            "is_admin:True or role:admin or (role:reader and project_id:%(project_id)s)"
        ),
        "group:create": "rule:admin_or_project_member",
        "group:get": "rule:admin_or_project_reader",
        "group:get_all": "rule:admin_or_project_reader",
        "group:update": "rule:admin_or_project_member",
        "group:delete": "rule:admin_or_project_member",
        "group:enable_replication": "rule:admin_or_project_member",
        "group:disable_replication": "rule:admin_or_project_member",
        "group:failover_replication": "rule:admin_or_project_member",
        "group:list_replication_targets": "rule:admin_or_project_member",
        # group types (3.11): everyone reads them, admins write them and see their specs
        "group:group_types_manage": "rule:admin_api",
        "group:group_types_specs": "rule:admin_api",
        "group:access_group_types_specs": "rule:admin_api",
    }
)

_KEYWORDS = frozenset({"and", "or", "not"})
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


# --------------------------------------------------------------------------------------------
# Evaluation context and the check tree
# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    """What one ``allows`` call evaluates against; ``active`` holds the rules being expanded."""

    policy: Policy
    credentials: Mapping[str, Any]
    target: Mapping[str, Any]
    active: list[str]


class _Check:
    """A node of a parsed check string."""

    def __call__(self, ctx: _Context) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _Constant(_Check):
    """``@``/empty (allow) and ``!`` (deny)."""

    value: bool

    def __call__(self, ctx: _Context) -> bool:
        return self.value


@dataclass(frozen=True)
class _Not(_Check):
    operand: _Check

    def __call__(self, ctx: _Context) -> bool:
        return not self.operand(ctx)


@dataclass(frozen=True)
class _And(_Check):
    operands: tuple[_Check, ...]

    def __call__(self, ctx: _Context) -> bool:
        return all(op(ctx) for op in self.operands)


@dataclass(frozen=True)
class _Or(_Check):
    operands: tuple[_Check, ...]

    def __call__(self, ctx: _Context) -> bool:
        return any(op(ctx) for op in self.operands)


@dataclass(frozen=True)
class _RuleRef(_Check):
    """``rule:NAME``: delegates, denying unknown rules and rules already being expanded (cycles)."""

    name: str

    def __call__(self, ctx: _Context) -> bool:
        return ctx.policy._evaluate_rule(self.name, ctx)


def _as_bool(value: Any) -> bool:
    """Credentials may carry the admin flag as a bool or (from headers/files) as a string."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


@dataclass(frozen=True)
class _IsAdmin(_Check):
    expected: bool

    def __call__(self, ctx: _Context) -> bool:
        return _as_bool(ctx.credentials.get("is_admin", False)) is self.expected


@dataclass(frozen=True)
class _Value:
    """The right-hand side of a check: a literal, or ``%(ATTR)s`` taken from the target."""

    literal: str | None = None
    target_attr: str | None = None

    def resolve(self, ctx: _Context) -> str | None:
        """The string to compare with, or None when the target lacks the attribute (deny)."""
        if self.target_attr is None:
            return self.literal
        if self.target_attr not in ctx.target or ctx.target[self.target_attr] is None:
            return None
        return str(ctx.target[self.target_attr])


@dataclass(frozen=True)
class _Role(_Check):
    value: _Value

    def __call__(self, ctx: _Context) -> bool:
        wanted = self.value.resolve(ctx)
        if wanted is None:
            return False
        roles = ctx.credentials.get("roles") or ()
        if isinstance(roles, str):
            roles = (roles,)
        return wanted.lower() in {str(role).lower() for role in roles}


@dataclass(frozen=True)
class _Generic(_Check):
    """``KEY:VALUE``: the credential's KEY, as a string, equals the resolved VALUE."""

    key: str
    value: _Value

    def __call__(self, ctx: _Context) -> bool:
        wanted = self.value.resolve(ctx)
        if wanted is None or self.key not in ctx.credentials:
            return False
        actual = ctx.credentials[self.key]
        return actual is not None and str(actual) == wanted


# --------------------------------------------------------------------------------------------
# Tokenizer and recursive-descent parser
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "and", "or", "not", "atom", "end"
    text: str
    pos: int  # 0-based offset into the check string


class _SyntaxError(Exception):
    def __init__(self, reason: str, pos: int):
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _tokenize(text: str) -> list[_Token]:
    """Splits on whitespace and parentheses, keeping ``%(attr)s`` templates inside their atom."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text.startswith("%(", i):
                close = text.find(")", i + 2)
                if close < 0:
                    raise _SyntaxError("unterminated '%(' template", i)
                i = close + 1
            else:
                i += 1
        word = text[start:i]
        kind = word.lower() if word.lower() in _KEYWORDS else "atom"
        tokens.append(_Token(kind, word, start))
    tokens.append(_Token("end", "", n))
    return tokens


def _parse_value(text: str, pos: int) -> _Value:
    if text.startswith("%("):
        close = text.find(")")
        attr = text[2:close]
        if text[close + 1 :] != "s" or not attr:
            raise _SyntaxError(f"malformed target template {text!r} (expected '%(name)s')", pos)
        return _Value(target_attr=attr)
    if "%(" in text:
        raise _SyntaxError(f"a target template must be the whole value, not part of {text!r}", pos)
    return _Value(literal=text)


def _parse_atom(token: _Token) -> _Check:
    text = token.text
    if text == "@":
        return _Constant(True)
    if text == "!":
        return _Constant(False)
    kind, sep, value = text.partition(":")
    if not sep or not kind:
        raise _SyntaxError(f"expected a check like 'kind:value', got {text!r}", token.pos)
    value_pos = token.pos + len(kind) + 1
    if not value:
        raise _SyntaxError(f"check {text!r} has an empty value", value_pos)
    if kind == "rule":
        return _RuleRef(value)
    if kind == "is_admin":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise _SyntaxError(f"is_admin takes True or False, got {value!r}", value_pos)
        return _IsAdmin(lowered == "true")
    if kind == "role":
        return _Role(_parse_value(value, value_pos))
    return _Generic(kind, _parse_value(value, value_pos))


class _Parser:
    """``or_expr := and_expr ('or' and_expr)*``, ``and_expr := not_expr ('and' not_expr)*``,
    ``not_expr := 'not' not_expr | '(' or_expr ')' | CHECK``."""

    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> _Check:
        if self.current.kind == "end":
            return _Constant(True)
        check = self._or()
        if self.current.kind != "end":
            raise _SyntaxError(f"unexpected {self.current.text!r}", self.current.pos)
        return check

    def _or(self) -> _Check:
        operands = [self._and()]
        while self.current.kind == "or":
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def _and(self) -> _Check:
        operands = [self._not()]
        while self.current.kind == "and":
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def _not(self) -> _Check:
        token = self.current
        if token.kind == "not":
            self._advance()
            return _Not(self._not())
        if token.kind == "(":
            self._advance()
            inner = self._or()
            if self.current.kind != ")":
                found = "end of text" if self.current.kind == "end" else repr(self.current.text)
                raise _SyntaxError(
                    f"expected ')' to close '(' at column {token.pos + 1}, found {found}", self.current.pos
                )
            self._advance()
            return inner
        if token.kind == "atom":
            self._advance()
            return _parse_atom(token)
        found = "end of text" if token.kind == "end" else repr(token.text)
        raise _SyntaxError(f"expected a check, 'not' or '(', found {found}", token.pos)


def _parse(name: str, text: str) -> _Check:
    """Parses one rule, turning a syntax error into a ConfigError naming the rule, text and column."""
    try:
        return _Parser(text).parse()
    except _SyntaxError as exc:
        caret = " " * exc.pos + "^"
        raise ConfigError(
            f"policy rule {name!r}: {exc.reason} at column {exc.pos + 1} in {text!r}\n    {text}\n    {caret}"
        ) from None


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------


class Policy:
    """A parsed rule set; ``allows``/``enforce`` answer whether credentials may perform an action."""

    def __init__(self, rules: Mapping[str, str] | None = None):
        merged = dict(DEFAULT_RULES)
        if rules:
            merged.update(rules)
        for name, text in merged.items():
            if not isinstance(text, str):
                raise ConfigError(
                    f"policy rule {name!r}: the check must be a string, got {type(text).__name__}"
                )
        self._texts: Mapping[str, str] = MappingProxyType(merged)
        self._checks: dict[str, _Check] = {name: _parse(name, text) for name, text in merged.items()}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Policy:
        """Loads a JSON object of rule -> check string on top of the defaults (as Cinder's policy.json)."""
        where = os.fspath(path)
        try:
            with open(where, encoding="utf-8") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ConfigError(f"policy file {where}: cannot be read: {exc.strerror or exc}") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"policy file {where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"policy file {where}: expected a JSON object of rule names to check strings, "
                f"got {type(data).__name__}"
            )
        for name, text in data.items():
            if not isinstance(text, str):
                raise ConfigError(
                    f"policy file {where}: rule {name!r} must be a string, got {json.dumps(text)}"
                )
        try:
            return cls(data)
        except ConfigError as exc:
            raise ConfigError(f"policy file {where}: {exc.msg}") from None

    @property
    def rules(self) -> Mapping[str, str]:
        """The effective rule texts (defaults plus overrides), read-only."""
        return self._texts

    def allows(
        self, action: str, credentials: Mapping[str, Any], target: Mapping[str, Any] | None = None
    ) -> bool:
        """Whether ``credentials`` may perform ``action`` on ``target``; unlisted actions use ``default``."""
        ctx = _Context(self, credentials, target or {}, [])
        name = action if action in self._checks else DEFAULT_RULE_NAME
        return self._evaluate_rule(name, ctx)

    def enforce(
        self, action: str, credentials: Mapping[str, Any], target: Mapping[str, Any] | None = None
    ) -> None:
        """Like ``allows`` but raises PolicyNotAuthorized (HTTP 403), as the API layer wants."""
        if not self.allows(action, credentials, target):
            raise PolicyNotAuthorized(action=action)

    def _evaluate_rule(self, name: str, ctx: _Context) -> bool:
        check = self._checks.get(name)
        if check is None or name in ctx.active:
            return False
        ctx.active.append(name)
        try:
            return check(ctx)
        finally:
            ctx.active.pop()

    def __repr__(self) -> str:
        return f"Policy({len(self._checks)} rules)"
