"""Tests for reading cinder.conf: the replication_devices grammar, backends and error messages."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replisim.actors.config import (
    BackendConfig,
    CinderConfig,
    load_config,
    parse_config,
    strip_inline_comment,
)
from replisim.drivers.contract import load_class
from replisim.drivers.devices import parse_device_entries, parse_device_string
from replisim.exception import ConfigError
from replisim.redaction import is_secret_option

DRIVER = "collections.OrderedDict"

MANAGED = f"""\
[DEFAULT]
enabled_backends = backend-a, backend-b
host = node1

[backend-a]
volume_driver = {DRIVER}
volume_backend_name = gold
san_ip = 10.0.0.1
san_password = pw-a
replication_devices = backend-b

[backend-b]
volume_driver = {DRIVER}
volume_backend_name = silver
"""

UNMANAGED = f"""\
[DEFAULT]
enabled_backends = backend-a

[backend-a]
volume_driver = {DRIVER}
managed_replication_target = False
replication_devices = {{'backend_id'='remote-1' 'san_ip'='10.0.0.9'
    'san_password'='pw remote: 1=1'}},
    {{backend_id=remote-2
     'url'='https://array.example:8443/api/v1'}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cinder.conf"
    path.write_text(text, encoding="utf-8")
    return path


def line_with(text: str, needle: str) -> int:
    """The 1-based number of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.split("\n"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the test's config text")


def expect_config_error(
    tmp_path: Path,
    text: str,
    *,
    line: int | None,
    section: str | None,
    option: str | None,
    parts: tuple[str, ...],
    check_drivers: bool = True,
) -> str:
    """Load ``text`` expecting a ConfigError located at file:line: [section] option."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, check_drivers=check_drivers)
    message = str(info.value)
    prefix = f"{path}:{line}:" if line else f"{path}:"
    if section is not None:
        prefix += f" [{section}]" + (f" {option}:" if option else ":")
    assert message.startswith(prefix), message
    for part in parts:
        assert part in message, (part, message)
    return message


# --------------------------------------------------------------------------------------------
# The replication_devices grammar


def test_seed_example() -> None:
    text = "{'key-1'='val-1' 'key-2'='val-2' 'key-3'='val-3'}"
    assert parse_device_string(text) == {"key-1": "val-1", "key-2": "val-2", "key-3": "val-3"}


def test_quoted_values_keep_special_characters() -> None:
    text = "{'url'='https://h:8443/a/b?x=1' \"name\"=\"a b, {c} = d\" 'quote'=\"it's\" 'both'='say \"hi\"'}"
    assert parse_device_string(text) == {
        "url": "https://h:8443/a/b?x=1",
        "name": "a b, {c} = d",
        "quote": "it's",
        "both": 'say "hi"',
    }


def test_escapes_bare_tokens_and_commas_between_pairs() -> None:
    text = r"{ 'a' = 'it\'s',  b=10.0.0.1:3260/x , 'c'='back\\slash' 'd'='keep\n' }"
    assert parse_device_string(text) == {
        "a": "it's",
        "b": "10.0.0.1:3260/x",
        "c": "back\\slash",
        "d": "keep\\n",
    }


def test_multiple_entries_and_newlines_as_whitespace() -> None:
    text = "{'backend_id'='r1' 'x'='1'},\n{'backend_id'='r2'\n 'x'='2'} ,{y=''}"
    assert parse_device_entries(text) == [
        {"backend_id": "r1", "x": "1"},
        {"backend_id": "r2", "x": "2"},
        {"y": ""},
    ]


def test_blank_text_is_no_devices() -> None:
    assert parse_device_entries("") == []
    assert parse_device_entries(" \n ") == []


def test_parse_device_string_needs_exactly_one_entry() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        parse_device_string("{a=1}, {b=2}")
    with pytest.raises(ValueError, match="exactly one"):
        parse_device_string("")


@pytest.mark.parametrize(
    ("text", "reason", "column"),
    [
        ("{'san_ip'='10.0.0.1 }", "unterminated quote", 11),
        ("{'a'='b\\'}", "unterminated quote", 6),
        ("{a b}", "missing '=' after key 'a'", 4),
        ("{a=b", "missing '}'", 5),
        ("{a=b} x", "unexpected text 'x' after '}'", 7),
        ("{a=b}{c=d}", "unexpected text '{c=d}' after '}'", 6),
        ("{}", "empty entry", 1),
        ("{ , }", "empty entry", 1),
        ("{a=b},", "empty item", 6),
        ("{a=b},,{c=d}", "empty item", 7),
        ("{a=1 'a'=2}", "duplicate key 'a'", 6),
        ("{a=}", "missing value for key 'a'", 4),
        ("{=b}", "expected a key but found '='", 2),
        ("{a={b}}", "expected a value but found '{'", 4),
        ("{''=b}", "empty key", 2),
        ("backend-b", "expected a '{...}' entry but found backend name 'backend-b'", 1),
        ("}", "unexpected '}'", 1),
    ],
)
def test_malformed_entries_say_what_and_where(text: str, reason: str, column: int) -> None:
    with pytest.raises(ValueError) as info:
        parse_device_entries(text)
    message = str(info.value)
    assert reason in message
    assert f'"{text}"' in message
    assert f"at column {column}" in message


# A test-side renderer: quote (or leave bare) and escape each token, so that parsing the
# rendering must give back the dicts it came from.

_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))
_KEYS = st.text(_TEXT, min_size=1, max_size=12)
_VALUES = st.one_of(
    st.text(_TEXT, max_size=12),
    st.text(st.sampled_from("ab'\"\\ :=,{}/#"), max_size=12),
)
_ENTRY = st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=5)


