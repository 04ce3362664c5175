"""Registries that need more than plain HTTP: basic auth, TLS with a private CA,
and a mirror standing in for docker.io. All on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pouch.client.errors import APIError
from pouch.registry.auth import Credentials, encode_header
from tests.support.daemon import BIN, Pouchd
from tests.support.registry import Registry, htpasswd, make_tls

from .conftest import errors, need_registry, pull, push, run_output, statuses

USER, PASSWORD = "pouch", "s3cret-pw"
IDENTITY_TOKEN = "refresh-7f3a9c"


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    need_registry()
    root = tmp_path_factory.mktemp("basic-registry")
    reg = Registry(root, htpasswd_file=htpasswd(root / "htpasswd", USER, PASSWORD))
    yield reg.start()
    reg.stop()


def _auth(host: str, user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    return {"X-Registry-Auth": encode_header(Credentials(user, password), host)}


def test_basic_auth_push_pull_and_run(daemon: Pouchd, basic_registry: Registry) -> None:
    host = basic_registry.host
    name = f"{host}/private/busybox:v1"
    daemon.api("POST", "/images/busybox/tag", repo=f"{host}/private/busybox", tag="v1")

    with pytest.raises(APIError) as info:
        push(daemon, name)
    assert info.value.status == 401
    assert f"push access denied for {host}/private/busybox" in info.value.message

    msgs = push(daemon, name, **_auth(host))
    assert not errors(msgs), msgs
    daemon.api("DELETE", f"/images/{name}")

    for headers in ({}, _auth(host, password="wrong")):
        with pytest.raises(APIError) as info:
            pull(daemon, name, **headers)
        assert info.value.status == 401, headers
        assert "pull access denied" in info.value.message

    msgs = pull(daemon, name, **_auth(host))
    assert statuses(msgs)[-1] == f"Status: Downloaded newer image for {name}"
    assert run_output(daemon, name, ["echo", "authed"]) == (0, b"authed\n")
    daemon.api("DELETE", f"/images/{name}")


def _pouch(
    daemon: Pouchd, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:  # noqa: E501
    return subprocess.run(
        [str(BIN / "pouch"), "-H", daemon.host, *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip


def test_login_stores_credentials_as_docker_does_and_pull_uses_them(
    daemon: Pouchd, basic_registry: Registry, tmp_path: Path
) -> None:
    host = basic_registry.host
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    bad = _pouch(daemon, env, "login", "-u", USER, "-p", "nope", host)
    assert bad.returncode == 1
    assert "access denied" in bad.stderr
    assert not (tmp_path / "docker" / "config.json").exists()

    done = _pouch(daemon, env, "login", "-u", USER, "-p", PASSWORD, host)
    assert done.returncode == 0, done.stderr
    assert "Login Succeeded" in done.stdout
    config = json.loads((tmp_path / "docker" / "config.json").read_text())
    stored = base64.b64decode(config["auths"][host]["auth"]).decode()
    assert stored == f"{USER}:{PASSWORD}"

    name = f"{host}/private/cli:v1"
    daemon.api("POST", "/images/busybox/tag", repo=f"{host}/private/cli", tag="v1")
    pushed = _pouch(daemon, env, "push", name)
    assert pushed.returncode == 0, pushed.stderr
    assert "v1: digest: sha256:" in pushed.stdout
    daemon.api("DELETE", f"/images/{name}")
    pulled = _pouch(daemon, env, "pull", name)
    assert pulled.returncode == 0, pulled.stderr
    assert f"Status: Downloaded newer image for {name}" in pulled.stdout
    assert _pouch(daemon, env, "logout", host).returncode == 0
    assert (
        host
        not in json.loads((tmp_path / "docker" / "config.json").read_text())["auths"]
    )
    failed = _pouch(daemon, env, "pull", name.replace(":v1", ":v2"))
    assert failed.returncode == 1 and "access denied" in failed.stderr
    daemon.api("DELETE", f"/images/{name}")


def test_tls_registry_with_its_ca_in_the_certs_dir(
    fresh_daemon: Any, tmp_path: Path
) -> None:
    need_registry()
    tls = make_tls(tmp_path / "tls", "localhost")
    reg = Registry(tmp_path / "reg", tls=tls, host="localhost").start()
    certs = tmp_path / "certs.d"
    certs.mkdir()
    try:
        d = fresh_daemon(extra_args=["--registry-certs-dir", str(certs)]).start()
        d.load_busybox()
        name = f"{reg.host}/secure/busybox:v1"
        d.api(
            "POST", "/images/busybox/tag", repo=f"{reg.host}/secure/busybox", tag="v1"
        )
        with pytest.raises(APIError) as info:
            push(d, name)
        assert "certificate verify failed" in info.value.message

        (certs / reg.host).mkdir()
        shutil.copy(tls.cert, certs / reg.host / "ca.crt")
        assert not errors(push(d, name))
        d.api("DELETE", f"/images/{name}")
        d.api("DELETE", "/images/busybox")
        msgs = pull(d, name)
        assert statuses(msgs)[-1] == f"Status: Downloaded newer image for {name}"
        assert run_output(d, name, ["echo", "tls"]) == (0, b"tls\n")

        # Listed as insecure, the same registry is reached without its CA.
        insecure = fresh_daemon(extra_args=["--insecure-registry", reg.host]).start()
        msgs = pull(insecure, name)
        assert statuses(msgs)[-1] == f"Status: Downloaded newer image for {name}"
    finally:
        reg.stop()


def test_mirror_serves_a_docker_io_name(
    daemon: Pouchd, registry: Registry, fresh_daemon: Any
) -> None:
    # The mirror holds library/busybox as Docker Hub would.
    daemon.api(
        "POST",
        "/images/busybox/tag",
        repo=f"{registry.host}/library/busybox",
        tag="latest",
    )  # noqa: E501
    assert not errors(push(daemon, f"{registry.host}/library/busybox:latest"))
    daemon.api("DELETE", f"/images/{registry.host}/library/busybox:latest")

    d = fresh_daemon(extra_args=["--registry-mirror", registry.url]).start()
    msgs = pull(d, "busybox")
    assert statuses(msgs)[0] == "Pulling from library/busybox"
    assert statuses(msgs)[-1] == "Status: Downloaded newer image for busybox:latest"
    assert [i["RepoTags"] for i in d.api("GET", "/images/json")] == [["busybox:latest"]]
    assert run_output(d, "busybox", ["echo", "mirrored"]) == (0, b"mirrored\n")
    assert "GET /v2/library/busybox/manifests/latest" in registry.log()
    assert "docker.io" not in d.log().replace("docker.io/library/busybox", "")


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Registry, Any]]:
    from tests.support.tokens import TokenServer

    need_registry()
    root = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(make_tls(root / "signing"), {USER: PASSWORD},
                         {IDENTITY_TOKEN: USER}).start()  # fmt: skip
    reg = Registry(root / "reg", token=tokens.registry_auth()).start()
    yield reg, tokens
    reg.stop()
    tokens.stop()


def test_bearer_token_auth_push_and_anonymous_pull(
    daemon: Pouchd, token_registry: tuple[Registry, Any]
) -> None:
    reg, tokens = token_registry
    host = reg.host
    name = f"{host}/public/busybox:v1"
    daemon.api("POST", "/images/busybox/tag", repo=f"{host}/public/busybox", tag="v1")
    refused = errors(push(daemon, name))  # anonymous callers may only pull
    assert len(refused) == 1 and "push access denied" in refused[0]
    assert not errors(push(daemon, name, **_auth(host)))
    assert {
        "user": USER,
        "scope": "repository:public/busybox:pull,push",
    } in tokens.requests
    daemon.api("DELETE", f"/images/{name}")

    msgs = pull(daemon, name)  # anonymous: a token without credentials
    assert statuses(msgs)[-1] == f"Status: Downloaded newer image for {name}"
    assert {"user": None, "scope": "repository:public/busybox:pull"} in tokens.requests
    assert run_output(daemon, name, ["echo", "token"]) == (0, b"token\n")
    daemon.api("DELETE", f"/images/{name}")

    with pytest.raises(APIError) as info:
        pull(daemon, name, **_auth(host, password="wrong"))
    assert info.value.status == 401
    assert "token service" in info.value.message


def test_identity_token_is_traded_for_access(
    daemon: Pouchd, token_registry: tuple[Registry, Any], tmp_path: Path
) -> None:
    """An identity token (what an OAuth login stores in docker's config.json) is
    POSTed to the token service as a refresh token; a wrong one is refused."""
    reg, tokens = token_registry
    host = reg.host
    name = f"{host}/team/busybox:v1"
    daemon.api("POST", "/images/busybox/tag", repo=f"{host}/team/busybox", tag="v1")
    by_token = {"X-Registry-Auth": encode_header(
        Credentials(identity_token=IDENTITY_TOKEN), host)}  # fmt: skip
    assert not errors(push(daemon, name, **by_token))
    traded = {"user": USER, "scope": "repository:team/busybox:pull,push",
              "grant": "refresh_token", "client_id": "pouch"}  # fmt: skip
    assert traded in tokens.requests
    daemon.api("DELETE", f"/images/{name}")
    wrong = {"X-Registry-Auth": encode_header(
        Credentials(identity_token="not-a-token"), host)}  # fmt: skip
    with pytest.raises(APIError) as info:
        pull(daemon, name, **wrong)
    assert info.value.status == 401 and "token service" in info.value.message

    # The CLI reads the token from docker's config.json, as docker writes it.
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {host: {
        "auth": base64.b64encode(b"<token>:").decode(),
        "identitytoken": IDENTITY_TOKEN}}}))  # fmt: skip
    env = {**os.environ, "POUCH_HOST": daemon.host, "DOCKER_CONFIG": str(config)}
    done = subprocess.run([str(BIN / "pouch"), "pull", name], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert run_output(daemon, name, ["echo", "by token"]) == (0, b"by token\n")
    daemon.api("DELETE", f"/images/{name}")
