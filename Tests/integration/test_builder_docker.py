"""builder end to end with a real Docker engine: build, start, reach with the SDK, and prove the
hardening from outside (docker inspect) and inside (/proc) the container."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ACCEPT_BOTH, command_lines, initialize_body, open_session, runs_once, text_of
from docker_support import Deployment, docker, ensure_base_image, inspect, require_docker, wait_for

pytestmark = pytest.mark.anyio
SECRET = "line one of a secret\nline two with \"quotes\" and 'apostrophes' $NOT_EXPANDED"


@pytest.fixture(scope="module")
def deployment():
    require_docker()
    ensure_base_image()
    made = Deployment("e2etime", 18181, {
        "MCP_MEMORY": "256m", "MCP_PIDS": "64",
        "SERVER_ENV_API_KEY": '"' + SECRET.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("$", "\\$") + '"',
    })
    try:
        made.build()
        argv_leaks = watch_process_arguments_for(made.token, lambda: made.builder(["start"]))
        made.argv_leaks = argv_leaks
        yield made
    finally:
        made.down()


def watch_process_arguments_for(secret: str, action) -> list[str]:
    """Runs `action` while scanning every process's argv on the host for `secret`."""
    leaks: list[str] = []
    done = threading.Event()

    def scan():
        while not done.is_set():
            leaks.extend(cmdline for cmdline in command_lines() if secret in cmdline)
            time.sleep(0.002)

    watcher = threading.Thread(target=scan, daemon=True)
    watcher.start()
    try:
        action()
    finally:
        done.set()
        watcher.join()
    return leaks


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_sdk_client_reaches_the_real_server_through_the_published_port(deployment, transport):
    url = deployment.url + ("/mcp" if transport == "streamable" else "/sse")
    async with open_session(url, transport, headers={"Authorization": f"Bearer {deployment.token}"}) as session:
        result = await session.call_tool("get_current_time", {"timezone": "UTC"})
    assert '"timezone": "UTC"' in text_of(result)


@runs_once
def test_the_endpoint_requires_the_token(deployment):
    assert httpx.post(deployment.url + "/mcp", json=initialize_body(), headers={"Accept": ACCEPT_BOTH}).status_code == 401
    assert httpx.get(deployment.url + "/healthz").status_code == 200


@runs_once
def test_docker_inspect_shows_every_hardening_flag(deployment):
    info = inspect("container", deployment.container)
    host = info["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    # Only what the bridge needs to run the server as its own user (see test_sandbox_isolation.py).
    assert sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"]) == ["KILL", "SETGID", "SETUID"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert not any("unconfined" in option for option in host["SecurityOpt"] or [])
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert "noexec" in host["Tmpfs"]["/tmp"] and "nosuid" in host["Tmpfs"]["/tmp"]
    assert info["Config"]["User"] == "0:0"
    assert "MCP_BRIDGE_CHILD_USER=10002:10002" in info["Config"]["Env"]
    assert host["PidsLimit"] == 64
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000
    assert host["NetworkMode"] == "mcp-e2etime-net"
    assert host["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18181"}]}
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}
    assert info["Config"]["Labels"]["org.mcp-sandbox.deployment"] == "e2etime"
    # The image's HEALTHCHECK itself turns the container healthy (builder start returns as soon as
    # the same probe, run by builder, passes: Docker's first one is due 5 s after the start).
    assert wait_for(lambda: inspect("container", deployment.container)["State"]["Health"]["Status"] == "healthy", 30)
    network = inspect("network", "mcp-e2etime-net")
    assert network["Options"]["com.docker.network.bridge.enable_icc"] == "false"


@runs_once
def test_inside_the_process_is_unprivileged_and_confined(deployment):
    # PID 1 left root at once and kept nothing.
    status = deployment.exec("grep", "-E", "^(Uid|CapEff|NoNewPrivs)", "/proc/1/status").stdout
    assert "Uid:\t10001\t10001\t10001\t10001" in status and "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    server = "10002:10002"
    assert deployment.exec("id", "-u", user=server).stdout.strip() == "10002"
    cannot_write = deployment.exec("sh", "-c", "touch /rootfs-write-test", user=server)
    assert cannot_write.returncode != 0 and "Read-only file system" in cannot_write.stderr
    cannot_exec = deployment.exec("sh", "-c", "cp /bin/true /tmp/t && /tmp/t", user=server)
    assert cannot_exec.returncode != 0
    marker = Path("/tmp") / f"host-only-marker-{os.getpid()}"
    marker.write_text("host secret")
    try:
        assert deployment.exec("test", "-e", str(marker)).returncode != 0
        assert deployment.exec("test", "-e", str(Path(__file__))).returncode != 0
    finally:
        marker.unlink()


@runs_once
def test_a_fork_bomb_hits_the_pids_limit_and_the_bridge_survives(deployment):
    bomb = ("import os, time\npids = []\ntry:\n    for _ in range(1000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            time.sleep(5)\n            os._exit(0)\n        pids.append(pid)\n"
            "except OSError as error:\n    print('blocked after', len(pids), error.errno)\n"
            "for pid in pids:\n    os.kill(pid, 9)\n")
    result = deployment.exec("python3", "-c", bomb, user="10002:10002", timeout=60)
    assert "blocked after" in result.stdout, result.stdout + result.stderr
    assert int(result.stdout.split()[2]) < 64
    assert httpx.get(deployment.url + "/healthz").status_code == 200


