"""`replisim serve --policy FILE` changes who may do what; a bad policy file or a database whose
driver is not installed exits 2 saying what to do."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.serving import Serve, write_config

import replisim.actors.serve as serve_module


def status_of(url: str, path: str, user: str, body: dict[str, object] | None = None) -> int:
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-Auth-Token": f"{user}:{user}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_policy_file_replaces_the_default_rules_it_names(tmp_path: Path, serve: type[Serve]) -> None:
    policy = tmp_path / "policy.json"
    # by default anyone may list the services only as an admin; this policy opens it to every caller
    policy.write_text(json.dumps({"volume_extension:services:index": ""}))
    config = write_config(tmp_path)
    closed = serve(config)
    opened = serve(config, "--db", f"sqlite:///{tmp_path / 'other.db'}", "--policy", str(policy))
    try:
        assert status_of(closed.wait_url(), "/v3/demo/os-services", "demo") == 403
        assert status_of(opened.wait_url(), "/v3/demo/os-services", "demo") == 200
    finally:
        closed.stop()
        opened.stop()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"volume:create": "rule:"}', "policy rule 'volume:create'"),
        ("[]", "expected a JSON object"),
    ],
)
def test_a_bad_policy_file_is_exit_2_naming_it(
    tmp_path: Path, serve: type[Serve], text: str, says: str
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(text)
    server = serve(write_config(tmp_path), "--policy", str(policy))
    assert server.process.wait(timeout=30) == 2
    message = server.log.read_text()
    assert says in message and "Traceback" not in message


def test_a_database_whose_driver_is_missing_names_the_extra_to_install(
    tmp_path: Path, serve: type[Serve]
) -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg is installed here")
    server = serve(write_config(tmp_path), "--db", "postgresql://ops:Db-Passw0rd@127.0.0.1:1/cinder")
    assert server.process.wait(timeout=30) == 2
    message = server.log.read_text()
    assert "driver module 'psycopg' is not installed; pip install 'replisim[postgres]'" in message
    assert "Db-Passw0rd" not in message and "Traceback" not in message


def test_every_extra_a_hint_names_is_one_pyproject_offers() -> None:
    import tomllib

    from support import ROOT

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(serve_module.DRIVER_EXTRAS.values()) <= set(extras)
    assert any(spec.startswith("psycopg") for spec in extras["postgres"])