def _bare_ok(token: str) -> bool:
    return bool(token) and not any(ch.isspace() or ch in "{}=,'\"" for ch in token)


def render_token(token: str, data: st.DataObject) -> str:
    if _bare_ok(token) and data.draw(st.booleans()):
        return token
    quote = data.draw(st.sampled_from("'\""))
    return quote + token.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def render(entries: list[dict[str, str]], data: st.DataObject) -> str:
    rendered = []
    for entry in entries:
        pairs = []
        for key, value in entry.items():
            around = data.draw(st.sampled_from(["", " ", "  "]))
            pairs.append(render_token(key, data) + around + "=" + around + render_token(value, data))
        gap = data.draw(st.sampled_from([" ", "\n", ",", ", ", " ,\n  "]))
        inner = data.draw(st.sampled_from(["", " ", "\n"]))
        rendered.append("{" + inner + gap.join(pairs) + inner + "}")
    return data.draw(st.sampled_from(["", " "])) + data.draw(
        st.sampled_from([",", ", ", ",\n", " ,\n    "])
    ).join(rendered)


@settings(database=None)
@given(st.lists(_ENTRY, min_size=1, max_size=4), st.data())
def test_rendered_entries_parse_back(entries: list[dict[str, str]], data: st.DataObject) -> None:
    assert parse_device_entries(render(entries, data)) == entries


@settings(database=None)
@given(_ENTRY, st.data())
def test_rendered_single_entry_parses_back(entry: dict[str, str], data: st.DataObject) -> None:
    assert parse_device_string(render([entry], data)) == entry


@settings(database=None)
@given(st.one_of(st.text(), st.text(st.sampled_from("{}'\"=, \n\\ab"), max_size=30)))
def test_arbitrary_text_raises_only_value_error(text: str) -> None:
    try:
        result = parse_device_entries(text)
    except ValueError as exc:
        assert "at column" in str(exc)
    else:
        assert all(isinstance(entry, dict) and entry for entry in result)


# --------------------------------------------------------------------------------------------
# Helpers


@pytest.mark.parametrize(
    "name",
    ["san_password", "SAN_PASSWD", "chap_secret", "api_token", "ssh_private_key", "access_key", "apikey"],
)
def test_secret_option_names(name: str) -> None:
    assert is_secret_option(name)


@pytest.mark.parametrize("name", ["san_ip", "san_login", "volume_driver", "keys_dir", ""])
def test_non_secret_option_names(name: str) -> None:
    assert not is_secret_option(name)


