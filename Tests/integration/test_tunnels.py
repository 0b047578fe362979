"""The tunnel start scripts, run for real with stand-in `ssh` and `ngrok` programs that record what
they were given: no tunnel is opened and no outside address is contacted."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, runs_once

TOKEN = "0123456789abcdef" * 4
OLD = "fedcba9876543210" * 4


SECRET_NAMES = ("MCP_BRIDGE_TOKEN", "MCP_BRIDGE_TOKENS", "PINGGY_TOKEN", "NGROK_AUTHTOKEN")


def run_script(name: str, tmp_path: Path, env: dict) -> tuple[subprocess.CompletedProcess, Path]:
    """Runs a start script as mcp-bridge runs a sidecar: secrets on standard input, the rest in
    the environment."""
    shims = tmp_path / "bin"
    shims.mkdir()
    for program in ("ssh", "ngrok"):
        shim = shims / program
        shim.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@" > "$MCP_SANDBOX_TUNNEL_DIR/argv"\nenv > "$MCP_SANDBOX_TUNNEL_DIR/env"\nexit 42\n')
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    tunnel_dir = tmp_path / "tunnel"
    secrets = "".join(f"{key}={value}\n" for key, value in env.items() if key in SECRET_NAMES)
    full_env = {"PATH": f"{shims}:/usr/bin:/bin", "MCP_SANDBOX_TUNNEL_DIR": str(tunnel_dir),
                **{key: value for key, value in env.items() if key not in SECRET_NAMES}}
    result = subprocess.run([str(ROOT / "tunnels" / name / "start")], env=full_env, input=secrets, capture_output=True,
                            text=True, timeout=20)
    return result, tunnel_dir


@runs_once
def test_pinggy_keeps_secrets_in_a_private_config_and_forwards_to_the_bridge(tmp_path):
    result, tunnel = run_script("pinggy", tmp_path, {"MCP_BRIDGE_TOKEN": TOKEN, "MCP_BRIDGE_TOKENS": OLD, "PINGGY_TOKEN": "acct-123"})
    assert result.returncode == 42, result.stderr  # the agent's exit status reaches the supervisor
    argv = (tunnel / "argv").read_text().split("\n")
    assert argv[1:4] == ["-F", str(tunnel / "ssh_config"), "pinggy"]
    assert not any(TOKEN in arg or "acct-123" in arg for arg in argv)
    config = (tunnel / "ssh_config").read_text()
    # The access token is the login name (pinggy's `TOKEN+force@a.pinggy.io`), not user@host.
    assert "User acct-123+force\n" in config and "HostName a.pinggy.io" in config
    assert f"RemoteCommand k:{TOKEN} k:{OLD} x:https" in config
    assert "RemoteForward 0 127.0.0.1:8000" in config
    assert "StrictHostKeyChecking accept-new" in config and "Port 443" in config
    assert stat.S_IMODE(os.stat(tunnel / "ssh_config").st_mode) == 0o600


def test_ngrok_policy_demands_one_of_the_tokens(tmp_path):
    result, tunnel = run_script("ngrok", tmp_path, {"MCP_BRIDGE_TOKEN": TOKEN, "NGROK_AUTHTOKEN": "ngrok-agent-secret",
                                                    "NGROK_URL": "https://mcp.example.ngrok.app"})
    assert result.returncode == 42, result.stderr
    argv = (tunnel / "argv").read_text()
    assert "ngrok-agent-secret" not in argv and TOKEN not in argv
    config = (tunnel / "ngrok.yml").read_text()
    assert "authtoken: ngrok-agent-secret" in config and "url: https://mcp.example.ngrok.app" in config
    assert f"v == 'Bearer {TOKEN}'" in config and "status_code: 401" in config
    assert "url: 127.0.0.1:8000" in config
    assert stat.S_IMODE(os.stat(tunnel / "ngrok.yml").st_mode) == 0o600


@pytest.mark.parametrize("name", ["pinggy", "ngrok"])
@runs_once
def test_no_token_or_an_unsafe_token_refuses_to_open_a_tunnel(tmp_path, name):
    result, tunnel = run_script(name, tmp_path, {"MCP_BRIDGE_TOKEN": "", "NGROK_AUTHTOKEN": "x"})
    assert result.returncode != 0 and "refusing" in result.stderr
    assert not (tunnel / "argv").exists()
    (tmp_path / "bin").rename(tmp_path / "bin-old")
    result, tunnel = run_script(name, tmp_path, {"MCP_BRIDGE_TOKEN": "bad token'\n", "NGROK_AUTHTOKEN": "x"})
    assert result.returncode != 0 and not (tunnel / "argv").exists()


@pytest.mark.parametrize("name, secret", [("pinggy", "PINGGY_TOKEN"), ("ngrok", "NGROK_AUTHTOKEN")])
@runs_once
def test_the_agent_starts_with_no_secret_in_its_environment(tmp_path, name, secret):
    result, tunnel = run_script(name, tmp_path, {"MCP_BRIDGE_TOKEN": TOKEN, secret: "agent-secret-value-123"})
    assert result.returncode == 42, result.stderr
    environment = (tunnel / "env").read_text()
    assert TOKEN not in environment and "agent-secret-value-123" not in environment


@pytest.mark.parametrize("name", ["pinggy", "ngrok"])
@runs_once
def test_tokens_in_the_environment_are_ignored(tmp_path, name):
    shims = tmp_path / "bin"
    shims.mkdir()
    result = subprocess.run([str(ROOT / "tunnels" / name / "start")], input="", capture_output=True, text=True, timeout=20,
                            env={"PATH": f"{shims}:/usr/bin:/bin", "MCP_SANDBOX_TUNNEL_DIR": str(tmp_path / "t"),
                                 "MCP_BRIDGE_TOKEN": TOKEN, "NGROK_AUTHTOKEN": "x"})
    assert result.returncode != 0 and ("MCP_BRIDGE_TOKEN is empty" in result.stderr or "NGROK_AUTHTOKEN is required" in result.stderr)


# The ngrok agent's configuration file, version 3, as documented at
# https://ngrok.com/docs/agent/config/v3 (agent options under `agent`, endpoints with name, url,
# upstream.url and traffic_policy) and the custom-response action of Traffic Policy
# (https://ngrok.com/docs/traffic-policy/actions/custom-response: status_code, headers, body).
# Only documented fields are allowed, so a misspelt key fails here instead of at the agent.
NGROK_V3_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["version", "agent", "endpoints"],
    "properties": {
        "version": {"enum": [3, "3"]},
        "agent": {"type": "object", "additionalProperties": False, "required": ["authtoken"], "properties": {
            "authtoken": {"type": "string", "minLength": 1}, "log": {"type": "string"}, "log_level": {"type": "string"},
            "log_format": {"type": "string"}, "connect_url": {"type": "string"}, "update_check": {"type": "boolean"}}},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "upstream"], "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}, "description": {"type": "string"},
                "metadata": {"type": "string"}, "url": {"type": "string", "pattern": "^https://"},
                "upstream": {"type": "object", "additionalProperties": False, "required": ["url"], "properties": {
                    "url": {"type": ["string", "integer"]}, "protocol": {"enum": ["http1", "http2"]}}},
                "traffic_policy": {"type": "object", "additionalProperties": False, "properties": {
                    phase: {"type": "array", "items": {
                        "type": "object", "additionalProperties": False, "required": ["actions"], "properties": {
                            "name": {"type": "string"},
                            "expressions": {"type": "array", "items": {"type": "string"}},
                            "actions": {"type": "array", "minItems": 1, "items": {
                                "type": "object", "additionalProperties": False, "required": ["type"], "properties": {
                                    "type": {"type": "string"}, "config": {"type": "object"}}}}}}}
                    for phase in ("on_tcp_connect", "on_http_request", "on_http_response")}}}}},
    },
}
CUSTOM_RESPONSE_CONFIG = {"type": "object", "additionalProperties": False, "required": ["status_code"], "properties": {
    "status_code": {"type": "integer", "minimum": 100, "maximum": 599}, "body": {"type": "string"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}}}}


@pytest.mark.parametrize("with_url", [True, False])
def test_ngrok_config_matches_the_v3_schema_and_its_policy_admits_exactly_the_tokens(tmp_path, with_url):
    import celpy
    import jsonschema
    import yaml

    env = {"MCP_BRIDGE_TOKEN": TOKEN, "MCP_BRIDGE_TOKENS": OLD, "NGROK_AUTHTOKEN": "ngrok-agent-secret"}
    if with_url:
        env["NGROK_URL"] = "https://mcp.example.ngrok.app"
    result, tunnel = run_script("ngrok", tmp_path, env)
    assert result.returncode == 42, result.stderr
    config = yaml.safe_load((tunnel / "ngrok.yml").read_text())
    jsonschema.validate(config, NGROK_V3_SCHEMA)
    endpoint, = config["endpoints"]
    assert endpoint["upstream"]["url"] == "127.0.0.1:8000" and ("url" in endpoint) == with_url
    rule, = endpoint["traffic_policy"]["on_http_request"]
    action, = rule["actions"]
    assert action["type"] == "custom-response"
    jsonschema.validate(action["config"], CUSTOM_RESPONSE_CONFIG)
    assert action["config"]["status_code"] == 401 and action["config"]["headers"]["www-authenticate"] == 'Bearer realm="mcp"'
    assert action["config"]["body"] == '{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Unauthorized"}}'
    # The rule's expression, evaluated by a CEL implementation: it fires (401) unless one of the
    # Authorization values is a current or previous token. ngrok lower-cases header names.
    expression, = rule["expressions"]
    cel = celpy.Environment()
    program = cel.program(cel.compile(expression))

    def refused(headers: dict) -> bool:
        return bool(program.evaluate({"req": celpy.json_to_cel({"headers": headers})}))

    assert refused({}) and refused({"authorization": ["Bearer wrong"]}) and refused({"authorization": [TOKEN]})
    assert refused({"authorization": [f"Bearer {TOKEN}x"]}) and refused({"x-token": [f"Bearer {TOKEN}"]})
    assert not refused({"authorization": [f"Bearer {TOKEN}"]}) and not refused({"authorization": [f"Bearer {OLD}"]})
    assert not refused({"authorization": ["Bearer wrong", f"Bearer {OLD}"]})
