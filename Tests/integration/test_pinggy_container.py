"""A pinggy deployment built by builder, whose agent is Debian's real OpenSSH client, against a
real sshd standing in for pinggy's edge (in a container of its own on the host's network, bound to
Docker's bridge address only, with the login user pinggy's access token makes). The tunnel opens
with the pinned host key and forwards to the bridge; when the edge dies the container restarts,
and when it is back the tunnel is too. Nothing leaves the machine."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import listening, runs_once
from docker_support import (OPENSSH_BASE_IMAGE, Deployment, docker, docker_gateway, ensure_openssh_image, inspect,
                            require_docker, wait_for)

pytestmark = runs_once

ACCOUNT = "acct-123"
EDGE = "mcp-e2e-pinggy-edge"


class Edge:
    def __init__(self):
        self.host = docker_gateway()
        with socket.socket() as probe:
            probe.bind((self.host, 0))
            self.port = probe.getsockname()[1]
        self.dir = Path(tempfile.mkdtemp(prefix="mcp-edge-"))
        os.chmod(self.dir, 0o755)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / "host")], check=True)
        self.public_key = " ".join((self.dir / "host.pub").read_text().split()[:2])
        (self.dir / "record").write_text('#!/bin/sh\nprintf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> /edge/commands\nexec sleep 3600\n')
        (self.dir / "record").chmod(0o755)
        # The forced command runs as the login user, which must be able to append here.
        (self.dir / "commands").touch()
        (self.dir / "commands").chmod(0o666)
        # pinggy logs in with the access token as user name and no key: an empty password here.
        (self.dir / "sshd_config").write_text(f"""Port {self.port}
ListenAddress {self.host}
HostKey /edge/host
PidFile /run/sshd-edge.pid
PubkeyAuthentication no
PasswordAuthentication yes
PermitEmptyPasswords yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowTcpForwarding remote
GatewayPorts no
ForceCommand /edge/record
LogLevel DEBUG1
""")
        users = (f"echo 'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin' >> /etc/passwd && "
                 f"echo '{ACCOUNT}+force::10005:10005::/tmp:/bin/sh' >> /etc/passwd")
        docker("rm", "--force", EDGE, check=False)
        docker("run", "--detach", "--name", EDGE, "--network", "host", "--volume", f"{self.dir}:/edge", OPENSSH_BASE_IMAGE,
               "sh", "-c", f"{users} && exec /usr/sbin/sshd -D -e -f /edge/sshd_config")
        assert wait_for(self.listening, 20), docker("logs", EDGE, check=False).stderr

    def listening(self) -> bool:
        return listening(self.port, self.host)

    @property
    def commands(self) -> list[str]:
        return (self.dir / "commands").read_text().splitlines()

    def remove(self):
        docker("rm", "--force", EDGE, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def edge():
    require_docker()
    ensure_openssh_image()
    made = Edge()
    yield made
    made.remove()


def test_the_real_ssh_agent_tunnels_and_the_container_restarts_when_the_edge_dies(edge):
    deployment = Deployment("e2epinggy", 18556, {
        "MCP_EXPOSE": "pinggy", "MCP_BASE_IMAGE": OPENSSH_BASE_IMAGE, "MCP_PINGGY_TOKEN": ACCOUNT,
        "MCP_PINGGY_HOST": edge.host, "MCP_PINGGY_PORT": str(edge.port), "MCP_PINGGY_HOST_KEY": f'"{edge.public_key}"'})
    try:
        deployment.build()
        deployment.builder(["start"])
        # The edge saw the bearer key, exactly as pinggy reads it.
        assert wait_for(lambda: edge.commands == [f"k:{deployment.token} x:https"], 30), edge.commands
        # The remote forward reaches the bridge: from the edge's side, through the port sshd allocated.
        logs = lambda: docker("logs", EDGE, check=False).stderr  # noqa: E731
        assert wait_for(lambda: re.search(r"Allocated listen port (\d+)", logs()), 20), logs()
        port = int(re.findall(r"Allocated listen port (\d+)", logs())[-1])
        probe = docker("exec", EDGE, "python3", "-c",
                       f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=10).status)")
        assert probe.stdout.strip() == "200", probe.stderr
        before = inspect("container", deployment.container)["RestartCount"]

        docker("kill", EDGE)  # pinggy's edge goes away: ssh exits 255, the bridge exits non-zero
        assert wait_for(lambda: inspect("container", deployment.container)["RestartCount"] > before, 60)
        restart_log = docker("logs", deployment.container, check=False)
        assert "the ssh connection to" in restart_log.stdout + restart_log.stderr

        # The edge comes back with another host key: the pinned agent refuses it, no session opens.
        shutil.move(edge.dir / "host", edge.dir / "host.pinned")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(edge.dir / "host")], check=True, input="y\n", text=True)
        docker("start", EDGE)
        assert wait_for(edge.listening, 20)
        def container_log() -> str:
            result = docker("logs", deployment.container, check=False)
            return result.stdout + result.stderr

        refused = lambda: "Host key verification failed" in container_log()  # noqa: E731
        assert wait_for(refused, 120), container_log()[-3000:]
        assert len(edge.commands) == 1

        # The real key again: a restarted container opens the tunnel again and is healthy.
        docker("kill", EDGE)
        (edge.dir / "host").unlink()
        shutil.move(edge.dir / "host.pinned", edge.dir / "host")
        docker("start", EDGE)
        assert wait_for(edge.listening, 20)
        assert wait_for(lambda: len(edge.commands) >= 2, 150), edge.commands
        assert edge.commands[-1] == f"k:{deployment.token} x:https"
        assert wait_for(lambda: inspect("container", deployment.container)["State"].get("Health", {}).get("Status") == "healthy", 90)
    finally:
        deployment.down()
