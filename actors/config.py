"""Reading a ``cinder.conf``-style file into the backends the simulator starts.

The INI layer is ``configparser``; the ``replication_devices`` value has its own small grammar
(``replisim.drivers.devices``); every mistake is reported with the file, line, section, option,
offending text and column.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from replisim.drivers.contract import load_driver
from replisim.drivers.devices import DeviceSyntaxError, quoted, scan
from replisim.exception import ConfigError
from replisim.redaction import MASK, is_secret_option

__all__ = [
    "BackendConfig",
    "CinderConfig",
    "DriverConfiguration",
    "load_config",
    "parse_config",
]

_DEFAULT_HOST = "replisim"
_DEFAULT = "DEFAULT"
_NAME_FORBIDDEN = frozenset("{}=,'\"@#")

_K = TypeVar("_K")
_V = TypeVar("_V")


class _FrozenMap(Mapping[_K, _V]):
    """A read-only, hashable mapping, so frozen configs stay frozen (and copyable)."""

    __slots__ = ("_data",)

    def __init__(self, data: Iterable[tuple[_K, _V]] | Mapping[_K, _V] = ()):
        self._data: dict[_K, _V] = dict(data)

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        # A safety net for logs: credentials are masked even when a mapping is printed.
        shown = {
            key: MASK if isinstance(key, str) and value and is_secret_option(key) else value
            for key, value in self._data.items()
        }
        return f"{type(self).__name__}({shown!r})"


# --------------------------------------------------------------------------------------------
# The parsed configuration


@dataclass(frozen=True, repr=False)
class BackendConfig:
    """One enabled backend: its section, driver and replication targets."""

    name: str
    volume_driver: str
    volume_backend_name: str
    managed_replication_target: bool = True
    replication_targets: tuple[str, ...] = ()
    replication_devices: tuple[Mapping[str, str], ...] = ()
    options: Mapping[str, str] = field(default_factory=_FrozenMap)
    host: str = ""
    source: str = "<string>"

    @property
    def replication_configured(self) -> bool:
        return bool(self.replication_targets or self.replication_devices)

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, so logs and reports can redact them."""
        found: list[str] = []
        pairs = [*self.options.items()]
        for device in self.replication_devices:
            pairs.extend(device.items())
        for key, value in pairs:
            if value and is_secret_option(key) and value not in found:
                found.append(value)
        return tuple(found)

    def driver_configuration(self) -> DriverConfiguration:
        return DriverConfiguration(self)

    def __repr__(self) -> str:
        # Option values (and device entries) may hold credentials: show names and counts only.
        return (
            f"BackendConfig(name={self.name!r}, volume_driver={self.volume_driver!r}, "
            f"volume_backend_name={self.volume_backend_name!r}, "
            f"managed_replication_target={self.managed_replication_target!r}, "
            f"replication_targets={self.replication_targets!r}, "
            f"replication_devices=<{len(self.replication_devices)} entries>, "
            f"options={sorted(self.options)!r}, host={self.host!r}, source={self.source!r})"
        )