def test_load_class_both_spellings() -> None:
    assert load_class("collections.OrderedDict") is OrderedDict
    assert load_class("collections:OrderedDict") is OrderedDict
    assert load_class("replisim.exception:ConfigError") is ConfigError


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("nosuchpkg_xyz.Driver", "cannot import module 'nosuchpkg_xyz': No module named"),
        ("collections.NoSuchDriver", "module 'collections' has no attribute 'NoSuchDriver'"),
        ("collections.namedtuple", "'collections.namedtuple' is not a class"),
        ("Driver", "is not an import path"),
    ],
)
def test_load_class_errors(path: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        load_class(path)
    assert reason in str(info.value)


# --------------------------------------------------------------------------------------------
# Whole files


def test_managed_backends(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MANAGED))
    assert isinstance(cfg, CinderConfig)
    assert cfg.source == str(tmp_path / "cinder.conf")
    assert cfg.host == "node1"
    assert cfg.enabled_backends == ("backend-a", "backend-b")
    assert list(cfg.backends) == ["backend-a", "backend-b"]
    a, b = cfg.backend("backend-a"), cfg.backend("backend-b")
    assert isinstance(a, BackendConfig)
    assert a.replication_targets == ("backend-b",)
    assert a.replication_devices == ()
    assert a.replication_configured
    assert a.managed_replication_target is True
    assert not b.replication_configured
    assert (a.host, b.host) == ("node1@backend-a", "node1@backend-b")
    assert (a.volume_backend_name, b.volume_backend_name) == ("gold", "silver")
    assert a.volume_driver == DRIVER
    assert dict(a.options) == {
        "volume_driver": DRIVER,
        "volume_backend_name": "gold",
        "san_ip": "10.0.0.1",
        "san_password": "pw-a",
        "replication_devices": "backend-b",
    }
    assert "host" not in a.options  # [DEFAULT] is not inherited
    assert cfg.defaults["enabled_backends"] == "backend-a, backend-b"
    assert cfg.by_host("node1@backend-b") is b
    assert cfg.by_host("node1@backend-a#pool0") is a
    assert cfg.secrets() == ("pw-a",)


def test_driver_configuration(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MANAGED))
    conf_a = cfg.backend("backend-a").driver_configuration()
    conf_b = cfg.backend("backend-b").driver_configuration()
    assert conf_a.backend_name == "backend-a"
    assert conf_a.host == "node1@backend-a"
    assert conf_a.volume_backend_name == "gold"
    assert conf_a.volume_driver == DRIVER
    assert conf_a.san_ip == "10.0.0.1"
    assert conf_a.safe_get("san_ip") == "10.0.0.1"
    assert conf_a.no_such_option is None
    assert conf_a.safe_get("no_such_option") is None
    assert conf_a.managed_replication_target is True
    assert conf_a.replication_devices == ["backend-b"]
    assert conf_b.replication_devices is None
    assert conf_b.safe_get("replication_devices") is None
    with pytest.raises(AttributeError):
        conf_a.san_ip = "changed"
    for shown in (repr(conf_a), repr(cfg.backend("backend-a")), repr(cfg), str(cfg)):
        assert "pw-a" not in shown
    assert "san_password" in repr(conf_a)  # names are fine, values are not
    assert copy.deepcopy(conf_a).san_ip == "10.0.0.1"
    assert pickle.loads(pickle.dumps(cfg)) == cfg


def test_unmanaged_devices_over_continuation_lines(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, UNMANAGED))
    backend = cfg.backend("backend-a")
    assert backend.managed_replication_target is False
    assert backend.replication_targets == ()
    assert [dict(device) for device in backend.replication_devices] == [
        {"backend_id": "remote-1", "san_ip": "10.0.0.9", "san_password": "pw remote: 1=1"},
        {"backend_id": "remote-2", "url": "https://array.example:8443/api/v1"},
    ]
    conf = backend.driver_configuration()
    assert conf.managed_replication_target is False
    assert conf.replication_devices == [dict(d) for d in backend.replication_devices]
    assert backend.secrets() == ("pw remote: 1=1",)
    assert cfg.secrets() == ("pw remote: 1=1",)
    assert "pw remote" not in repr(conf) + repr(backend) + repr(backend.replication_devices)
    assert "pw-a" not in repr(parse_config(MANAGED).backend("backend-a").options)
    assert cfg.host == "replisim"
    assert backend.host == "replisim@backend-a"
    assert backend.volume_backend_name == "backend-a"


def test_targets_resolve_through_volume_backend_name() -> None:
    text = MANAGED.replace("replication_devices = backend-b", "replication_devices = silver")
    assert parse_config(text).backend("backend-a").replication_targets == ("backend-b",)


def test_empty_replication_devices_means_none() -> None:
    text = MANAGED.replace("replication_devices = backend-b", "replication_devices =")
    backend = parse_config(text).backend("backend-a")
    assert not backend.replication_configured
    assert backend.driver_configuration().replication_devices is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("Yes", True),
        ("1", True),
        ("ON", True),
        ("false", False),
        ("NO", False),
        ("0", False),
        ("off", False),
    ],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    text = MANAGED.replace("volume_backend_name = silver", f"managed_replication_target = {raw}")
    assert parse_config(text).backend("backend-b").managed_replication_target is expected


