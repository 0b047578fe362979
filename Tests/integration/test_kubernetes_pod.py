"""The pod `builder print kubernetes` renders, run for real: no cluster runs here, so the
rendered Deployment's pod is run in Docker field by field (kube_support.PodEmulation) from an
image `builder build` made, and the SDK reaches the real server through the front container."""

from __future__ import annotations

import base64
import ssl

import httpx
import pytest

from conftest import ACCEPT_BOTH, initialize_body, open_session, runs_once, text_of
from docker_support import Deployment, TUNNEL_BASE_IMAGE, docker, ensure_base_image, ensure_tunnel_base_image, require_docker
from kube_support import PodEmulation, find, render

pytestmark = pytest.mark.anyio
GREETING = "hello from a Kubernetes Secret"
PINGGY_SECRET = "pinggy-account-secret-for-the-pod-0123"
SERVED = ["local", "nginx"]
EVERY = ["local", "nginx", "pinggy"]


def processes(container: str, user: str) -> list[dict]:
    """Every process of a container as /proc shows it to `user` (the container's own identity:
    root there has no capability, so it could not read another uid's environment)."""
    script = ("for p in /proc/[0-9]*; do printf '%s\\t%s\\t%s\\t' \"${p#/proc/}\" \"$(awk '/^Uid:/{print $2}' $p/status)\" "
              "\"$(awk '/^CapEff:/{print $2}' $p/status)\"; tr '\\0' ' ' < $p/cmdline; printf '\\t'; tr '\\0' ' ' < $p/environ 2>/dev/null; echo; done")
    rows = docker("exec", "--user", user, container, "/bin/sh", "-c", script, check=False).stdout.splitlines()
    found = []
    for row in rows:
        parts = row.split("\t")
        # The scan's own shell, awk and tr are not the pod's.
        if len(parts) >= 5 and parts[3].strip() and not parts[3].startswith(("/bin/sh -c for p in", "awk ", "tr ")):
            found.append({"pid": parts[0], "uid": parts[1], "capabilities": parts[2], "command": parts[3], "environment": parts[4]})
    return found


@pytest.fixture(scope="module")
def pod(request):
    """The pod of a deployment with the exposure the test asks for (pinggy: a stand-in agent)."""
    require_docker()
    ensure_base_image()
    exposure = request.param
    port = {"local": 18611, "nginx": 18612, "pinggy": 18613}[exposure]
    settings = {"MCP_EXPOSE": exposure, "SERVER_ENV_GREETING": f'"{GREETING}"'}
    if exposure == "pinggy":
        ensure_tunnel_base_image()
        settings |= {"MCP_BASE_IMAGE": TUNNEL_BASE_IMAGE, "MCP_PINGGY_TOKEN": PINGGY_SECRET, "MCP_PINGGY_HOST": "127.0.0.1"}
    made = Deployment(f"k8s{exposure}", port, settings)
    emulation = None
    try:
        made.build()
        documents = render(made.dir, "--image", f"mcp-sandbox/k8s{exposure}:latest")
        container_port = {"local": 8000, "nginx": 8443, "pinggy": None}[exposure]
        emulation = PodEmulation(documents, f"k8s{exposure}-pod", (port, container_port) if container_port else None)
        emulation.documents = documents
        emulation.token = made.token
        emulation.exposure = exposure
        emulation.base = f"{'https' if exposure == 'nginx' else 'http'}://127.0.0.1:{port}"
        emulation.start()
        assert emulation.wait_until_ready(), emulation.logs()
        emulation.ca_file = None
        if exposure == "nginx":
            emulation.ca_file = str(made.dir / "served.pem")
            (made.dir / "served.pem").write_text(ssl.get_server_certificate(("127.0.0.1", port)))
        yield emulation
    finally:
        if emulation:
            emulation.remove()
        made.down()


@pytest.mark.parametrize("pod", SERVED, indirect=True)
@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_the_sdk_reaches_the_server_through_the_pods_front(pod, transport):
    url = pod.base + ("/mcp" if transport == "streamable" else "/sse")
    async with open_session(url, transport, headers={"Authorization": f"Bearer {pod.token}"}, ca_file=pod.ca_file) as session:
        result = await session.call_tool("get_current_time", {"timezone": "UTC"})
        assert '"timezone": "UTC"' in text_of(result), pod.logs()
    refused = httpx.post(pod.base + "/mcp", json=initialize_body(), verify=pod.ca_file or True, headers={"Accept": ACCEPT_BOTH})
    assert refused.status_code == 401