@runs_once
def test_a_memory_hog_is_killed_by_the_memory_limit_and_the_bridge_survives(deployment):
    hog = "chunks = []\nfor _ in range(40):\n    chunks.append(bytearray(32 << 20))\nprint('survived')"
    result = deployment.exec("python3", "-c", hog, user="10002:10002", timeout=120)
    assert result.returncode == 137 and "survived" not in result.stdout
    assert httpx.get(deployment.url + "/healthz").status_code == 200
    assert inspect("container", deployment.container)["State"]["Status"] == "running"


async def test_server_env_reaches_the_server_exactly_and_the_token_does_not(deployment):
    async with open_session(deployment.url + "/mcp", headers={"Authorization": f"Bearer {deployment.token}"}) as session:
        await session.list_tools()
        probe = ("import os, sys\nfor pid in os.listdir('/proc'):\n    if not pid.isdigit() or pid in ('1', str(os.getpid())):\n        continue\n"
                 "    try:\n        env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
                 "    except OSError:\n        continue\n    if b'mcp-server-time' in cmd and b'mcp-bridge' not in cmd:\n"
                 "        values = dict(item.split(b'=', 1) for item in env if b'=' in item)\n"
                 "        sys.stdout.write(repr((values.get(b'API_KEY'), b'MCP_BRIDGE_TOKEN' in values)))\n        break\n")
        # As the server's own user, which may read its own processes (and nothing of the front's).
        result = deployment.exec("python3", "-c", probe, user="10002:10002")
    assert result.stdout == repr((SECRET.encode(), False)), result.stdout + result.stderr


@runs_once
def test_the_token_is_in_no_image_layer_config_or_host_argv(deployment):
    history = docker("history", "--no-trunc", "mcp-sandbox/e2etime:latest").stdout
    image = docker("image", "inspect", "mcp-sandbox/e2etime:latest").stdout
    assert deployment.token not in history and deployment.token not in image
    assert "line one of a secret" not in history and "line one of a secret" not in image
    assert deployment.argv_leaks == []
    printed = deployment.builder(["print", "run"]).stdout
    assert deployment.token not in printed and "--env MCP_BRIDGE_SECRETS_FILE=/var/lib/mcp-sandbox/secrets/env" in printed
    # Nor in the container's configuration: docker inspect and every docker exec would show it.
    container = docker("inspect", deployment.container).stdout
    assert deployment.token not in container and "line one of a secret" not in container
    assert deployment.token not in deployment.exec("env").stdout
    assert deployment.token not in deployment.builder(["status"]).stdout


@runs_once
def test_two_deployments_cannot_reach_each_other(deployment):
    other = Deployment("e2eother", 18182)
    try:
        other.build()
        other.builder(["start"])
        other_ip = inspect("container", other.container)["NetworkSettings"]["Networks"]["mcp-e2eother-net"]["IPAddress"]
        probe = (f"import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(('{other_ip}', 8000))\n    print('reached')\n"
                 "except OSError as error:\n    print('blocked', error)\n")
        result = deployment.exec("python3", "-c", probe, timeout=30)
        assert result.stdout.startswith("blocked"), result.stdout
        assert httpx.get(other.url + "/healthz").status_code == 200
    finally:
        other.down()
    assert docker("ps", "-a", "--filter", "label=org.mcp-sandbox.deployment=e2eother", "-q").stdout.strip() == ""
    assert docker("network", "inspect", "mcp-e2eother-net", check=False).returncode != 0


@runs_once
def test_status_logs_stop_and_start_again(deployment):
    assert "running (healthy)" in deployment.builder(["status"]).stdout
    logs = deployment.builder(["logs", "--tail", "50"])
    assert "mcp-bridge listening" in logs.stdout + logs.stderr
    doctor = deployment.builder(["doctor"]).stdout
    assert "Docker engine" in doctor and ".env is valid" in doctor and "gVisor" in doctor
    deployment.builder(["stop"])
    assert docker("inspect", deployment.container, check=False).returncode != 0
    deployment.builder(["start"])
    assert httpx.get(deployment.url + "/healthz").status_code == 200


@runs_once
def test_a_broken_env_file_names_the_line(tmp_path):
    env = tmp_path / ".env"
    env.write_text('MCP_NAME=x\nMCP_AUTH_TOKEN="unterminated\n')
    from docker_support import BUILDER
    result = subprocess.run([str(BUILDER), "doctor", "--env-file", str(env)], capture_output=True, text=True)
    assert result.returncode != 0 and f"{env}:2: unterminated double-quoted value" in result.stdout


@pytest.fixture(scope="module")
def nginx_deployment():
    require_docker()
    ensure_base_image()
    made = Deployment("e2enginx", 18443, {"MCP_EXPOSE": "nginx"})
    try:
        made.build()
        made.start_output = made.builder(["start"]).stdout
        yield made
    finally:
        made.down()