def test_check_drivers_false_skips_imports() -> None:
    text = MANAGED.replace(f"volume_driver = {DRIVER}", "volume_driver = no.such.Driver")
    assert parse_config(text, check_drivers=False).backend("backend-a").volume_driver == ("no.such.Driver")


def test_lookup_errors_name_valid_choices() -> None:
    cfg = parse_config(MANAGED, "cinder.conf")
    with pytest.raises(ConfigError, match=r"cinder.conf: no backend named 'nope'.*backend-a"):
        cfg.backend("nope")
    with pytest.raises(ConfigError, match="node1@backend-a, node1@backend-b"):
        cfg.by_host("other@backend-a")
    with pytest.raises(ConfigError, match="no backend serves host 'node1'"):
        cfg.by_host("node1")


# --------------------------------------------------------------------------------------------
# One test per kind of configuration error


def test_error_unterminated_quote_on_a_continuation_line(tmp_path: Path) -> None:
    text = UNMANAGED.replace("'url'='https://array.example:8443/api/v1'}", "'url'='https://x }")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "'url'="),
        section="backend-a",
        option="replication_devices",
        parts=("unterminated quote", "'url'='https://x }", "at column"),
    )


def test_error_line_skips_comments_and_counts_blank_lines(tmp_path: Path) -> None:
    text = (
        UNMANAGED.partition("replication_devices")[0]
        + "replication_devices = {'backend_id'='r1'},\n"
        + "    # the second device is in another site\n"
        + "\n"
        + "    {'backend_id'='r2' 'san_ip'=},\n"
        + "    {'backend_id'='r3'}\n"
        + "volume_backend_name = after\n"
    )
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "'r2'"),
        section="backend-a",
        option="replication_devices",
        parts=("missing value for key 'san_ip'", "{'backend_id'='r2' 'san_ip'=}"),
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{'san_ip' '10.0.0.1'}", "missing '=' after key 'san_ip'"),
        ("{'san_ip'='10.0.0.1'", "missing '}'"),
        ("{'san_ip'='10.0.0.1'} extra", "unexpected text 'extra' after '}'"),
        ("{'san_ip'='10.0.0.1'},", "empty item"),
        ("{}", "empty entry"),
        ("{a=1 a=2}", "duplicate key 'a'"),
    ],
)
def test_error_malformed_entry(tmp_path: Path, value: str, reason: str) -> None:
    text = UNMANAGED.partition("replication_devices")[0] + f"replication_devices = {value}\n"
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=(reason, f'"{value}"', "at column"),
    )


def test_error_target_not_configured(tmp_path: Path) -> None:
    text = MANAGED.replace("replication_devices = backend-b", "replication_devices = backend-z")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=("'backend-z' is not a configured backend", "valid targets: backend-b", "silver"),
    )


def test_error_target_section_not_enabled(tmp_path: Path) -> None:
    text = MANAGED.replace("enabled_backends = backend-a, backend-b", "enabled_backends = backend-a")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=("'backend-b' has a section but is not in [DEFAULT] enabled_backends", '"backend-b"'),
    )


def test_error_target_twice(tmp_path: Path) -> None:
    text = MANAGED.replace("replication_devices = backend-b", "replication_devices = backend-b,\n    silver")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "    silver"),
        section="backend-a",
        option="replication_devices",
        parts=("'silver' names backend 'backend-b' a second time",),
    )


def test_error_ambiguous_volume_backend_name(tmp_path: Path) -> None:
    text = (
        MANAGED.replace(
            "enabled_backends = backend-a, backend-b", "enabled_backends = backend-a, backend-b, backend-c"
        ).replace("replication_devices = backend-b", "replication_devices = silver")
        + f"\n[backend-c]\nvolume_driver = {DRIVER}\nvolume_backend_name = silver\n"
    )
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=("'silver' is the volume_backend_name of several backends (backend-b, backend-c)",),
    )


def test_error_backend_targets_itself(tmp_path: Path) -> None:
    text = MANAGED.replace("replication_devices = backend-b", "replication_devices = gold")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=("backend 'backend-a' targets itself ('gold')", '"gold"'),
    )


