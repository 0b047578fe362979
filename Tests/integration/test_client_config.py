"""`builder client-config`: every client's entry has the shape that client documents, `--write`
merges it leaving every other byte of the file alone (with a backup), and the entries work: the
SDK launches the stdio entry (mcp-bridge connect) and uses the HTTP entry's URL and header."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import BRIDGE, open_session, text_of, runs_once
from test_connect import connect_session

pytestmark = pytest.mark.anyio
BUILDER = Path(os.environ.get("MCP_BUILDER_BIN", Path(__file__).resolve().parents[2] / ".build" / "debug" / "builder"))
FINGERPRINT = ":".join(["AB"] * 32)

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
STDIO = {"command": {"type": "string", "minLength": 1}, "args": {"type": "array", "items": {"type": "string"}}, "env": STRING_MAP}
HTTP = {"url": {"type": "string", "pattern": "^https?://"}, "headers": STRING_MAP}


def servers_schema(container: str, entry: dict) -> dict:
    return {"type": "object", "required": [container], "properties": {
        container: {"type": "object", "minProperties": 1, "additionalProperties": entry}}}


def entry(properties: dict, required: list[str], type_value: str | None = None) -> dict:
    props = dict(properties)
    if type_value:
        props["type"] = {"const": type_value}
        required = ["type", *required]
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


# The shapes each client documents (README, "Client setup", links to each page):
# Claude Desktop claude_desktop_config.json: mcpServers.NAME = {command, args, env}
# Claude Code .mcp.json: mcpServers.NAME = {type: "stdio", command, args, env} | {type: "http", url, headers}
# VS Code .vscode/mcp.json: servers.NAME = {type: "stdio", command, args, env} | {type: "http", url, headers}
# Cursor mcp.json: mcpServers.NAME = {command, args, env} | {url, headers}
SCHEMAS = {
    ("claude-desktop", "connect"): servers_schema("mcpServers", entry(STDIO, ["command", "args", "env"])),
    ("claude-code", "connect"): servers_schema("mcpServers", entry(STDIO, ["command", "args", "env"], "stdio")),
    ("claude-code", "http"): servers_schema("mcpServers", entry(HTTP, ["url", "headers"], "http")),
    ("vscode", "connect"): servers_schema("servers", entry(STDIO, ["command", "args", "env"], "stdio")),
    ("vscode", "http"): servers_schema("servers", entry(HTTP, ["url", "headers"], "http")),
    ("cursor", "connect"): servers_schema("mcpServers", entry(STDIO, ["command", "args", "env"])),
    ("cursor", "http"): servers_schema("mcpServers", entry(HTTP, ["url", "headers"])),
}


@pytest.fixture
def workspace(tmp_path):
    subprocess.run([str(BUILDER), "init"], cwd=tmp_path, check=True, capture_output=True)
    token = next(line.split("=", 1)[1] for line in (tmp_path / ".env").read_text().splitlines() if line.startswith("MCP_AUTH_TOKEN="))
    return tmp_path, token


def client_config(cwd: Path, *args: str, check: bool = True, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home or cwd / "home"), "XDG_CONFIG_HOME": str((home or cwd / "home") / ".config")}
    result = subprocess.run([str(BUILDER), "client-config", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=30)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("client,via", sorted(SCHEMAS))
@pytest.mark.parametrize("pinned", [False, True])
@runs_once
def test_each_entry_has_the_documented_shape_and_no_secret_in_args(workspace, client, via, pinned):
    cwd, token = workspace
    args = ["--client", client, "--via", via, "--bridge", str(BRIDGE)]
    if pinned:
        args += ["--url", "https://127.0.0.1:8443/mcp", "--fingerprint", FINGERPRINT]
    result = client_config(cwd, *args, check=False)
    if pinned and via == "http":
        assert result.returncode != 0 and "self-signed" in result.stderr and "--via connect" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMAS[(client, via)])
    container = "servers" if client == "vscode" else "mcpServers"
    (name, value), = document[container].items()
    assert name == "time"
    if via == "connect":
        assert value["command"] == str(BRIDGE) and value["args"] == ["connect"]
        assert value["env"]["MCP_BRIDGE_TOKEN"] == token and token not in json.dumps(value["args"])
        assert value["env"]["MCP_BRIDGE_URL"] == ("https://127.0.0.1:8443/mcp" if pinned else "http://127.0.0.1:8000/mcp")
        assert value["env"].get("MCP_BRIDGE_FINGERPRINT") == (FINGERPRINT if pinned else None)
    else:
        assert value["headers"] == {"Authorization": f"Bearer {token}"}


@runs_once
def test_claude_desktop_has_no_http_entry_and_json_has_both(workspace):
    cwd, token = workspace
    refused = client_config(cwd, "--client", "claude-desktop", "--via", "http", check=False)
    assert refused.returncode != 0 and "only launches stdio servers" in refused.stderr
    generic = json.loads(client_config(cwd, "--client", "json", "--bridge", str(BRIDGE)).stdout)
    assert generic["url"] == "http://127.0.0.1:8000/mcp" and generic["legacySseUrl"] == "http://127.0.0.1:8000/sse"
    assert generic["headers"]["Authorization"] == f"Bearer {token}" and generic["stdio"]["args"] == ["connect"]


@runs_once
def test_bad_options_name_themselves(workspace):
    cwd, _ = workspace
    for args, expected in [(["--url", "ftp://x/mcp"], "--url: expected"), (["--fingerprint", "AB:CD"], "--fingerprint: expected"),
                           (["--client", "json", "--write"], "--write needs a client with a configuration file")]:
        full = args if "--client" in args else ["--client", "cursor", *args]
        result = client_config(cwd, *full, check=False)
        assert result.returncode != 0 and expected in result.stderr, result.stderr


EXISTING = """{
  // my own notes, with a comma inside: "a, b"
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
               "env": {"GITHUB_TOKEN": "ghp_unrelated"}},
    "time": {"command": "old"},
    "weird \\"name\\"": {"url": "https://example.invalid/mcp"}
  },
  "globalShortcut": "Ctrl+Space",
  "numbers": [1, 2.5e3, -0, true, false, null]
}
"""


@pytest.mark.parametrize("client,where", [("claude-desktop", "home/.config/Claude/claude_desktop_config.json"),
                                          ("claude-code", ".mcp.json"), ("cursor", "home/.cursor/mcp.json")])
@runs_once
def test_write_merges_keeps_a_backup_and_every_other_byte(workspace, client, where):
    cwd, token = workspace
    path = cwd / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXISTING)
    os.chmod(path, 0o600)
    result = client_config(cwd, "--client", client, "--bridge", str(BRIDGE), "--write")
    assert f"into {path}" in result.stderr
    backups = list(path.parent.glob(path.name + ".backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == EXISTING
    updated = path.read_text()
    # The old "time" value is replaced in place; everything before and after it is untouched.
    start = EXISTING.index('{"command": "old"}')
    end = start + len('{"command": "old"}')
    assert updated.startswith(EXISTING[:start]) and updated.endswith(EXISTING[end:])
    assert token in updated[start:len(updated) - len(EXISTING[end:])]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # Writing the same entry again changes nothing.
    second = client_config(cwd, "--client", client, "--bridge", str(BRIDGE), "--write", "--config", str(path))
    assert second.returncode == 0 and path.read_text() == updated  # same entry again: same bytes


def test_write_creates_missing_files_and_containers_private(workspace):
    cwd, _ = workspace
    client_config(cwd, "--client", "vscode", "--write")
    created = cwd / ".vscode" / "mcp.json"
    assert json.loads(created.read_text())["servers"]["time"]["type"] == "http"
    assert oct(os.stat(created).st_mode & 0o777) == "0o600"
    other = cwd / "other.json"
    other.write_text('{"editor.fontSize": 14}')
    client_config(cwd, "--client", "vscode", "--write", "--config", str(other))
    text = other.read_text()
    assert text.startswith('{"editor.fontSize": 14,') and json.loads(text)["servers"]["time"]["url"].endswith("/mcp")


def test_a_broken_file_is_left_untouched_and_the_error_names_the_line(workspace):
    cwd, _ = workspace
    broken = cwd / ".mcp.json"
    broken.write_text('{\n  "mcpServers": {\n    "a": [1, 2\n  }\n}\n')
    result = client_config(cwd, "--client", "claude-code", "--write", check=False)
    assert result.returncode != 0 and f"{broken}: line 4" in result.stderr and "nothing was written" in result.stderr
    assert broken.read_text() == '{\n  "mcpServers": {\n    "a": [1, 2\n  }\n}\n'
    assert not list(cwd.glob(".mcp.json.backup-*"))


async def test_the_entries_work_with_the_sdk(workspace, bridge_factory):
    """Pointed (--url) at a real bridge with the deployment's token: the stdio entry launched as a
    client would launch it, and the HTTP entry's URL and header."""
    cwd, token = workspace
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": token})
    stdio = json.loads(client_config(cwd, "--client", "claude-desktop", "--url", bridge.mcp_url, "--bridge", str(BRIDGE)).stdout)
    server = stdio["mcpServers"]["time"]
    assert server["args"] == ["connect"]
    async with connect_session(None, env=server["env"]) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
    http = json.loads(client_config(cwd, "--client", "claude-code", "--url", bridge.mcp_url).stdout)["mcpServers"]["time"]
    async with open_session(http["url"], "streamable", headers=http["headers"]) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."


def test_a_symlinked_configuration_stays_a_link(workspace):
    cwd, _ = workspace
    target = cwd / "dotfiles" / "mcp.json"
    target.parent.mkdir()
    target.write_text('{"mcpServers": {}}\n')
    link = cwd / ".mcp.json"
    link.symlink_to(target)
    client_config(cwd, "--client", "claude-code", "--write")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["mcpServers"]["time"]["type"] == "http"
    assert list(target.parent.glob("mcp.json.backup-*"))
