"""builder under failure: every command completes or rolls back what it created, `status`
works in any state, resources that are not ours are never touched, and the .env cannot steer
builder's own docker client."""

from __future__ import annotations

import socket

import pytest

from conftest import runs_once
from docker_support import Deployment, docker, ensure_base_image, require_docker

pytestmark = runs_once

def leftovers(name: str) -> dict[str, list[str]]:
    label = f"label=org.mcp-sandbox.deployment={name}"
    return {kind: docker(*command, "--filter", label, "--format", "{{.Names}}" if kind == "containers" else "{{.Name}}").stdout.split()
            for kind, command in (("containers", ("ps", "-a")), ("networks", ("network", "ls")), ("volumes", ("volume", "ls")))}


@pytest.fixture(scope="module")
def built():
    require_docker()
    ensure_base_image()
    made = Deployment("e2efail", 18191)
    try:
        made.build()
        yield made
    finally:
        made.down()


def set_env(deployment: Deployment, **values: str | None):
    """Sets (or, with None, removes) .env lines."""
    text = deployment.env_file.read_text()
    for key, value in values.items():
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key}=")) + "\n"
        if value is not None:
            text += f"{key}={value}\n"
    deployment.env_file.write_text(text)


def test_a_taken_port_rolls_back_everything_and_status_still_works(built):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", built.port))
        holder.listen()
        result = built.builder(["start", "--timeout", "30"], check=False, timeout=120)
        assert result.returncode != 0
        assert leftovers("e2efail") == {"containers": [], "networks": [], "volumes": []}, result.stdout + result.stderr
        assert "Rolled back" in result.stdout
        status = built.builder(["status"], check=False)
        assert status.returncode == 0 and "not running" in status.stdout
    built.builder(["start"])  # the port is free again: it starts
    assert "state:    running (healthy)" in built.builder(["status"]).stdout
    built.builder(["stop"])


def test_limits_beyond_the_host_are_refused_before_anything_is_created(built):
    before = leftovers("e2efail")
    set_env(built, MCP_CPUS="100")
    try:
        result = built.builder(["start"], check=False)
        assert result.returncode != 0
        assert "MCP_CPUS=100 in .env is more than the" in result.stderr + result.stdout
        assert leftovers("e2efail") == before and before["containers"] == []
    finally:
        set_env(built, MCP_CPUS="1.0")
    set_env(built, MCP_MEMORY="100000g")
    try:
        result = built.builder(["start"], check=False)
        assert result.returncode != 0 and "MCP_MEMORY=100000g in .env is more than the" in result.stderr + result.stdout
    finally:
        set_env(built, MCP_MEMORY="512m")


def test_a_container_of_that_name_that_is_not_ours_is_left_alone(built):
    docker("run", "--detach", "--name", "mcp-e2efail", "--network", "none", "--entrypoint", "/bin/sleep",
           "mcp-sandbox-test/bookworm-python-nginx:1", "300")
    try:
        for command in (["start"], ["down"]):
            result = built.builder(command, check=False)
            assert result.returncode != 0 and "was not made by mcp-sandbox" in result.stderr + result.stdout
            assert docker("inspect", "--format", "{{.State.Status}}", "mcp-e2efail").stdout.strip() == "running"
    finally:
        docker("rm", "--force", "mcp-e2efail")


def test_server_env_cannot_redirect_builders_own_docker(built):
    """SERVER_ENV_* values never enter the environment of builder's docker client (they travel in
    the secrets file), so SERVER_ENV_DOCKER_HOST or SERVER_ENV_LD_PRELOAD cannot steer it."""
    set_env(built, SERVER_ENV_DOCKER_HOST="tcp://127.0.0.1:9", SERVER_ENV_LD_PRELOAD="/nonexistent-preload.so")
    try:
        result = built.builder(["start"], check=False, timeout=150)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "nonexistent-preload" not in result.stderr and "127.0.0.1:9" not in result.stderr
        assert "state:    running (healthy)" in built.builder(["status"]).stdout
    finally:
        set_env(built, SERVER_ENV_DOCKER_HOST=None, SERVER_ENV_LD_PRELOAD=None)
        built.builder(["stop"], check=False)


def test_down_reports_only_what_it_removed(tmp_path):
    require_docker()
    made = Deployment("e2enothing", 18192)
    try:
        assert "Nothing to remove for e2enothing." in made.builder(["down", "--image"]).stdout
    finally:
        made.down()