class DriverConfiguration:
    """What a driver's ``__init__`` gets as ``configuration``: attribute access and
    ``safe_get`` over the backend's section; unknown names give ``None`` as in Cinder."""

    __slots__ = ("_backend",)

    def __init__(self, backend: BackendConfig):
        object.__setattr__(self, "_backend", backend)

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def host(self) -> str:
        return self._backend.host

    def safe_get(self, name: str) -> Any:
        return self._lookup(name)

    def _lookup(self, name: str) -> Any:
        backend = self._backend
        if name == "backend_name":
            return backend.name
        if name == "host":
            return backend.host
        if name == "volume_driver":
            return backend.volume_driver
        if name == "volume_backend_name":
            return backend.volume_backend_name
        if name == "managed_replication_target":
            return backend.managed_replication_target
        if name == "replication_devices":
            if backend.replication_targets:
                return list(backend.replication_targets)
            if backend.replication_devices:
                return [dict(device) for device in backend.replication_devices]
            return None
        return backend.options.get(name)

    def __getattr__(self, name: str) -> Any:
        # Private and dunder names keep normal semantics so copy/pickle/introspection work.
        if name.startswith("_"):
            raise AttributeError(name)
        return self._lookup(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        return (DriverConfiguration, (self._backend,))

    def __repr__(self) -> str:
        return (
            f"DriverConfiguration(backend_name={self.backend_name!r}, host={self.host!r}, "
            f"options={sorted(self._backend.options)!r})"
        )


@dataclass(frozen=True, repr=False)
class CinderConfig:
    """The whole file: the host, the enabled backends in order, and ``[DEFAULT]``."""

    source: str
    host: str
    enabled_backends: tuple[str, ...]
    backends: Mapping[str, BackendConfig]
    defaults: Mapping[str, str] = field(default_factory=_FrozenMap)

    def backend(self, name: str) -> BackendConfig:
        try:
            return self.backends[name]
        except KeyError:
            raise ConfigError(
                f"{self.source}: no backend named {name!r}; "
                f"enabled backends: {', '.join(self.enabled_backends)}"
            ) from None

    def by_host(self, host: str) -> BackendConfig:
        """The backend serving ``host@backend`` (a ``#pool`` suffix is ignored)."""
        service = host.split("#", 1)[0]
        hostname, sep, name = service.partition("@")
        if not sep or hostname != self.host or name not in self.backends:
            valid = ", ".join(b.host for b in self.backends.values())
            raise ConfigError(
                f"{self.source}: no backend serves host {host!r}; valid hosts: {valid} "
                "(optionally followed by '#pool')"
            )
        return self.backends[name]

    def secrets(self) -> tuple[str, ...]:
        """Every credential value in the file (backends and ``[DEFAULT]``), for redaction."""
        found: list[str] = []
        for key, value in self.defaults.items():
            if value and is_secret_option(key) and value not in found:
                found.append(value)
        for backend in self.backends.values():
            for value in backend.secrets():
                if value not in found:
                    found.append(value)
        return tuple(found)

    def __repr__(self) -> str:
        return (
            f"CinderConfig(source={self.source!r}, host={self.host!r}, "
            f"enabled_backends={self.enabled_backends!r})"
        )


# --------------------------------------------------------------------------------------------
# Reading the file

_SECTION_RE = re.compile(r"\[(?P<header>.+)\]")
# As configparser users expect: ``#`` or ``;`` after whitespace starts a comment, on any line, so a
# value never silently keeps one (``sync   # or async`` is ``sync``); ``pass#word`` keeps its ``#``.
INLINE_COMMENT_PREFIXES = ("#", ";")


def strip_inline_comment(line: str) -> str:
    """``line`` without an inline comment, cut exactly where configparser cuts it: it looks at the
    n-th occurrence of every prefix in round n, and stops at the first round in which one follows
    whitespace (so ``a#b #c`` is ``a#b``)."""
    cut = len(line)
    found = dict.fromkeys(INLINE_COMMENT_PREFIXES, -1)
    while cut == len(line) and found:
        following: dict[str, int] = {}
        for prefix, last in found.items():
            index = line.find(prefix, last + 1)
            if index == -1:
                continue
            following[prefix] = index
            if index == 0 or line[index - 1].isspace():
                cut = min(cut, index)
        found = following
    return line[:cut]


_OPTION_RE = re.compile(r"(?P<option>.*?)\s*[=:]")


class _Layout:
    """Where sections and options sit in the raw text (``configparser`` forgets line numbers).

    Mirrors ``configparser``'s reading rules: comment lines are skipped, deeper-indented lines
    continue the previous option, and blank lines become empty lines of the value.
    """

    def __init__(self, text: str):
        self.section_lines: dict[str, int] = {}
        self.headers: list[tuple[int, str]] = []
        # (section, option) -> the line of each line of the option's value, in order
        self.value_lines: dict[tuple[str, str], list[int]] = {}
        section: str | None = None
        current: list[int] | None = None
        indent_level = 0
        for lineno, raw in enumerate(text.split("\n"), start=1):
            if raw.strip().startswith(INLINE_COMMENT_PREFIXES):
                continue
            line = strip_inline_comment(raw)
            stripped = line.strip()
            if not stripped:
                if current is not None:
                    current.append(lineno)
                continue
            indent = len(line) - len(line.lstrip())
            if current is not None and indent > indent_level:
                current.append(lineno)
                continue
            indent_level = indent
            header = _SECTION_RE.match(stripped)
            if header:
                section = header.group("header")
                self.section_lines.setdefault(section, lineno)
                self.headers.append((lineno, section))
                current = None
                continue
            option = _OPTION_RE.match(stripped)
            if section is None or not option or not option.group("option"):
                continue
            key = (section, option.group("option").rstrip().lower())
            if key in self.value_lines:  # a duplicate: configparser rejects it anyway
                current = None
            else:
                current = self.value_lines[key] = [lineno]

    def section_at(self, lineno: int) -> str | None:
        found = None
        for header_line, name in self.headers:
            if header_line > lineno:
                break
            found = name
        return found

    def line_of(self, section: str, option: str | None, value: str = "", pos: int = 0) -> int:
        """The line of ``option`` in ``section`` (of the value's line holding ``pos``), or of
        the section header when the option is absent; 0 when unknown."""
        lines = self.value_lines.get((section, option)) if option else None
        if lines:
            index = value.count("\n", 0, pos)
            return lines[min(index, len(lines) - 1)]
        return self.section_lines.get(section, 0)


class _Reader:
    """Turns a file's text into a ``CinderConfig``; every failure is a ``ConfigError``."""

    def __init__(self, text: str, source: str, check_drivers: bool):
        self.text = text
        self.source = source
        self.check_drivers = check_drivers
        self.layout = _Layout(text)
        self.sections: dict[str, dict[str, str]] = {}
        self._classes: dict[str, str | None] = {}

    # -- errors

    def error(
        self,
        reason: str,
        section: str | None = None,
        option: str | None = None,
        *,
        value: str = "",
        pos: int = 0,
        line: int | None = None,
    ) -> ConfigError:
        if line is None and section is not None:
            line = self.layout.line_of(section, option, value, pos)
        where = f"{self.source}:{line}" if line else self.source
        if section is not None:
            where += f": [{section}]"
            if option:
                where += f" {option}"
        return ConfigError(f"{where}: {reason}")

    # -- INI layer

    def read_ini(self) -> None:
        # A default_section no header can name turns [DEFAULT] into an ordinary section, so
        # each section's options are only the ones it sets itself.
        parser = configparser.ConfigParser(
            interpolation=None, default_section="", inline_comment_prefixes=INLINE_COMMENT_PREFIXES
        )
        try:
            parser.read_string(self.text, source=self.source)
        except configparser.DuplicateSectionError as exc:
            first = self.layout.section_lines.get(exc.section)
            raise self.error(
                f"duplicate section (first defined at line {first})",
                exc.section,
                line=exc.lineno,
            ) from None
        except configparser.DuplicateOptionError as exc:
            lines = self.layout.value_lines.get((exc.section, exc.option))
            earlier = f" (first set at line {lines[0]})" if lines else ""
            raise self.error(
                f"duplicate option{earlier}",
                exc.section,
                exc.option,
                line=exc.lineno,
            ) from None
        except configparser.MissingSectionHeaderError as exc:
            raise ConfigError(
                f"{self.source}:{exc.lineno}: missing section header before "
                f"{self.raw_line(exc.lineno)!r}; start the file with a section such as [DEFAULT]"
            ) from None
        except configparser.ParsingError as exc:
            lineno = exc.errors[0][0]
            section = self.layout.section_at(lineno)
            where = f"{self.source}:{lineno}" + (f": [{section}]" if section else "")
            raise ConfigError(
                f"{where}: cannot parse line {self.raw_line(lineno)!r}; expected 'option = value', "
                "a [section] header, a comment or an indented continuation line"
            ) from None
        except configparser.Error as exc:
            raise ConfigError(f"{self.source}: {exc}") from None
        for name in parser.sections():
            self.sections[name] = dict(parser.items(name, raw=True))

    def raw_line(self, lineno: int) -> str:
        lines = self.text.split("\n")
        return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""

    # -- values

    def names(self, section: str, option: str, value: str) -> list[tuple[int, str]]:
        """A comma list of section names, each with its position in ``value``."""
        names: list[tuple[int, str]] = []
        offset = 0
        for raw in value.split(","):
            pos = offset + len(raw) - len(raw.lstrip())
            offset += len(raw) + 1
            name = raw.strip()
            if not name:
                raise self.error(
                    f"empty item in {quoted(value, pos)} at column {pos + 1} (stray or trailing ',')",
                    section,
                    option,
                    value=value,
                    pos=pos,
                )
            bad = [ch for ch in name if ch.isspace() or ch in _NAME_FORBIDDEN]
            if bad:
                raise self.error(
                    f"invalid backend name {name!r} in {quoted(value, pos)} at column {pos + 1}: "
                    f"it contains {bad[0]!r} (separate names with ',')",
                    section,
                    option,
                    value=value,
                    pos=pos,
                )
            if any(name == seen for _, seen in names):
                raise self.error(
                    f"{name!r} is listed twice in {quoted(value, pos)} at column {pos + 1}",
                    section,
                    option,
                    value=value,
                    pos=pos,
                )
            names.append((pos, name))
        return names

    def boolean(self, section: str, option: str, default: bool) -> bool:
        raw = self.sections[section].get(option)
        if raw is None:
            return default
        value = configparser.ConfigParser.BOOLEAN_STATES.get(raw.strip().lower())
        if value is not None:
            return value
        raise self.error(f"{raw!r} is not a boolean; use true/false, yes/no, on/off or 1/0", section, option)

    def driver_problem(self, path: str) -> str | None:
        if path not in self._classes:
            try:
                load_driver(path)
                self._classes[path] = None
            except ValueError as exc:
                self._classes[path] = str(exc)
        return self._classes[path]

    # -- the file

    def host(self, defaults: Mapping[str, str]) -> str:
        host = defaults.get("host", _DEFAULT_HOST).strip()
        bad = [ch for ch in host if ch.isspace() or ch in "@#"]
        if not host or bad:
            raise self.error(
                f"invalid host {host!r}: it must be non-empty without whitespace, '@' or '#'",
                _DEFAULT,
                "host",
            )
        return host

    def enabled_backends(self, defaults: Mapping[str, str]) -> list[tuple[int, str]]:
        option = "enabled_backends"
        value = defaults.get(option, "")
        if not value.strip():
            state = "empty" if option in defaults else "missing"
            raise self.error(
                f"{state}; list the backend sections to start, e.g. "
                "'enabled_backends = backend-a, backend-b'",
                _DEFAULT,
                option,
                line=None if _DEFAULT in self.sections else 0,
            )
        names = self.names(_DEFAULT, option, value)
        others = [name for name in self.sections if name != _DEFAULT]
        for pos, name in names:
            if name == _DEFAULT:
                raise self.error(
                    f"[DEFAULT] cannot be a backend (in {quoted(value, pos)} at column {pos + 1})",
                    _DEFAULT,
                    option,
                    value=value,
                    pos=pos,
                )
            if name not in self.sections:
                raise self.error(
                    f"missing section [{name}] for enabled backend {name!r} "
                    f"(in {quoted(value, pos)} at column {pos + 1}); "
                    f"sections in the file: {', '.join(others) or 'none'}",
                    _DEFAULT,
                    option,
                    value=value,
                    pos=pos,
                )
        return names

    def backend(self, name: str, host: str) -> tuple[BackendConfig, str, list[tuple[int, str]]]:
        """A backend before its managed targets are resolved (that needs every backend)."""
        options = self.sections[name]
        driver = options.get("volume_driver", "").strip()
        if not driver:
            raise self.error(
                "missing or empty; every enabled backend needs 'volume_driver = package.module.Class'",
                name,
                "volume_driver",
            )
        if self.check_drivers:
            problem = self.driver_problem(driver)
            if problem:
                raise self.error(f"unknown driver {driver!r}: {problem}", name, "volume_driver")
        managed = self.boolean(name, "managed_replication_target", True)
        option = "replication_devices"
        value = options.get(option, "")
        try:
            items = scan(value)
        except DeviceSyntaxError as exc:
            line = self.layout.line_of(name, option, value, exc.pos)
            cut = self.raw_line(line) != strip_inline_comment(self.raw_line(line)).strip()
            hint = (
                "; the line was cut at an inline comment (' #' or ' ;'), so a value cannot hold one"
                if cut
                else ""
            )
            raise self.error(f"{exc}{hint}", name, option, value=value, pos=exc.pos) from None
        entries = [(pos, item) for pos, item in items if isinstance(item, dict)]
        bare = [(pos, item) for pos, item in items if isinstance(item, str)]
        forbid = "the Replication V2 seed forbids mixing managed and unmanaged targets"
        if entries and bare:
            # point at the first item whose form differs from the value's first item
            pos = bare[0][0] if isinstance(items[0][1], dict) else entries[0][0]
            raise self.error(
                f"{quoted(value, pos)} mixes backend names (managed) and '{{...}}' entries "
                f"(unmanaged) at column {pos + 1}; {forbid}",
                name,
                option,
                value=value,
                pos=pos,
            )
        if managed and entries:
            raise self.error(
                f"{quoted(value, entries[0][0])} holds a '{{...}}' device entry at column "
                f"{entries[0][0] + 1} but managed_replication_target is true; set "
                f"managed_replication_target = false for unmanaged devices ({forbid})",
                name,
                option,
                value=value,
                pos=entries[0][0],
            )
        if not managed and bare:
            raise self.error(
                f"{quoted(value, bare[0][0])} names backend {bare[0][1]!r} at column "
                f"{bare[0][0] + 1} but managed_replication_target is false; list '{{...}}' "
                f"device entries instead ({forbid})",
                name,
                option,
                value=value,
                pos=bare[0][0],
            )
        names = self.names(name, option, value) if bare else []
        config = BackendConfig(
            name=name,
            volume_driver=driver,
            volume_backend_name=options.get("volume_backend_name", "").strip() or name,
            managed_replication_target=managed,
            replication_devices=tuple(_FrozenMap(item) for _, item in entries),
            options=_FrozenMap(options),
            host=f"{host}@{name}",
            source=self.source,
        )
        return config, value, names

    def resolve(
        self,
        backend: BackendConfig,
        value: str,
        names: list[tuple[int, str]],
        backends: Mapping[str, BackendConfig],
    ) -> tuple[str, ...]:
        """Map each managed target (a section or a ``volume_backend_name``) to its section."""
        option = "replication_devices"
        owners: dict[str, list[str]] = {}
        for other in backends.values():
            owners.setdefault(other.volume_backend_name, []).append(other.name)
        targets: list[str] = []
        for pos, target in names:

            def fail(reason: str, pos: int = pos) -> ConfigError:
                where = f" (in {quoted(value, pos)} at column {pos + 1})"
                return self.error(reason + where, backend.name, option, value=value, pos=pos)

            if target in backends:
                resolved = target
            elif len(owners.get(target, [])) == 1:
                resolved = owners[target][0]
            elif target in owners:
                raise fail(
                    f"{target!r} is the volume_backend_name of several backends "
                    f"({', '.join(owners[target])}); name one section instead"
                )
            else:
                valid = [other for other in backends if other != backend.name]
                aliases = sorted(
                    {
                        b.volume_backend_name
                        for b in backends.values()
                        if b.name not in (backend.name, b.volume_backend_name)
                    }
                )
                hint = f" (or their volume_backend_name: {', '.join(aliases)})" if aliases else ""
                state = (
                    "has a section but is not in [DEFAULT] enabled_backends"
                    if target in self.sections
                    else "is not a configured backend"
                )
                raise fail(
                    f"replication target {target!r} {state}; valid targets: "
                    f"{', '.join(valid) or 'none (enable another backend)'}{hint}"
                )
            if resolved == backend.name:
                raise fail(
                    f"backend {backend.name!r} targets itself ({target!r}); "
                    "a backend cannot replicate to itself"
                )
            if resolved in targets:
                raise fail(f"{target!r} names backend {resolved!r} a second time")
            targets.append(resolved)
        return tuple(targets)

    def read(self) -> CinderConfig:
        self.read_ini()
        defaults = self.sections.get(_DEFAULT, {})
        host = self.host(defaults)
        enabled = [name for _, name in self.enabled_backends(defaults)]
        pending = [self.backend(name, host) for name in enabled]
        found = {config.name: config for config, _, _ in pending}
        backends: dict[str, BackendConfig] = {}
        for config, value, names in pending:
            targets = self.resolve(config, value, names, found)
            backends[config.name] = replace(config, replication_targets=targets)
        return CinderConfig(
            source=self.source,
            host=host,
            enabled_backends=tuple(enabled),
            backends=_FrozenMap(backends),
            defaults=_FrozenMap(defaults),
        )


def parse_config(text: str, source: str = "<string>", *, check_drivers: bool = True) -> CinderConfig:
    """Parse ``cinder.conf`` text; ``source`` names it in every error message."""
    return _Reader(text, source, check_drivers).read()


def load_config(path: str | os.PathLike[str], *, check_drivers: bool = True) -> CinderConfig:
    """Read and parse a ``cinder.conf`` file."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read configuration file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text: {exc}") from None
    return parse_config(text, source, check_drivers=check_drivers)