@pytest.mark.parametrize(
    ("managed", "value", "reason"),
    [
        ("true", "backend-b, {'backend_id'='x'}", "mixes backend names (managed) and '{...}'"),
        ("false", "{'backend_id'='x'}, backend-b", "mixes backend names (managed) and '{...}'"),
        ("true", "{'backend_id'='x'}", "managed_replication_target is true"),
        ("false", "backend-b", "managed_replication_target is false"),
    ],
)
def test_error_mixing_managed_and_unmanaged(tmp_path: Path, managed: str, value: str, reason: str) -> None:
    text = MANAGED.replace(
        "replication_devices = backend-b",
        f"managed_replication_target = {managed}\nreplication_devices = {value}",
    )
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "replication_devices"),
        section="backend-a",
        option="replication_devices",
        parts=(reason, f'"{value}"', "forbids mixing managed and unmanaged targets"),
    )


def test_error_managed_flag_not_boolean(tmp_path: Path) -> None:
    text = MANAGED.replace("volume_backend_name = silver", "managed_replication_target = maybe")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "managed_replication_target"),
        section="backend-b",
        option="managed_replication_target",
        parts=("'maybe' is not a boolean", "true/false"),
    )


def test_error_enabled_backends_missing(tmp_path: Path) -> None:
    text = MANAGED.replace("enabled_backends = backend-a, backend-b\n", "")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "[DEFAULT]"),
        section="DEFAULT",
        option="enabled_backends",
        parts=("missing", "enabled_backends = backend-a, backend-b"),
    )


def test_error_enabled_backends_missing_without_default_section(tmp_path: Path) -> None:
    text = MANAGED.replace("[DEFAULT]\nenabled_backends = backend-a, backend-b\nhost = node1\n", "")
    expect_config_error(
        tmp_path,
        text,
        line=None,
        section="DEFAULT",
        option="enabled_backends",
        parts=("missing",),
    )


def test_error_enabled_backends_empty(tmp_path: Path) -> None:
    text = MANAGED.replace("enabled_backends = backend-a, backend-b", "enabled_backends =  ")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "enabled_backends"),
        section="DEFAULT",
        option="enabled_backends",
        parts=("empty",),
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("backend-a,, backend-b", "empty item"),
        ("backend-a backend-b", "invalid backend name 'backend-a backend-b'"),
        ("backend-a, backend-a", "'backend-a' is listed twice"),
        ("backend-a, DEFAULT", "[DEFAULT] cannot be a backend"),
    ],
)
def test_error_enabled_backends_malformed(tmp_path: Path, value: str, reason: str) -> None:
    text = MANAGED.replace("enabled_backends = backend-a, backend-b", f"enabled_backends = {value}")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "enabled_backends"),
        section="DEFAULT",
        option="enabled_backends",
        parts=(reason, f'"{value}"'),
    )


def test_error_missing_section(tmp_path: Path) -> None:
    text = MANAGED.replace(
        "enabled_backends = backend-a, backend-b",
        "enabled_backends = backend-a,\n    backend-b,\n    backend-c",
    )
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "backend-c"),
        section="DEFAULT",
        option="enabled_backends",
        parts=("missing section [backend-c]", "sections in the file: backend-a, backend-b"),
    )


def test_error_missing_volume_driver(tmp_path: Path) -> None:
    text = MANAGED.replace(f"[backend-b]\nvolume_driver = {DRIVER}\n", "[backend-b]\n")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "[backend-b]"),
        section="backend-b",
        option="volume_driver",
        parts=("missing or empty", "package.module.Class"),
    )


def test_error_unknown_driver(tmp_path: Path) -> None:
    text = MANAGED.replace(
        f"[backend-b]\nvolume_driver = {DRIVER}", "[backend-b]\nvolume_driver = nosuchpkg_q.Driver"
    )
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "nosuchpkg_q"),
        section="backend-b",
        option="volume_driver",
        parts=("unknown driver 'nosuchpkg_q.Driver'", "cannot import module 'nosuchpkg_q': No module named"),
    )


def test_error_invalid_host(tmp_path: Path) -> None:
    text = MANAGED.replace("host = node1", "host = node1@x")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "host = "),
        section="DEFAULT",
        option="host",
        parts=("invalid host 'node1@x'",),
    )


def test_error_duplicate_section(tmp_path: Path) -> None:
    text = MANAGED + f"\n[backend-a]\nvolume_driver = {DRIVER}\n"
    lines = text.split("\n")
    second = len(lines) - lines[::-1].index("[backend-a]")
    expect_config_error(
        tmp_path,
        text,
        line=second,
        section="backend-a",
        option=None,
        parts=("duplicate section", f"first defined at line {line_with(text, '[backend-a]')}"),
    )