def served_certificate(port: int) -> str:
    import ssl
    return ssl.get_server_certificate(("127.0.0.1", port))


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_nginx_exposure_serves_https_with_the_token_gate(nginx_deployment, tmp_path, transport):
    ca = tmp_path / "served.pem"
    ca.write_text(served_certificate(nginx_deployment.port))
    base = f"https://127.0.0.1:{nginx_deployment.port}"
    async with open_session(base + ("/mcp" if transport == "streamable" else "/sse"), transport,
                            headers={"Authorization": f"Bearer {nginx_deployment.token}"}, ca_file=str(ca)) as session:
        assert '"timezone": "UTC"' in text_of(await session.call_tool("get_current_time", {"timezone": "UTC"}))
    refused = httpx.post(base + "/mcp", json=initialize_body(), verify=str(ca), headers={"Accept": ACCEPT_BOTH})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


@runs_once
def test_nginx_deployment_publishes_only_tls_and_reports_the_fingerprint(nginx_deployment):
    info = inspect("container", nginx_deployment.container)
    assert info["HostConfig"]["PortBindings"] == {"8443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18443"}]}
    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=served_certificate(nginx_deployment.port),
                                 capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
    assert f"TLS certificate SHA-256 fingerprint: {fingerprint}" in nginx_deployment.start_output
    assert f"tls sha256: {fingerprint}" in nginx_deployment.builder(["status"]).stdout
    # The bridge (port 8000 = 0x1F40) listens on loopback only inside the container.
    listening = nginx_deployment.exec("cat", "/proc/net/tcp").stdout
    assert "0100007F:1F40" in listening and "00000000:1F40" not in listening


async def test_client_config_pins_the_running_fronts_certificate_and_its_entry_reaches_the_server(nginx_deployment):
    """The stdio entry builder prints for Claude Desktop, launched the way the client launches it
    (command, args, env), reaches the sandboxed server through the TLS front."""
    import json

    from conftest import BRIDGE
    from test_connect import connect_session

    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=served_certificate(nginx_deployment.port),
                                 capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
    printed = nginx_deployment.builder(["client-config", "--client", "claude-desktop", "--bridge", str(BRIDGE)]).stdout
    server = json.loads(printed)["mcpServers"]["e2enginx"]
    assert server["command"] == str(BRIDGE) and server["args"] == ["connect"]
    assert server["env"] == {"MCP_BRIDGE_URL": f"https://127.0.0.1:{nginx_deployment.port}/mcp",
                             "MCP_BRIDGE_TOKEN": nginx_deployment.token, "MCP_BRIDGE_FINGERPRINT": fingerprint}
    async with connect_session(None, env=server["env"]) as session:
        assert '"timezone": "UTC"' in text_of(await session.call_tool("get_current_time", {"timezone": "UTC"}))
    # Clients with their own HTTP would refuse the self-signed certificate: they get the same stdio entry.
    code = json.loads(nginx_deployment.builder(["client-config", "--client", "claude-code", "--bridge", str(BRIDGE)]).stdout)
    assert code["mcpServers"]["e2enginx"]["type"] == "stdio"


@runs_once
def test_the_certificate_survives_a_restart_and_nginx_death_restarts_the_container(nginx_deployment):
    before = served_certificate(nginx_deployment.port)
    nginx_deployment.builder(["restart"])
    assert served_certificate(nginx_deployment.port) == before
    nginx_deployment.exec("sh", "-c", "kill $(cat /run/mcp-sandbox/nginx/nginx.pid)", user="10001:10001")
    # The bridge notices its sidecar died and exits non-zero; the restart policy brings it back.
    assert wait_for(lambda: inspect("container", nginx_deployment.container)["RestartCount"] >= 1, 30)
    assert wait_for(lambda: httpx.get(f"https://127.0.0.1:{nginx_deployment.port}/healthz", verify=False).status_code == 200, 60)
    assert served_certificate(nginx_deployment.port) == before


@runs_once
def test_a_server_that_cannot_start_leaves_the_container_unhealthy():
    require_docker()
    ensure_base_image()
    broken = Deployment("e2ebroken", 18183, {"MCP_SERVER_COMMAND": "/opt/mcp/bin/no-such-server"})
    try:
        broken.build()
        started = time.monotonic()
        result = broken.builder(["start", "--timeout", "90"], check=False, timeout=150)
        elapsed = time.monotonic() - started
        # /readyz answers 503 for good, so the health check fails; builder shows why from its
        # log and rolls the start back, leaving nothing running.
        assert result.returncode != 0 and "unhealthy" in result.stderr, result.stdout + result.stderr
        # It says so as soon as the bridge has logged that the command cannot run, not after the
        # image health check's 30 s start period and three failed probes (~43 s).
        assert elapsed < 25, f"builder start took {elapsed:.1f} s to report a server that cannot start"
        assert "not an executable" in result.stderr and "Rolled back" in result.stdout
        assert docker("ps", "-a", "--filter", "label=org.mcp-sandbox.deployment=e2ebroken", "-q").stdout.strip() == ""
    finally:
        broken.down()
