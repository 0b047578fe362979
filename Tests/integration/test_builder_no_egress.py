"""MCP_NETWORK=none and internal with a real Docker engine: the server container has no route out,
an ingress container publishes the port and relays over a Unix socket on a shared volume, and the
official SDK still reaches the real server through it. Nothing here contacts an outside address:
the absence of egress is read from the container's own routing table and interfaces, and the only
connection attempts go to containers these tests created."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from conftest import ACCEPT_BOTH, initialize_body, open_session, runs_once, text_of
from docker_support import Deployment, docker, ensure_base_image, inspect, require_docker, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", params=[("none", "local", 18184), ("internal", "nginx", 18444)],
                ids=["none-local", "internal-nginx"])
def sandbox(request):
    network, exposure, port = request.param
    require_docker()
    ensure_base_image()
    made = Deployment(f"e2e{network}", port, {"MCP_NETWORK": network, "MCP_EXPOSE": exposure})
    made.network, made.exposure = network, exposure
    try:
        made.build()
        made.builder(["start"])
        yield made
    finally:
        made.down()


def base_url(sandbox) -> str:
    return f"{'https' if sandbox.exposure == 'nginx' else 'http'}://127.0.0.1:{sandbox.port}"


def ingress(sandbox) -> str:
    return f"mcp-{sandbox.name}-ingress"


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_the_sdk_reaches_the_server_through_the_ingress(sandbox, transport, tmp_path):
    ca_file = None
    if sandbox.exposure == "nginx":
        ca = tmp_path / "served.pem"
        ca.write_text(ssl.get_server_certificate(("127.0.0.1", sandbox.port)))
        ca_file = str(ca)
    url = base_url(sandbox) + ("/mcp" if transport == "streamable" else "/sse")
    async with open_session(url, transport, headers={"Authorization": f"Bearer {sandbox.token}"}, ca_file=ca_file) as session:
        result = await session.call_tool("get_current_time", {"timezone": "UTC"})
    assert '"timezone": "UTC"' in text_of(result)


@runs_once
def test_the_token_is_still_required_behind_the_ingress(sandbox):
    refused = httpx.post(base_url(sandbox) + "/mcp", json=initialize_body(), headers={"Accept": ACCEPT_BOTH}, verify=False)
    assert refused.status_code == 401
    wrong = httpx.post(base_url(sandbox) + "/mcp", json=initialize_body(), verify=False,
                       headers={"Accept": ACCEPT_BOTH, "Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


@runs_once
def test_the_server_container_has_no_route_out_and_publishes_nothing(sandbox):
    host = inspect("container", sandbox.container)["HostConfig"]
    assert not host.get("PortBindings")
    if sandbox.network == "none":
        assert host["NetworkMode"] == "none"
        interfaces = sandbox.exec("cat", "/proc/net/dev").stdout
        assert [line.split(":")[0].strip() for line in interfaces.splitlines()[2:]] == ["lo"]
    else:
        assert host["NetworkMode"] == f"mcp-{sandbox.name}-internal"
        network = inspect("network", f"mcp-{sandbox.name}-internal")
        assert network["Internal"] is True
        # Alone on its network: no other container to talk to.
        assert list(network["Containers"].values())[0]["Name"] == sandbox.container and len(network["Containers"]) == 1
    edge_ip = inspect("container", ingress(sandbox))["NetworkSettings"]["Networks"][f"mcp-{sandbox.name}-net"]["IPAddress"]
    edge_gateway = inspect("network", f"mcp-{sandbox.name}-net")["IPAM"]["Config"][0]["Gateway"]
    listener = socket.create_server(("0.0.0.0", 0))  # a host service, as a server might seek one
    try:
        host_port = listener.getsockname()[1]
        # Control: the ingress, on an ordinary network, does reach the host through its gateway.
        assert docker("exec", ingress(sandbox), "python3", "-c", connect_probe(edge_gateway, host_port)).stdout.startswith("reached")
        targets = [(edge_ip, 8000)]  # the ingress on the deployment network
        if sandbox.network == "internal":
            targets.append((inspect("network", f"mcp-{sandbox.name}-internal")["IPAM"]["Config"][0]["Gateway"], host_port))
        else:
            routes = sandbox.exec("cat", "/proc/net/route").stdout.splitlines()[1:]
            assert routes == [], routes  # not even a route
        for address, port in targets:
            result = sandbox.exec("python3", "-c", connect_probe(address, port), timeout=30)
            assert result.stdout.startswith("blocked"), (address, result.stdout, result.stderr)
    finally:
        listener.close()


def connect_probe(address: str, port: int) -> str:
    return (f"import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(('{address}', {port}))\n    print('reached')\n"
            "except OSError as error:\n    print('blocked', error)\n")


@runs_once
def test_the_ingress_is_hardened_and_holds_no_secret(sandbox):
    info = inspect("container", ingress(sandbox))
    host = info["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"] and info["Config"]["User"] == "10001:10001"
    assert host["PidsLimit"] == 32 and host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
    published = "8443/tcp" if sandbox.exposure == "nginx" else "8000/tcp"
    assert host["PortBindings"] == {published: [{"HostIp": "127.0.0.1", "HostPort": str(sandbox.port)}]}
    assert host["NetworkMode"] == f"mcp-{sandbox.name}-net"
    assert [mount["RW"] for mount in info["Mounts"]] == [False]
    assert not any(variable.startswith(("MCP_BRIDGE_TOKEN", "API_KEY")) for variable in info["Config"]["Env"])
    assert sandbox.token not in docker("inspect", ingress(sandbox)).stdout
    environ = docker("exec", ingress(sandbox), "cat", "/proc/1/environ").stdout
    assert sandbox.token not in environ
    # The read-only mount: the ingress can use the socket but plant nothing beside it.
    planted = docker("exec", ingress(sandbox), "touch", "/var/lib/mcp-sandbox/ingress/x", check=False)
    assert planted.returncode != 0 and "Read-only file system" in planted.stderr


@runs_once
def test_status_stop_start_and_down_cover_the_ingress(sandbox):
    status = sandbox.builder(["status"]).stdout
    assert "running (healthy)" in status and f"ingress:  {ingress(sandbox)} running" in status
    relay_logs = sandbox.builder(["logs", "--ingress", "--tail", "20"])
    assert "relay listening" in relay_logs.stdout + relay_logs.stderr
    sandbox.builder(["stop"])
    for name in (sandbox.container, ingress(sandbox)):
        assert docker("container", "inspect", name, check=False).returncode != 0
    sandbox.builder(["start"])
    assert httpx.get(base_url(sandbox) + "/healthz", verify=False).status_code == 200
    # The server container restarts on its own (as its restart policy would restart it): the
    # bridge replaces its stale socket and the untouched ingress reaches it again.
    docker("restart", "--time", "5", sandbox.container)
    assert wait_for(lambda: httpx.get(base_url(sandbox) + "/readyz", verify=False).status_code == 200, 60)


@runs_once
def test_switching_modes_and_down_leave_nothing_behind():
    require_docker()
    ensure_base_image()
    made = Deployment("e2edown", 18185, {"MCP_NETWORK": "internal"})
    try:
        made.build()
        made.builder(["start"])
        assert httpx.get("http://127.0.0.1:18185/healthz").status_code == 200
        # Back to an ordinary network: the old ingress must not keep the port.
        made.env_file.write_text(made.env_file.read_text().replace("MCP_NETWORK=internal", "MCP_NETWORK=isolated"))
        made.builder(["start"])
        assert docker("container", "inspect", "mcp-e2edown-ingress", check=False).returncode != 0
        assert inspect("container", "mcp-e2edown")["HostConfig"]["NetworkMode"] == "mcp-e2edown-net"
        assert httpx.get("http://127.0.0.1:18185/healthz").status_code == 200
        made.env_file.write_text(made.env_file.read_text().replace("MCP_NETWORK=isolated", "MCP_NETWORK=internal"))
        made.builder(["start"])
        assert httpx.get("http://127.0.0.1:18185/healthz").status_code == 200
    finally:
        made.down()
    label = "label=org.mcp-sandbox.deployment=e2edown"
    assert docker("ps", "-a", "--filter", label, "-q").stdout.strip() == ""
    assert docker("network", "ls", "--filter", label, "-q").stdout.strip() == ""
    assert docker("volume", "ls", "--filter", label, "-q").stdout.strip() == ""
