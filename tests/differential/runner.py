"""Sends a scenario's requests to one server and records the answers (``Exchange``), the same
client code for Cinder and for replisim."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .corpus import ADMIN, MEMBER, Scenario, Step

USERS = {ADMIN: ("admin", ""), MEMBER: ("alice", "member,reader")}
TRANSITIONAL = frozenset(
    {
        "creating",
        "deleting",
        "extending",
        "attaching",
        "detaching",
        "downloading",
        "uploading",
        "retyping",
        "reserved",
        "backing-up",
        "restoring-backup",
        "maintenance",
        "awaiting-transfer",
    }
)
GROUP_TRANSITIONAL = frozenset({"creating", "updating", "deleting"})
GROUP_REPLICATION_TRANSITIONAL = frozenset({"enabling", "disabling", "failing-over"})
POLL_TIMEOUT = 30.0
GROUP_SETTLE = 0.3  # seconds between the two looks at a group that seems settled
HEADERS = ("openstack-api-version", "x-openstack-request-id", "content-type")


@dataclass(frozen=True)
class Exchange:
    """One request as sent and its answer; ``status`` None when it could not be sent (``error``)."""

    key: str
    method: str
    path: str
    status: int | None
    headers: Mapping[str, str]  # the ones clients use, by lower-case name; absent ones left out
    body: Any  # parsed JSON, the text of any other body, or None for an empty one
    error: str | None = None


class UnboundName(Exception):
    """A template names a value no earlier step saved (that step failed on this server)."""


def render(template: Any, values: Mapping[str, str]) -> Any:
    """``template`` with every ``{name}`` replaced, in strings nested anywhere in it."""
    if isinstance(template, str):

        def value(match: re.Match[str]) -> str:
            if match[1] not in values:
                raise UnboundName(f"no value for {{{match[1]}}}: the step that saves it failed here")
            return values[match[1]]

        return re.sub(r"\{(\w+)\}", value, template)
    if isinstance(template, dict):
        return {render(k, values): render(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render(v, values) for v in template]
    return template


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path (``volumes.0.id``) of a JSON body, or None."""
    for part in path.split("."):
        if isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        elif isinstance(body, dict):
            body = body.get(part)
        else:
            return None
    return body


class Runner:
    """Runs scenarios against the server at ``url``."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def run(self, scenario: Scenario) -> list[Exchange]:
        values = {"project": scenario.project}
        exchanges = []
        for step in scenario.steps:
            key = f"{scenario.name}/{step.label}"
            try:
                path, body = render(step.path, values), render(step.body, values)
            except UnboundName as exc:
                exchanges.append(Exchange(key, step.method, step.path, None, {}, None, str(exc)))
                continue
            if path.startswith(("http://", "https://")):  # a link the server gave: follow it here
                link = urlsplit(path)
                path = link.path + (f"?{link.query}" if link.query else "")
            exchange = self._send(key, step, scenario.project, path, body)
            exchanges.append(exchange)
            for name, where in step.save.items():
                found = dig(exchange.body, where)
                if isinstance(found, str):
                    values[name] = found
        return exchanges

    def _send(self, key: str, step: Step, project: str, path: str, body: Any) -> Exchange:
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            exchange = self.send(key, step, project, path, body)
            if not self._again(step.poll, exchange) or time.monotonic() > deadline:
                if step.poll != "group" or time.monotonic() > deadline:
                    return exchange
                # Cinder's manager writes a group's outcome twice (the driver's model update, then
                # its own final status): settled is what a second look, a moment later, agrees with.
                time.sleep(GROUP_SETTLE)
                again = self.send(key, step, project, path, body)
                if again.body == exchange.body:
                    return again
                continue
            time.sleep(0.05)

    @staticmethod
    def _again(poll: str | None, exchange: Exchange) -> bool:
        if poll == "settled":
            return exchange.status == 200 and dig(exchange.body, "volume.status") in TRANSITIONAL
        if poll == "gone":
            return exchange.status == 200
        if poll == "service":  # a host failover in flight
            services = dig(exchange.body, "services") or []
            return exchange.status == 200 and any(
                s.get("replication_status") == "failing-over" for s in services
            )
        if poll == "group":
            return exchange.status == 200 and (
                dig(exchange.body, "group.status") in GROUP_TRANSITIONAL
                or dig(exchange.body, "group.replication_status") in GROUP_REPLICATION_TRANSITIONAL
            )
        return False

    def send(self, key: str, step: Step, project: str, path: str, body: Any) -> Exchange:
        user, roles = USERS[step.who]
        headers = {"Accept": "application/json", "X-Auth-Token": f"{user}:{project}"}
        if roles:
            headers["X-Roles"] = roles
        if step.version is not None:
            headers["OpenStack-API-Version"] = f"volume {step.version}"
        headers.update(step.headers)
        headers = {k: v for k, v in headers.items() if v}  # an empty value: do not send the header
        data = step.raw_body if step.raw_body is not None else (None if body is None else json.dumps(body))
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = self.http.request(
                step.method,
                self.url + path,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return Exchange(key, step.method, path, None, {}, None, f"{type(exc).__name__}: {exc}")
        shown = {name: answer.headers[name] for name in HEADERS if name in answer.headers}
        return Exchange(key, step.method, path, answer.status_code, shown, _body(answer))


def _body(answer: requests.Response) -> Any:
    if not answer.content:
        return None
    if "json" in answer.headers.get("content-type", ""):
        try:
            return answer.json()
        except ValueError:
            pass
    return answer.text
