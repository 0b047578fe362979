"""The pinggy start script against a real OpenSSH server (Debian's sshd) on loopback, standing in
for pinggy's edge: a throwaway host key, an authorized test key held by an ssh-agent, and a
forced command that records what the client asked for (pinggy reads its `k:` bearer keys there).
Nothing leaves the machine."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, command_lines, descendants_of, free_port, open_session, require, text_of, runs_once, wait_until

pytestmark = pytest.mark.anyio

TOKEN = "0123456789abcdef" * 4



class SSHServer:
    """sshd -D on 127.0.0.1:port, accepting only `client_key` for the current user."""

    def __init__(self, root: Path, host_key: Path | None = None):
        self.root = root
        self.port = free_port()
        self.host_key = host_key or self.keygen("host")
        self.client_key = root / "client"
        if not self.client_key.exists():
            self.keygen("client")
        (root / "authorized_keys").write_text((root / "client.pub").read_text())
        self.commands = root / "commands"
        # The forced command records the client's command line (pinggy's k:/x: options) and
        # keeps the session open like pinggy's edge does.
        (root / "record").write_text(f'#!/bin/sh\nprintf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> {self.commands}\nexec sleep 3600\n')
        (root / "record").chmod(0o755)
        config = root / "sshd_config"
        config.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowTcpForwarding remote
GatewayPorts no
ForceCommand {root}/record
LogLevel VERBOSE
""")
        Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not start: " + (self.proc.stderr.read() if self.proc.poll() is not None else ""))

    def keygen(self, name: str) -> Path:
        path = self.root / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        return path

    @property
    def public_host_key(self) -> str:
        return " ".join(Path(str(self.host_key) + ".pub").read_text().split()[:2])

    def stop(self):
        """Kills sshd and every connection it forked (each runs in its own session)."""
        for pid in descendants_of(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def ssh_setup(tmp_path):
    require(os.geteuid() == 0 and Path("/usr/sbin/sshd").exists() and shutil.which("ssh-agent") is not None,
            "needs root, Debian's openssh-server (sshd) and ssh-agent")
    server = SSHServer(tmp_path)
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    environment = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", agent))
    subprocess.run(["ssh-add", "-q", str(server.client_key)], env={**os.environ, **environment}, check=True)
    yield server, environment
    server.stop()
    os.kill(int(environment["SSH_AGENT_PID"]), signal.SIGTERM)


class Tunnel:
    """tunnels/pinggy/start run as mcp-bridge runs it: secrets on stdin, settings in the environment."""

    def __init__(self, tmp: Path, server: SSHServer, agent: dict, target_port: int, host_key: str | None):
        self.dir = tmp / "tunnel"
        env = {"PATH": "/usr/bin:/bin", "MCP_SANDBOX_TUNNEL_DIR": str(self.dir), "PINGGY_HOST": "127.0.0.1",
               "PINGGY_PORT": str(server.port), "MCP_SANDBOX_TUNNEL_TARGET": f"127.0.0.1:{target_port}", **agent}
        if host_key:
            env["PINGGY_HOST_KEY"] = host_key
        self.proc = subprocess.Popen([str(ROOT / "tunnels" / "pinggy" / "start")], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write(f"MCP_BRIDGE_TOKEN={TOKEN}\n")
        self.proc.stdin.close()
        self.lines: list[str] = []
        self.allocated = threading.Event()
        self.port: int | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            match = re.search(r"Allocated port (\d+) for remote forward", line)
            if match:
                self.port = int(match.group(1))
                self.allocated.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


async def test_the_tunnel_reaches_the_bridge_through_a_real_sshd_with_a_pinned_key(ssh_setup, bridge_factory, tmp_path):
    server, agent = ssh_setup
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})
    tunnel = Tunnel(tmp_path, server, agent, bridge.port, server.public_host_key)
    try:
        assert tunnel.allocated.wait(20), "no remote forward:\n" + "".join(tunnel.lines)
        # The remote forward is established: the SDK reaches the bridge through sshd's port.
        url = f"http://127.0.0.1:{tunnel.port}/mcp"
        async with open_session(url, headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        # The bearer key reached the server side, keep-alives are set, no secret is in any argv.
        # The agent's session channel (which sshd's forced command records) may open after the
        # forward already carries traffic: wait for the record rather than race it.
        assert wait_until(lambda: server.commands.exists() and server.commands.read_text().endswith("\n")), \
            "the agent opened no session:\n" + "".join(tunnel.lines)
        assert (server.commands.read_text().strip()) == f"k:{TOKEN} x:https"
        config = (tunnel.dir / "ssh_config").read_text()
        assert "ServerAliveInterval 30" in config and "ServerAliveCountMax 3" in config
        assert "StrictHostKeyChecking yes" in config
        assert not [argv for argv in command_lines() if TOKEN in argv]
    finally:
        tunnel.stop()


@runs_once
def test_a_changed_host_key_stops_the_tunnel_with_a_clear_error(ssh_setup, bridge_factory, tmp_path):
    server, agent = ssh_setup
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})
    other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    assert other.returncode == 0
    wrong = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    tunnel = Tunnel(tmp_path, server, agent, bridge.port, wrong)
    try:
        tunnel.proc.wait(20)
        assert tunnel.proc.returncode == 255
        log = "".join(tunnel.lines)
        assert "Host key verification failed" in log
        assert "does not match MCP_PINGGY_HOST_KEY" in log
        assert not server.commands.exists(), "no session may open to a server with another key"
    finally:
        tunnel.stop()


@runs_once
def test_when_sshd_dies_the_supervising_bridge_exits_so_the_container_restarts(ssh_setup, bridge_factory, tmp_path):
    server, agent = ssh_setup
    port = free_port()
    env = {"MCP_BRIDGE_TOKEN": TOKEN, "PINGGY_HOST": "127.0.0.1", "PINGGY_PORT": str(server.port),
           "MCP_SANDBOX_TUNNEL_TARGET": f"127.0.0.1:{port}", "MCP_SANDBOX_TUNNEL_DIR": str(tmp_path / "tunnel"),
           "PINGGY_HOST_KEY": server.public_host_key, **agent}
    bridge = bridge_factory(args=["--port", str(port), "--sidecar", str(ROOT / "tunnels" / "pinggy" / "start")], env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not server.commands.exists():
        time.sleep(0.1)
    assert server.commands.exists(), "the tunnel did not open:\n" + bridge.log
    # The pin crossed the bridge: mcp-bridge sends PINGGY_HOST_KEY on the script's standard input
    # (its name looks secret), and the script must still use it instead of trusting any key.
    config = (tmp_path / "tunnel" / "ssh_config").read_text()
    assert "StrictHostKeyChecking yes" in config
    assert (tmp_path / "tunnel" / "known_hosts").read_text().strip() == f"[127.0.0.1]:{server.port} {server.public_host_key}"
    server.stop()  # pinggy's edge goes away
    bridge.proc.wait(30)
    assert bridge.proc.returncode != 0, "the bridge must exit non-zero so the restart policy reconnects"
    assert "sidecar" in bridge.log
