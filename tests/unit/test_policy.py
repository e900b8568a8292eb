"""Tests for the policy engine: defaults, the check language, files and error messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.actors.policy import DEFAULT_RULES, Policy
from replisim.exception import ConfigError, PolicyNotAuthorized

REPLICATION_ACTIONS = (
    "volume:enable_replication",
    "volume:disable_replication",
    "volume:failover_replication",
    "volume:list_replication_targets",
)

ADMIN = {"user_id": "root", "project_id": "admin-project", "is_admin": True, "roles": ["admin"]}
ADMIN_ROLE_ONLY = {"user_id": "ops", "project_id": "ops-project", "is_admin": False, "roles": ["Admin"]}
MEMBER = {"user_id": "alice", "project_id": "p1", "is_admin": False, "roles": ["member"]}
OTHER = {"user_id": "bob", "project_id": "p2", "is_admin": False, "roles": ["member"]}
OPERATOR = {"user_id": "carol", "project_id": "p3", "is_admin": False, "roles": ["operator"]}

VOLUME_OF_P1 = {"project_id": "p1", "user_id": "alice", "id": "vol-1"}


def allows(check: str, credentials: dict, target: dict | None = None) -> bool:
    """Evaluates one check string as the rule of a throwaway action."""
    return Policy({"test:action": check}).allows("test:action", credentials, target)


# --------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", REPLICATION_ACTIONS)
def test_admin_may_manage_replication(action: str) -> None:
    policy = Policy()
    assert policy.allows(action, ADMIN)
    assert policy.allows(action, ADMIN_ROLE_ONLY)
    policy.enforce(action, ADMIN)


@pytest.mark.parametrize("action", REPLICATION_ACTIONS)
def test_member_may_not_manage_replication(action: str) -> None:
    policy = Policy()
    assert not policy.allows(action, MEMBER, VOLUME_OF_P1)
    with pytest.raises(PolicyNotAuthorized) as info:
        policy.enforce(action, MEMBER, VOLUME_OF_P1)
    assert info.value.code == 403
    assert action in str(info.value)


def test_owner_may_get_but_other_project_may_not() -> None:
    policy = Policy()
    assert policy.allows("volume:get", MEMBER, VOLUME_OF_P1)
    assert not policy.allows("volume:get", OTHER, VOLUME_OF_P1)
    assert policy.allows("volume:get", ADMIN, VOLUME_OF_P1)
    assert policy.allows("volume:delete", MEMBER, VOLUME_OF_P1)
    assert not policy.allows("volume:delete", OTHER, VOLUME_OF_P1)


def test_open_actions_allow_anyone() -> None:
    policy = Policy()
    for who in (MEMBER, OTHER, ADMIN, {}):
        assert policy.allows("volume:create", who)
        assert policy.allows("volume:get_all", who)


def test_unknown_action_falls_back_to_default_rule() -> None:
    policy = Policy()
    assert policy.allows("volume:frobnicate", MEMBER, VOLUME_OF_P1)
    assert not policy.allows("volume:frobnicate", OTHER, VOLUME_OF_P1)
    assert policy.allows("volume:frobnicate", ADMIN)
    strict = Policy({"default": "!"})
    assert not strict.allows("volume:frobnicate", ADMIN)
    assert strict.allows("volume:failover_replication", ADMIN)


def test_owner_check_denies_without_target() -> None:
    assert not Policy().allows("volume:get", MEMBER)
    assert not Policy().allows("volume:get", MEMBER, {"id": "vol-1"})


def test_default_rules_are_read_only_and_all_parse() -> None:
    with pytest.raises(TypeError):
        DEFAULT_RULES["volume:create"] = "!"  # type: ignore[index]
    policy = Policy()
    assert dict(policy.rules) == dict(DEFAULT_RULES)
    assert "volume_extension:services:index" in policy.rules


def test_overrides_extend_defaults_without_mutating_them() -> None:
    policy = Policy({"volume:create": "rule:admin_api", "custom:thing": "role:operator"})
    assert not policy.allows("volume:create", MEMBER)
    assert policy.allows("custom:thing", OPERATOR)
    assert DEFAULT_RULES["volume:create"] == ""
    assert Policy().allows("volume:create", MEMBER)


# --------------------------------------------------------------------------------------------
# Check language elements
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ["", "@", "   ", "( @ )"])
def test_always(check: str) -> None:
    assert allows(check, {})
    assert allows(check, MEMBER)


def test_never() -> None:
    assert not allows("!", ADMIN)


def test_is_admin() -> None:
    assert allows("is_admin:True", ADMIN)
    assert not allows("is_admin:True", MEMBER)
    assert allows("is_admin:False", MEMBER)
    assert not allows("is_admin:False", ADMIN)
    assert allows("is_admin:False", {})  # absent flag means not admin
    assert allows("is_admin:true", {"is_admin": "True"})  # string flags are accepted
    assert not allows("is_admin:True", {"is_admin": "false"})


def test_role_is_case_insensitive() -> None:
    assert allows("role:admin", ADMIN_ROLE_ONLY)
    assert allows("role:ADMIN", ADMIN)
    assert allows("role:operator", OPERATOR)
    assert not allows("role:operator", MEMBER)
    assert not allows("role:admin", {})


def test_target_substitution() -> None:
    assert allows("project_id:%(project_id)s", MEMBER, VOLUME_OF_P1)
    assert not allows("project_id:%(project_id)s", OTHER, VOLUME_OF_P1)
    assert allows("user_id:%(user_id)s", MEMBER, VOLUME_OF_P1)
    assert not allows("user_id:%(user_id)s", OTHER, VOLUME_OF_P1)
    # Credential key compared with a differently named target attribute.
    assert allows("project_id:%(owner)s", MEMBER, {"owner": "p1"})


def test_target_substitution_missing_attribute_denies() -> None:
    assert not allows("project_id:%(project_id)s", MEMBER, {})
    assert not allows("project_id:%(project_id)s", MEMBER, None)
    assert not allows("project_id:%(project_id)s", MEMBER, {"project_id": None})
    assert not allows("project_id:%(project_id)s", {}, VOLUME_OF_P1)


def test_generic_literal() -> None:
    assert allows("user_id:alice", MEMBER)
    assert not allows("user_id:alice", OTHER)
    assert allows("domain_id:7", {"domain_id": 7})  # compared as a string
    assert not allows("domain_id:7", {})


def test_rule_reference() -> None:
    policy = Policy({"ops": "role:operator", "test:action": "rule:ops"})
    assert policy.allows("test:action", OPERATOR)
    assert not policy.allows("test:action", MEMBER)


def test_unknown_rule_denies() -> None:
    assert not allows("rule:no_such_rule", ADMIN)
    assert allows("rule:no_such_rule or @", ADMIN)


def test_cycles_deny_instead_of_recursing() -> None:
    policy = Policy(
        {
            "a": "rule:b",
            "b": "rule:a",
            "self": "rule:self",
            "loop_or_admin": "rule:loop_or_admin or is_admin:True",
            "test:action": "rule:a",
        }
    )
    assert not policy.allows("test:action", ADMIN)
    assert not policy.allows("self", ADMIN)
    assert policy.allows("loop_or_admin", ADMIN)
    assert not policy.allows("loop_or_admin", MEMBER)


def test_shared_rule_used_twice_is_not_a_cycle() -> None:
    policy = Policy({"x": "role:operator", "test:action": "rule:x and rule:x and (rule:x)"})
    assert policy.allows("test:action", OPERATOR)


def test_precedence_and_binds_tighter_than_or() -> None:
    # "a or b and c" is "a or (b and c)": with a true and c false it is still true.
    assert allows("@ or @ and !", {})
    assert not allows("(@ or @) and !", {})
    assert allows("! and ! or @", {})
    assert not allows("! and (! or @)", {})


def test_not_binds_tighter_than_and() -> None:
    assert not allows("not @ and @", {})  # (not @) and @
    assert allows("not (! and @)", {})
    assert allows("not ! and @", {})
    assert allows("not not @", {})
    assert not allows("NOT @", {})  # keywords are case-insensitive


def test_parentheses_nest() -> None:
    assert allows("((role:admin) or (is_admin:True and (not !)))", ADMIN)
    assert not allows("((role:admin) or (is_admin:True and (not @)))", MEMBER)
    assert allows("(project_id:%(project_id)s)", MEMBER, VOLUME_OF_P1)


def test_keyword_like_names_stay_names() -> None:
    policy = Policy({"admin_and_owner": "@", "or_else": "!", "test:action": "rule:admin_and_owner"})
    assert policy.allows("test:action", {})
    assert not policy.allows("or_else", {})


# --------------------------------------------------------------------------------------------
# Syntax errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("role:admin or", 14, "expected a check"),
        ("role:admin and and role:x", 16, "expected a check"),
        ("(role:admin", 12, "expected ')'"),
        ("role:admin)", 11, "unexpected ')'"),
        ("role:admin role:x", 12, "unexpected 'role:x'"),
        ("()", 2, "expected a check"),
        ("admin", 1, "kind:value"),
        ("is_admin:maybe", 10, "is_admin takes True or False"),
        ("role:", 6, "empty value"),
        ("project_id:%(project_id", 12, "unterminated"),
        ("project_id:%(project_id)x", 12, "malformed target template"),
        ("not", 4, "end of text"),
    ],
)
def test_syntax_error_names_rule_text_and_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Policy({"volume:broken": text})
    message = str(info.value)
    assert "'volume:broken'" in message
    assert repr(text) in message
    assert f"column {column}" in message
    assert fragment in message


def test_syntax_error_shows_caret_under_the_problem() -> None:
    with pytest.raises(ConfigError) as info:
        Policy({"r": "role:a or or role:b"})
    lines = str(info.value).splitlines()
    assert lines[1].strip() == "role:a or or role:b"
    assert lines[2].index("^") - lines[1].index("r") == 10


def test_non_string_rule_in_mapping() -> None:
    with pytest.raises(ConfigError, match=r"'volume:get'.*string"):
        Policy({"volume:get": 42})  # type: ignore[dict-item]


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def test_file_changes_who_may_fail_over(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"volume:failover_replication": "role:operator"}))
    policy = Policy.from_file(path)
    assert policy.allows("volume:failover_replication", OPERATOR)
    assert not policy.allows("volume:failover_replication", ADMIN)
    # Untouched rules keep their defaults.
    assert policy.allows("volume:enable_replication", ADMIN)
    assert not policy.allows("volume:enable_replication", OPERATOR)
    policy = Policy.from_file(str(path))  # str paths too
    assert policy.allows("volume:failover_replication", OPERATOR)


def test_bad_json_reports_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{\n  "volume:get": "@",\n  "volume:delete" "!"\n}\n')
    with pytest.raises(ConfigError) as info:
        Policy.from_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert "column 19" in message


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('["volume:get", "@"]')
    with pytest.raises(ConfigError, match="JSON object") as info:
        Policy.from_file(path)
    assert str(path) in str(info.value)


def test_non_string_value_names_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"volume:get": "@", "volume:failover_replication": ["role:admin"]}))
    with pytest.raises(ConfigError) as info:
        Policy.from_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "'volume:failover_replication'" in message
    assert "must be a string" in message


def test_syntax_error_in_file_names_file_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"volume:delete": "role:admin or"}))
    with pytest.raises(ConfigError) as info:
        Policy.from_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "'volume:delete'" in message
    assert "column 14" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match="cannot be read") as info:
        Policy.from_file(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Property: parsing + evaluation agree with Python's evaluation of the same tree
# --------------------------------------------------------------------------------------------

# Atoms whose truth value is known for CREDS (an admin holding the "ops" role in project p1).
CREDS = {"user_id": "u1", "project_id": "p1", "is_admin": True, "roles": ["Ops"]}
TARGET = {"project_id": "p1", "owner": "someone-else"}
ATOMS: dict[str, bool] = {
    "@": True,
    "!": False,
    "is_admin:True": True,
    "is_admin:False": False,
    "role:ops": True,
    "role:admin": False,
    "project_id:%(project_id)s": True,
    "user_id:%(owner)s": False,
    "user_id:u1": True,
    "rule:yes": True,
    "rule:no": False,
    "rule:missing": False,
}
PRECEDENCE = {"or": 1, "and": 2, "not": 3, "atom": 4}


@dataclass(frozen=True)
class Node:
    op: str  # "atom", "not", "and", "or"
    children: tuple[Node, ...] = ()
    atom: str = ""

    def value(self) -> bool:
        if self.op == "atom":
            return ATOMS[self.atom]
        if self.op == "not":
            return not self.children[0].value()
        if self.op == "and":
            return all(child.value() for child in self.children)
        return any(child.value() for child in self.children)


def trees() -> st.SearchStrategy[Node]:
    leaves = st.sampled_from(sorted(ATOMS)).map(lambda atom: Node("atom", atom=atom))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            inner.map(lambda child: Node("not", (child,))),
            st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=4)).map(
                lambda pair: Node(pair[0], tuple(pair[1]))
            ),
        ),
        max_leaves=12,
    )


@st.composite
def rendered(draw: st.DrawFn, node: Node) -> str:
    """Text for ``node``: parentheses where precedence needs them, plus random extra ones."""
    if node.op == "atom":
        text = node.atom
    elif node.op == "not":
        text = "not " + draw(child_text(node.children[0], PRECEDENCE["not"]))
    else:
        sep = draw(st.sampled_from([f" {node.op} ", f"  {node.op.upper()}\t"]))
        text = sep.join(draw(child_text(child, PRECEDENCE[node.op] + 1)) for child in node.children)
    if draw(st.booleans()) and draw(st.booleans()):
        text = draw(st.sampled_from(["({})", "( {} )", "(({}))"])).format(text)
    return text


@st.composite
def child_text(draw: st.DrawFn, child: Node, needed: int) -> str:
    text = draw(rendered(child))
    if PRECEDENCE[child.op] < needed and not (text.startswith("(") and _balanced_wrap(text)):
        text = f"({text})"
    return text


def _balanced_wrap(text: str) -> bool:
    """Whether the outermost '(' of ``text`` closes at its last character."""
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_expressions_evaluate_like_python(data: st.DataObject) -> None:
    tree = data.draw(trees())
    text = data.draw(rendered(tree))
    policy = Policy({"yes": "@", "no": "!", "test:action": text})
    assert policy.allows("test:action", CREDS, TARGET) is tree.value(), text


def test_atoms_have_the_truth_values_the_property_assumes() -> None:
    policy = Policy({"yes": "@", "no": "!"})
    for atom, expected in ATOMS.items():
        probe = Policy({**policy.rules, "probe": atom})
        assert probe.allows("probe", CREDS, TARGET) is expected, atom
