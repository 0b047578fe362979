"""Secrets never stay in a start-up environment: the bridge zeroes its own (what
/proc/PID/environ shows, readable to any process under some gVisor releases), takes secrets from
a root-only file when told, and hands sidecars their secrets on standard input instead of in
their environment."""

from __future__ import annotations

from pathlib import Path

import httpx

from conftest import ACCEPT_BOTH, initialize_body, wait_until, runs_once

pytestmark = runs_once

TOKEN = "launch-secret-token-0123456789abcdef"


def sidecar_recorder(tmp_path: Path) -> Path:
    script = tmp_path / "recorder"
    script.write_text(f'#!/bin/sh\nenv > "{tmp_path}/env"\ncat > "{tmp_path}/stdin"\nexec sleep 600\n')
    script.chmod(0o755)
    return script


def test_the_bridge_zeroes_its_start_up_environment_and_sidecars_get_secrets_on_stdin(bridge_factory, tmp_path):
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN, "NGROK_AUTHTOKEN": "agent-secret-987", "NGROK_URL": "https://x.example"},
                            args=["--sidecar", str(sidecar_recorder(tmp_path))])
    environ = Path(f"/proc/{bridge.proc.pid}/environ").read_bytes()
    assert TOKEN.encode() not in environ and b"agent-secret-987" not in environ
    assert wait_until(lambda: (tmp_path / "stdin").exists() and (tmp_path / "stdin").stat().st_size > 0, timeout=10)
    assert wait_until(lambda: "NGROK_AUTHTOKEN=agent-secret-987\n" in (tmp_path / "stdin").read_text(), timeout=5)
    assert f"MCP_BRIDGE_TOKEN={TOKEN}\n" in (tmp_path / "stdin").read_text()
    sidecar_env = (tmp_path / "env").read_text()
    assert TOKEN not in sidecar_env and "agent-secret-987" not in sidecar_env
    assert "NGROK_URL=https://x.example" in sidecar_env  # settings that are not secrets stay
    # The token still works: the bridge kept its own copy.
    assert httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH}).status_code == 401
    reply = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200


def test_secrets_can_come_from_a_nul_separated_file(bridge_factory, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.write_bytes(f"MCP_BRIDGE_TOKEN={TOKEN}\0API_KEY=two\nlines\0".encode())
    secrets.chmod(0o400)
    bridge = bridge_factory(env={"MCP_BRIDGE_SECRETS_FILE": str(secrets)},
                            args=["--clean-env", "--pass-env", "API_KEY"])
    assert httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH}).status_code == 401
    reply = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200


def test_an_unreadable_secrets_file_stops_the_start_with_its_name(bridge_factory, tmp_path):
    missing = tmp_path / "no-such-file"
    bridge = bridge_factory(env={"MCP_BRIDGE_SECRETS_FILE": str(missing)}, expect_ready=False)
    assert bridge.proc.wait(20) == 2
    bridge._reader.join(5)
    assert f"MCP_BRIDGE_SECRETS_FILE={missing}: cannot open it (No such file or directory)" in bridge.log
