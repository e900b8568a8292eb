"""Keeping credentials out of what replisim says: answers, log lines, reports and driver output.

Which option names hold a credential (``is_secret_option``) and the mask that replaces one
(``MASK``) are decided here, once, for every layer. Drivers are asked to mask secrets themselves;
``Redactor`` is the net under them: every configured secret value is replaced wherever it appears,
and ``mask_secret_keys`` masks values under secret-looking keys whatever they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

MASK = "***"
_SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key")


def is_secret_option(name: str) -> bool:
    """Whether an option (or device key) holds a credential that must never be shown."""
    lowered = name.lower()
    return lowered.endswith("key") or any(word in lowered for word in _SECRET_WORDS)


class Redactor:
    """Scrubs a fixed set of secret values out of text and JSON-like data."""

    def __init__(self, secrets: Iterable[str]):
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """A copy of ``value`` with every secret removed from its strings (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def log_filter(self) -> logging.Filter:
        """A filter for a log handler: every record it passes has its message and traceback scrubbed."""
        return _RedactingFilter(self)


def mask_secret_keys(value: Any) -> Any:
    """A copy of driver output with the value of every secret-looking key masked."""
    if isinstance(value, dict):
        return {
            k: MASK
            if isinstance(k, str) and is_secret_option(k) and v not in (None, "")
            else mask_secret_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secret_keys(v) for v in value]
    return value


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True
