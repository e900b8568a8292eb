"""The REST controllers of generic volume groups (3.13), group types (3.11) and group replication
(3.38), as Cinder 29's ``cinder/api/v3/groups.py``, ``group_types.py`` and ``group_specs.py`` answer.

``BlockStorageApi`` inherits them and routes ``GROUP_ROUTES``. Like the rest of the REST layer they
only translate: the rules are the API actor's (``groups.py``). Below a route's microversion the
answer is 404, as Cinder's.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from replisim import exception
from replisim.redaction import Redactor, mask_secret_keys

from . import views

if TYPE_CHECKING:
    from .rest import Reply, Request

GROUP_TYPES_SINCE = (3, 11)
GROUPS_SINCE = (3, 13)
GROUP_REPLICATION_SINCE = (3, 38)
GROUP_VOLUME_LIST_SINCE = (3, 25)

GROUP_ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("GET", ("group_types",), "list_group_types"),
    ("POST", ("group_types",), "create_group_type"),
    ("GET", ("group_types", "*"), "show_group_type"),
    ("PUT", ("group_types", "*"), "update_group_type"),
    ("DELETE", ("group_types", "*"), "delete_group_type"),
    ("GET", ("group_types", "*", "group_specs"), "list_group_specs"),
    ("POST", ("group_types", "*", "group_specs"), "set_group_specs"),
    ("GET", ("group_types", "*", "group_specs", "*"), "show_group_spec"),
    ("PUT", ("group_types", "*", "group_specs", "*"), "update_group_spec"),
    ("DELETE", ("group_types", "*", "group_specs", "*"), "delete_group_spec"),
    ("GET", ("groups",), "list_groups"),
    ("GET", ("groups", "detail"), "list_groups_detail"),
    ("POST", ("groups",), "create_group"),
    ("GET", ("groups", "*"), "show_group"),
    ("PUT", ("groups", "*"), "update_group"),
    ("POST", ("groups", "*", "action"), "group_action"),
)
# Each group action: its arguments (None: any object, as Cinder's schema takes), the API actor
# method and the microversion it needs.
_GROUP_ACTIONS: Mapping[str, tuple[frozenset[str] | None, str, tuple[int, int]]] = {
    "delete": (frozenset({"delete-volumes"}), "delete_group", GROUPS_SINCE),
    "enable_replication": (None, "enable_group_replication", GROUP_REPLICATION_SINCE),
    "disable_replication": (None, "disable_group_replication", GROUP_REPLICATION_SINCE),
    "failover_replication": (
        frozenset({"allow_attached_volume", "secondary_backend_id"}),
        "failover_group_replication",
        GROUP_REPLICATION_SINCE,
    ),
    "list_replication_targets": (None, "list_group_replication_targets", GROUP_REPLICATION_SINCE),
}


def _error(code: int, message: str) -> Exception:
    """The REST layer's own refusal (imported late: ``rest`` imports this module)."""
    from .rest import HttpError

    return HttpError(code, message)


def _bad(message: str) -> Exception:
    return _error(400, message)


def _since(request: Request, version: tuple[int, int]) -> None:
    """404 below ``version``, as Cinder answers a method its microversion lacks."""
    if request.version < version:
        raise _error(404, "The resource could not be found.")


def _body(request: Request, key: str) -> dict[str, Any]:
    body = request.body
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict) or set(body) != {key}:
        raise _bad(f"Invalid input for field/attribute {key}: the body must be {{{key!r}: {{...}}}}.")
    return value


