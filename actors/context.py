"""The request context: who is asking, travelling with every message as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    """Cinder's context fields that the control plane reads."""

    user_id: str
    project_id: str
    is_admin: bool = False
    request_id: str = "req-0"
    roles: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        # Every API call carries one: spelled out, as dataclasses.asdict deep-copies field by field.
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "is_admin": self.is_admin,
            "request_id": self.request_id,
            "roles": self.roles,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestContext:
        return cls(
            str(data["user_id"]),
            str(data["project_id"]),
            bool(data.get("is_admin", False)),
            str(data.get("request_id", "req-0")),
            tuple(data.get("roles", ())),
        )

    def credentials(self) -> dict[str, Any]:
        """What the policy engine checks."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "is_admin": self.is_admin,
            "roles": list(self.roles),
        }


def admin_context(request_id: str = "req-admin") -> RequestContext:
    """The context the control plane's own periodic tasks act with."""
    return RequestContext("cinder", "service", True, request_id, ("admin",))