def test_error_duplicate_option(tmp_path: Path) -> None:
    text = MANAGED.replace("san_ip = 10.0.0.1", "san_ip = 10.0.0.1\nSAN_IP = 10.0.0.2")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "SAN_IP"),
        section="backend-a",
        option="san_ip",
        parts=("duplicate option", f"first set at line {line_with(text, 'san_ip')}"),
    )


def test_error_missing_section_header(tmp_path: Path) -> None:
    text = "# comment\nenabled_backends = backend-a\n" + MANAGED
    expect_config_error(
        tmp_path,
        text,
        line=2,
        section=None,
        option=None,
        parts=("missing section header", "'enabled_backends = backend-a'"),
    )


def test_error_unparsable_line(tmp_path: Path) -> None:
    text = MANAGED.replace("san_ip = 10.0.0.1", "this line has no delimiter")
    expect_config_error(
        tmp_path,
        text,
        line=line_with(text, "no delimiter"),
        section="backend-a",
        option=None,
        parts=("cannot parse line", "'this line has no delimiter'"),
    )


def test_error_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.conf"
    with pytest.raises(ConfigError, match=r"absent\.conf: cannot read configuration file"):
        load_config(path)


def test_parse_config_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^my\.conf:\d+: \[DEFAULT\] enabled_backends:"):
        parse_config("[DEFAULT]\nhost = h\n", "my.conf")
    with pytest.raises(ConfigError, match=r"^<string>:"):
        parse_config("[DEFAULT]\n")


# --------------------------------------------------------------------------------------------
# Inline comments: as configparser users expect, never silently part of a value


def test_an_inline_comment_after_whitespace_is_dropped_from_every_kind_of_line(tmp_path: Path) -> None:
    text = (
        "[DEFAULT]   # the backends\n"
        "enabled_backends = alpha, beta   ; both\n"
        "[alpha]                          # the primary\n"
        "volume_driver = support.memdriver.MemoryDriver   # in memory\n"
        "storage_replication_mode = sync          # or async (default)\n"
        "replication_devices = beta               # managed: another backend of this file\n"
        "[beta]\n"
        "volume_driver = support.memdriver.MemoryDriver\n"
        "replication_devices = alpha\n"
    )
    cfg = parse_config(text, "cinder.conf")
    alpha = cfg.backends["alpha"]
    assert list(cfg.backends) == ["alpha", "beta"]
    assert alpha.options["storage_replication_mode"] == "sync"
    assert alpha.replication_targets == ("beta",)
    assert alpha.volume_driver == "support.memdriver.MemoryDriver"


def test_a_hash_or_semicolon_inside_a_word_is_kept(tmp_path: Path) -> None:
    text = (
        "[DEFAULT]\nenabled_backends = alpha\n[alpha]\n"
        "volume_driver = support.memdriver.MemoryDriver\n"
        "san_password = pass#word;1\n"
        "replication_devices = {'backend_id'='r1' 'san_password'='x#y;z'}\n"
        "managed_replication_target = false\n"
    )
    alpha = parse_config(text, "cinder.conf").backends["alpha"]
    assert alpha.options["san_password"] == "pass#word;1"
    assert alpha.replication_devices[0]["san_password"] == "x#y;z"


def test_a_quoted_value_cut_by_an_inline_comment_is_an_error_that_says_so(tmp_path: Path) -> None:
    text = (
        "[DEFAULT]\nenabled_backends = alpha\n[alpha]\n"
        "volume_driver = support.memdriver.MemoryDriver\n"
        "managed_replication_target = false\n"
        "replication_devices = {'backend_id'='r1' 'san_password'='a #b'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cinder.conf")
    message = str(caught.value)
    assert "cinder.conf:6: [alpha] replication_devices" in message
    assert "cut at an inline comment" in message


@given(
    value=st.text(st.sampled_from("ab1=:,'{}#; "), min_size=1, max_size=20).map(str.strip).filter(bool),
    comment=st.text(st.sampled_from("xyz #;=:"), max_size=10),
    prefix=st.sampled_from("#;"),
    gap=st.sampled_from([" ", "\t", "   "]),
)
def test_the_layout_and_configparser_agree_on_where_a_comment_starts(
    value: str, comment: str, prefix: str, gap: str
) -> None:
    """The line numbers errors cite come from our own reading of the text; it must cut each line where
    configparser does, or an error would point at the wrong line."""
    import configparser

    line = f"key = {value}{gap}{prefix}{comment}"
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    parser.read_string(f"[s]\n{line}\n")
    assert strip_inline_comment(line).partition("=")[2].strip() == parser["s"]["key"]