def _unexpected(info: Mapping[str, Any], allowed: frozenset[str] | set[str]) -> None:
    unknown = sorted(set(info) - set(allowed))
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise _bad(
            f"Additional properties are not allowed ({listed} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    flag = configparser.ConfigParser.BOOLEAN_STATES.get(str(value).strip().lower())
    if flag is None:
        raise _bad(f"Invalid input for field/attribute {where}. Value: {value}. {value!r} is not a boolean.")
    return flag


def _text(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad(
            f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not of type 'string'."
        )
    return value


class GroupsRest:
    """Group controllers of the REST layer."""

    redactor: Redactor

    if TYPE_CHECKING:  # provided by BlockStorageApi

        def _call(self, request: Request, method: str, **args: Any) -> Any: ...

    @staticmethod
    def _reply(status: int, body: Any = None) -> Reply:
        from .rest import Reply  # late, as in _error

        return Reply(status, body)

    # -- group types and their specs ---------------------------------------------------------------

    def _group_type_view(self, request: Request, row: Mapping[str, Any]) -> dict[str, Any]:
        return views.group_type(row, specs=request.context.is_admin)

    def list_group_types(self, request: Request) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        rows = sorted(
            self._call(request, "list_group_types"), key=lambda t: (t["created_at"], t["id"]), reverse=True
        )  # newest first, as volume types
        if not request.context.is_admin:
            rows = [r for r in rows if r["is_public"]]
        return self._reply(200, {"group_types": [self._group_type_view(request, r) for r in rows]})

    def show_group_type(self, request: Request, type_id: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        if type_id == "default":  # replisim has no default_group_type option
            raise _error(404, "Default group type can not be found.")
        row = self._call(request, "get_group_type", type_id=type_id)
        return self._reply(200, {"group_type": self._group_type_view(request, row)})

    def create_group_type(self, request: Request) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        spec = _body(request, "group_type")
        _unexpected(spec, {"name", "description", "is_public", "group_specs"})
        if not isinstance(spec.get("name"), str):
            raise _bad("Invalid input for field/attribute group_type: 'name' is a required property.")
        specs = spec.get("group_specs") or {}
        if not isinstance(specs, dict):
            raise _bad(f"Invalid input for field/attribute group_specs. Value: {specs}. Not an object.")
        row = self._call(
            request,
            "create_group_type",
            name=spec["name"],
            group_specs=specs,
            description=_text(spec, "description"),
            is_public=_boolean(spec.get("is_public", True), "is_public"),
        )
        return self._reply(202, {"group_type": self._group_type_view(request, row)})

    def update_group_type(self, request: Request, type_id: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        spec = _body(request, "group_type")
        _unexpected(spec, {"name", "description", "is_public"})
        name, description = _text(spec, "name"), _text(spec, "description")
        if name is not None and not name.strip():
            raise _bad("Group type name can not be empty.")
        is_public = None if spec.get("is_public") is None else _boolean(spec["is_public"], "is_public")
        if name is None and description is None and is_public is None:
            raise _bad("Specify group type name, description or a combination thereof.")
        row = self._call(
            request,
            "update_group_type",
            type_id=type_id,
            name=name,
            description=description,
            is_public=is_public,
        )
        return self._reply(200, {"group_type": self._group_type_view(request, row)})

    def delete_group_type(self, request: Request, type_id: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        try:
            self._call(request, "delete_group_type", type_id=type_id)
        except exception.InvalidGroupType:
            raise _bad("Target group type is still in use.") from None
        return self._reply(202)

    def _group_specs(self, request: Request, type_id: str) -> dict[str, str]:
        return dict(self._call(request, "get_group_specs", type_id=type_id))

    def list_group_specs(self, request: Request, type_id: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        return self._reply(200, {"group_specs": self._group_specs(request, type_id)})

    def set_group_specs(self, request: Request, type_id: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        specs = _body(request, "group_specs")
        self._call(request, "set_group_specs", type_id=type_id, group_specs=specs)
        return self._reply(202, {"group_specs": specs})

    def show_group_spec(self, request: Request, type_id: str, key: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        specs = self._group_specs(request, type_id)
        if key not in specs:
            raise _error(404, f"Group Type {type_id} has no extra spec with key {key}.")
        return self._reply(200, {key: specs[key]})

    def update_group_spec(self, request: Request, type_id: str, key: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        body = request.body
        if not isinstance(body, dict) or len(body) != 1:
            raise _bad("Invalid input for field/attribute group_specs: one key and its value.")
        if key not in body:
            raise _bad("Request body and URI mismatch")
        self._call(request, "set_group_specs", type_id=type_id, group_specs=body)
        return self._reply(200, body)

    def delete_group_spec(self, request: Request, type_id: str, key: str) -> Reply:
        _since(request, GROUP_TYPES_SINCE)
        self._call(request, "unset_group_spec", type_id=type_id, key=key)
        return self._reply(202)

    # -- groups -----------------------------------------------------------------------------------------

    def _group_view(self, request: Request, group: Mapping[str, Any]) -> dict[str, Any]:
        volumes = None
        if request.version >= GROUP_VOLUME_LIST_SINCE and _boolean(
            request.query.get("list_volume", "0"), "list_volume"
        ):
            volumes = self._call(request, "group_volume_ids", group_id=group["id"])
        return views.group_detail(
            group, version=request.version, is_admin=request.context.is_admin, volumes=volumes
        )

    def _groups(self, request: Request) -> list[dict[str, Any]]:
        _since(request, GROUPS_SINCE)
        all_tenants = _boolean(request.query.get("all_tenants", "0"), "all_tenants")
        rows = self._call(request, "list_groups", all_tenants=all_tenants)
        return sorted(rows, key=lambda g: (g["created_at"], g["id"]), reverse=True)  # newest first

    def list_groups(self, request: Request) -> Reply:
        return self._reply(200, {"groups": [views.group_summary(g) for g in self._groups(request)]})

    def list_groups_detail(self, request: Request) -> Reply:
        return self._reply(200, {"groups": [self._group_view(request, g) for g in self._groups(request)]})

    def show_group(self, request: Request, group_id: str) -> Reply:
        _since(request, GROUPS_SINCE)
        return self._reply(
            200, {"group": self._group_view(request, self._call(request, "get_group", group_id=group_id))}
        )

    def create_group(self, request: Request) -> Reply:
        _since(request, GROUPS_SINCE)
        spec = _body(request, "group")
        _unexpected(spec, {"name", "description", "group_type", "volume_types", "availability_zone"})
        for required in ("group_type", "volume_types"):
            if required not in spec:
                raise _bad(f"Invalid input for field/attribute group. '{required}' is a required property.")
        types = spec["volume_types"]
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise _bad(
                f"Invalid input for field/attribute volume_types. Value: {types}. Not a list of names or ids."
            )
        if not isinstance(spec["group_type"], str):
            raise _bad(f"Invalid input for field/attribute group_type. Value: {spec['group_type']}.")
        zone = _text(spec, "availability_zone")
        if zone not in (None, views.ZONE):
            raise exception.InvalidInput(reason=f"Availability zone '{zone}' is invalid.")
        group = self._call(
            request,
            "create_group",
            group_type=spec["group_type"],
            volume_types=types,
            name=_text(spec, "name"),
            description=_text(spec, "description"),
            availability_zone=zone,
        )
        return self._reply(202, {"group": views.group_summary(group)})

    def update_group(self, request: Request, group_id: str) -> Reply:
        _since(request, GROUPS_SINCE)
        spec = _body(request, "group")
        _unexpected(spec, {"name", "description", "add_volumes", "remove_volumes"})
        if not spec:
            raise _bad(
                "Invalid input for field/attribute group: give a name, description, add_volumes "
                "or remove_volumes."
            )
        self._call(
            request,
            "update_group",
            group_id=group_id,
            **{key: _text(spec, key) for key in ("name", "description", "add_volumes", "remove_volumes")},
        )
        return self._reply(202)

    def group_action(self, request: Request, group_id: str) -> Reply:
        _since(request, GROUPS_SINCE)
        body = request.body
        if not isinstance(body, dict) or len(body) != 1:
            raise _bad('An action body is a JSON object with exactly one key, such as {"delete": {}}.')
        ((name, info),) = body.items()
        found = _GROUP_ACTIONS.get(name)
        if found is None or request.version < found[2]:
            raise _error(404, "The resource could not be found.")
        allowed, method, _version = found
        info = {} if info is None else info
        if not isinstance(info, dict):
            raise _bad(
                f"Invalid input for field/attribute {name}. Value: {info}. {info!r} is not of type 'object'."
            )
        if allowed is not None:
            _unexpected(info, allowed)
        args: dict[str, Any] = {}
        if name == "delete":
            args["delete_volumes"] = _boolean(info.get("delete-volumes", False), "delete-volumes")
        elif name == "failover_replication":
            args["allow_attached_volume"] = _boolean(
                info.get("allow_attached_volume", False), "allow_attached_volume"
            )
            args["secondary_backend_id"] = _text(info, "secondary_backend_id")
        result = self._call(request, method, group_id=group_id, **args)
        if name == "list_replication_targets":
            return self._reply(200, self.redactor.data(mask_secret_keys(result)))
        return self._reply(202)
