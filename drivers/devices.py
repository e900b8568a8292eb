"""The ``replication_devices`` grammar: the Replication V2 seed's managed and unmanaged forms.

A value is a comma list of backend names (managed targets, ``beta, gamma``) or of ``{...}``
entries (unmanaged devices, ``{'backend_id'='vault' 'san_ip'='10.0.0.9'}``), never both. Both the
configuration reader and drivers that are handed the raw text parse it here; every mistake names
the offending text and its column, so the reader can point at the file's line too.

Hand-written rather than ``eval``-ed or built with a parser library: quoted values may hold ``:``,
``/``, ``=``, commas and spaces, and each error message says what was expected at which column.
"""

from __future__ import annotations

_QUOTES = "'\""
_BARE_STOP = frozenset("{}=,'\"")
_SHOW_LIMIT = 120


class DeviceSyntaxError(ValueError):
    """A malformed ``replication_devices`` value; keeps the position so callers can map it to
    a line of the file."""

    def __init__(self, reason: str, text: str, pos: int, hint: str = ""):
        self.reason = reason
        self.text = text
        self.pos = pos
        message = f"{reason} in {quoted(text, pos)} at column {pos + 1}"
        super().__init__(f"{message}; {hint}" if hint else message)


def _show(text: str, pos: int) -> str:
    """The value on one line (newlines become spaces, so columns still match), clipped
    around ``pos`` when it is long."""
    flat = "".join(" " if ch in "\r\n" else ch for ch in text)
    if len(flat) <= _SHOW_LIMIT:
        return flat
    half = _SHOW_LIMIT // 2
    start = max(0, pos - half)
    end = min(len(flat), start + _SHOW_LIMIT)
    return ("..." if start else "") + flat[start:end] + ("..." if end < len(flat) else "")


def quoted(text: str, pos: int = 0) -> str:
    """A value in double quotes on one line, as error messages show it."""
    return f'"{_show(text, pos)}"'


def _snippet(text: str, pos: int) -> str:
    """The few characters at ``pos``, to quote the exact offending text in a message."""
    rest = text[pos:].split("\n", 1)[0]
    return rest if len(rest) <= 20 else rest[:20] + "..."


class _Scanner:
    """A cursor over one ``replication_devices`` value: the tokenizer and the grammar."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, reason: str, pos: int | None = None, hint: str = "") -> DeviceSyntaxError:
        return DeviceSyntaxError(reason, self.text, self.pos if pos is None else pos, hint)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos]

    def skip_space(self, also: str = "") -> None:
        text = self.text
        while self.pos < len(text) and (text[self.pos].isspace() or text[self.pos] in also):
            self.pos += 1

    def items(self) -> list[tuple[int, str | dict[str, str]]]:
        """The whole value: a comma list of ``{...}`` entries and/or bare backend names,
        each with the position where it starts (forms are checked by the caller)."""
        items: list[tuple[int, str | dict[str, str]]] = []
        self.skip_space()
        if self.at_end():
            return items
        while True:
            start = self.pos
            if self.peek() == ",":
                raise self.error("empty item: nothing before ','")
            item: str | dict[str, str]
            if self.peek() == "{":
                item = self.entry()
                after = "'}'"
            else:
                item = self.name()
                after = f"backend name {item!r}"
            items.append((start, item))
            self.skip_space()
            if self.at_end():
                return items
            if self.peek() != ",":
                raise self.error(
                    f"unexpected text {_snippet(self.text, self.pos)!r} after {after}",
                    hint="separate items with ','",
                )
            comma = self.pos
            self.pos += 1
            self.skip_space()
            if self.at_end():
                raise self.error("empty item after the trailing ','", comma)

    def name(self) -> str:
        """A bare backend name (the managed form)."""
        start = self.pos
        word = self.bare()
        if not word:
            raise self.error(
                f"unexpected {self.peek()!r}",
                start,
                hint="expected a '{...}' entry or a backend name",
            )
        return word

    def entry(self) -> dict[str, str]:
        """One ``{'key'='value' ...}`` entry (the unmanaged form)."""
        open_pos = self.pos
        self.pos += 1
        pairs: dict[str, str] = {}
        while True:
            self.skip_space(also=",")
            if self.at_end():
                raise self.error(
                    "missing '}'", hint=f"the entry opened at column {open_pos + 1} is not closed"
                )
            if self.peek() == "}":
                self.pos += 1
                if not pairs:
                    raise self.error(
                        "empty entry",
                        open_pos,
                        hint="an entry needs at least one 'key'='value' pair",
                    )
                return pairs
            key_pos = self.pos
            key = self.token("key")
            if not key:
                raise self.error("empty key ''", key_pos)
            if key in pairs:
                raise self.error(f"duplicate key {key!r} in one entry", key_pos)
            self.skip_space()
            if self.at_end() or self.peek() != "=":
                raise self.error(f"missing '=' after key {key!r}")
            self.pos += 1
            self.skip_space()
            if self.at_end() or self.peek() in "},":
                raise self.error(f"missing value for key {key!r}")
            pairs[key] = self.token("value")

    def token(self, kind: str) -> str:
        """A quoted or bare key or value."""
        if self.peek() in _QUOTES:
            return self.quoted()
        start = self.pos
        word = self.bare()
        if not word:
            raise self.error(
                f"expected a {kind} but found {self.peek()!r}",
                start,
                hint="quote keys and values that contain spaces, quotes, braces, '=' or ','",
            )
        return word

    def bare(self) -> str:
        text = self.text
        start = self.pos
        while self.pos < len(text) and not (text[self.pos].isspace() or text[self.pos] in _BARE_STOP):
            self.pos += 1
        return text[start : self.pos]

    def quoted(self) -> str:
        text = self.text
        quote = text[self.pos]
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in (quote, "\\"):
                out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == quote:
                self.pos += 1
                return "".join(out)
            else:
                out.append(ch)
                self.pos += 1
        raise self.error("unterminated quote", start)


def scan(text: str) -> list[tuple[int, str | dict[str, str]]]:
    """Every item of a value, bare backend names and ``{...}`` entries alike, each with the position
    where it starts; the caller decides which forms it accepts."""
    return _Scanner(text).items()


def parse_device_entries(text: str) -> list[dict[str, str]]:
    """Parse the unmanaged form, ``{'k'='v' ...}, {...}``, into one dict per device.

    Blank text is no devices. Raises ``ValueError`` naming the problem, the text and the column.
    """
    scanner = _Scanner(text)
    result: list[dict[str, str]] = []
    for pos, item in scanner.items():
        if isinstance(item, str):
            raise scanner.error(f"expected a '{{...}}' entry but found backend name {item!r}", pos)
        result.append(item)
    return result


def parse_device_string(text: str) -> dict[str, str]:
    """Parse exactly one ``{'k'='v' ...}`` entry into a dict."""
    entries = parse_device_entries(text)
    if len(entries) != 1:
        raise DeviceSyntaxError(f"expected exactly one '{{...}}' entry, found {len(entries)}", text, 0)
    return entries[0]