@pytest.mark.parametrize("pod", EVERY, indirect=True)
@runs_once
def test_every_probe_of_both_containers_passes(pod):
    for container in pod.pod["containers"]:
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert pod.probe(container, kind), f"{container['name']} {kind} failed\n{pod.logs()}"


@pytest.mark.parametrize("pod", SERVED, indirect=True)
async def test_two_identities_no_capability_and_the_token_only_in_the_front(pod):
    # One session open, so the server container runs an MCP server process too.
    async with open_session(pod.base + "/mcp", "streamable", headers={"Authorization": f"Bearer {pod.token}"}, ca_file=pod.ca_file) as session:
        await session.call_tool("get_current_time", {"timezone": "UTC"})
        front = processes(pod.name("front"), "10001:10001")
        server = processes(pod.name("server"), "10002:10002")
    assert front and server
    assert {p["uid"] for p in front} == {"10001"}, front
    assert {p["uid"] for p in server} == {"10002"}, server
    assert {p["capabilities"] for p in front + server} == {"0000000000000000"}
    # Each session's child in the front is a client of the server container's loopback bridge.
    assert any("mcp-bridge connect" in p["command"] and "http://127.0.0.1:8001/mcp" in p["command"] for p in front), front
    time_servers = [p for p in server if "mcp-server-time" in p["command"] and "mcp-bridge" not in p["command"]]
    assert time_servers, server
    assert all(f"GREETING={GREETING}" in p["environment"] for p in time_servers)
    # The token: not in any environment of either container, in no file the server can read.
    assert all(pod.token not in p["environment"] for p in front + server)
    grep = docker("exec", "--user", "10002:10002", pod.name("server"), "/bin/sh", "-c",
                  f"grep -rIl -- '{pod.token}' /var/lib /etc /tmp /run 2>/dev/null", check=False)
    assert grep.stdout.strip() == ""
    # The server container's bridge listens on loopback only (port 8001 = 0x1F41).
    listening = docker("exec", pod.name("server"), "cat", "/proc/net/tcp").stdout
    assert "0100007F:1F41" in listening and "00000000:1F41" not in listening


@pytest.mark.parametrize("pod", EVERY, indirect=True)
@runs_once
def test_the_secrets_are_files_referenced_by_name_never_values_in_the_deployment(pod):
    deployment = find(pod.documents, "Deployment")
    text = str(deployment)
    assert pod.token not in text and GREETING not in text
    front = find(pod.documents, "Secret", f"mcp-k8s{pod.exposure}-front")
    server = find(pod.documents, "Secret", f"mcp-k8s{pod.exposure}-server")
    assert pod.token in base64.b64decode(front["data"]["env"]).decode()
    assert GREETING in base64.b64decode(server["data"]["env"]).decode()
    assert pod.token not in base64.b64decode(server["data"]["env"]).decode()


@pytest.mark.parametrize("pod", ["pinggy"], indirect=True)
@runs_once
def test_the_tunnel_agent_runs_in_the_front_and_gets_its_secret_on_stdin(pod):
    front = processes(pod.name("front"), "10001:10001")
    agents = [p for p in front if "/etc/mcp-sandbox/tunnel/start" in p["command"] or p["command"].startswith("sleep")]
    assert agents and all(p["uid"] == "10001" and p["capabilities"] == "0000000000000000" for p in agents), front
    # The agent's credential is in no process environment of either container.
    server = processes(pod.name("server"), "10002:10002")
    assert all(PINGGY_SECRET not in p["environment"] for p in front + server)
    assert PINGGY_SECRET in base64.b64decode(find(pod.documents, "Secret", "mcp-k8spinggy-front")["data"]["env"]).decode()
    # A tunnel exposure has no Service and admits no inbound connection.
    assert not [d for d in pod.documents if d["kind"] == "Service"]
    ingress = find(pod.documents, "NetworkPolicy", "mcp-k8spinggy-ingress")
    assert ingress["spec"]["ingress"] == []
