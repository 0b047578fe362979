"""The boundary inside the container, proven by a hostile MCP server.

A real image made by `builder` runs our hostile probe (fixtures/hostile_probe) as its MCP server.
Its `probe` tool tries every way to reach the front that holds the secrets: each visible process's
environ, memory, descriptors, ptrace and signals; the token map, TLS key and tunnel configs; the
ingress socket; the bridge's port without the token. Every exposure and network mode runs under
runc and under gVisor; each attempt must fail with a permission error and no secret may appear
anywhere in what the server obtained, while the server still works (its SERVER_ENV_* arrive
byte-exact)."""

from __future__ import annotations

import base64
import json

import pytest

from conftest import MCP_MAJOR, ROOT, open_session, text_of, runs_once
from docker_support import (AgentDownload, Deployment, TUNNEL_BASE_IMAGE, ensure_base_image, ensure_gvisor, ensure_tunnel_base_image,
                            inspect, make_wheel, require_docker, wheelhouse_with)

pytestmark = pytest.mark.anyio

SERVER_UID = 10002
FRONT_UID = 10001
CLIENT_UID = 10003  # the in-container test client of the tunnel cases: not part of the front
SECRET_VALUE = "api secret line one\nline two with 'quotes' and \"double\" $NOT_EXPANDED\ttab"
PINGGY_SECRET = "pinggy-account-secret-0123456789"
# Files front processes hold open that every user of the image may read anyway.
PUBLIC_FRONT_FILES = {"/etc/mcp-sandbox/tunnel/start"}
NGROK_SECRET = "ngrok-agent-secret-0123456789abcdef"
DENIED = {"EACCES", "EPERM"}

# exposure, MCP_NETWORK; tunnels need egress, so they only run isolated.
LAYOUTS = [("local", "isolated"), ("local", "none"), ("nginx", "isolated"), ("nginx", "none"),
           ("pinggy", "isolated"), ("ngrok", "isolated")]
# gVisor both ways: asked for (runsc) and chosen because Docker has it (auto).
CASES = [(exposure, network, "runc") for exposure, network in LAYOUTS] + \
    [(exposure, network, "auto" if index % 2 else "runsc") for index, (exposure, network) in enumerate(LAYOUTS)]

# A client inside the container for the tunnel exposures (nothing is published there): the
# official SDK from the image's own venv, as an unrelated uid, token on stdin.
IN_CONTAINER_CLIENT = """
import asyncio, json, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
token = sys.stdin.read().strip()
async def main():
    async with streamablehttp_client("http://127.0.0.1:8000/mcp", headers={"Authorization": "Bearer " + token}) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            out = {}
            for tool in ("probe", "environment"):
                out[tool] = (await session.call_tool(tool, {})).content[0].text
            print(json.dumps(out))
asyncio.run(main())
"""


def escape_for_env_file(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("$", "\\$") + '"'


@pytest.fixture(scope="module")
def hostile_wheelhouse(tmp_path_factory):
    require_docker()
    directory = tmp_path_factory.mktemp("hostile-wheels")
    (directory / "dist").mkdir()
    wheel = make_wheel(ROOT / "Tests" / "integration" / "fixtures" / "hostile_probe" / "hostile_probe.py", directory / "dist",
                       "mcp-hostile-probe", "1.0", "mcp-hostile-probe = hostile_probe:main", ["mcp"])
    return wheelhouse_with(wheel, directory / "house")


@pytest.fixture(scope="module")
def agent_download():
    download = AgentDownload()
    yield download
    download.close()


@pytest.fixture(params=CASES, ids=[f"{e}-{n}-{r}" for e, n, r in CASES])
def hostile_deployment(request, hostile_wheelhouse, agent_download):
    exposure, network, runtime = request.param
    if MCP_MAJOR >= 2 and (exposure, network, runtime) != ("nginx", "isolated", "runc"):
        pytest.skip("what the hostile server reaches does not depend on the client SDK: the 2.x pass runs one layout")
    ensure_base_image()
    if runtime in ("runsc", "auto"):
        ensure_gvisor()
    settings = {
        "MCP_EXPOSE": exposure, "MCP_NETWORK": network, "MCP_CONTAINER_RUNTIME": runtime,
        "MCP_SERVER_PACKAGE": "mcp-hostile-probe==1.0", "MCP_SERVER_COMMAND": "mcp-hostile-probe",
        "SERVER_ENV_PROBE_SECRET": escape_for_env_file(SECRET_VALUE),
    }
    if exposure == "pinggy":
        ensure_tunnel_base_image()
        settings |= {"MCP_BASE_IMAGE": TUNNEL_BASE_IMAGE, "MCP_PINGGY_TOKEN": PINGGY_SECRET, "MCP_PINGGY_HOST": "127.0.0.1"}
    if exposure == "ngrok":
        settings |= {"MCP_NGROK_AUTHTOKEN": NGROK_SECRET, "BUILD_ARG_NGROK_AGENT_URL": agent_download.url,
                     "BUILD_ARG_NGROK_AGENT_SHA256": agent_download.sha256}
    index = CASES.index(request.param)
    made = Deployment(f"hostile{index}", 18300 + index, settings)
    made.gvisor = runtime != "runc"
    try:
        made.build(wheelhouse=hostile_wheelhouse)
        made.builder(["start", "--timeout", "90"], timeout=150)
        made.exposure, made.network, made.runtime = exposure, network, runtime
        yield made
    finally:
        made.down()


async def run_tools(deployment: Deployment) -> dict:
    """Calls `probe` and `environment` the way a user's client would."""
    headers = {"Authorization": f"Bearer {deployment.token}"}
    if deployment.exposure == "local":
        url, ca_file = deployment.url + "/mcp", None
    elif deployment.exposure == "nginx":
        import ssl
        ca = deployment.dir / "served.pem"
        ca.write_text(ssl.get_server_certificate(("127.0.0.1", deployment.port)))
        url, ca_file = f"https://127.0.0.1:{deployment.port}/mcp", str(ca)
    else:
        result = deployment.exec("/opt/mcp/bin/python", "-c", IN_CONTAINER_CLIENT, user=f"{CLIENT_UID}:{CLIENT_UID}",
                                 input=deployment.token, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return {key: json.loads(value) for key, value in json.loads(result.stdout).items()}
    async with open_session(url, headers=headers, ca_file=ca_file) as session:
        return {tool: json.loads(text_of(await session.call_tool(tool, {}))) for tool in ("probe", "environment")}


def front_secrets(deployment: Deployment) -> list[bytes]:
    """Everything the server must never see: tokens, tunnel credentials, the TLS private key."""
    secrets = [deployment.token.encode(), PINGGY_SECRET.encode(), NGROK_SECRET.encode()]
    if deployment.exposure == "nginx":
        key = deployment.exec("cat", "/var/lib/mcp-sandbox/tls/key.pem", user=f"{FRONT_UID}:{FRONT_UID}", check=True).stdout
        body = "".join(line for line in key.splitlines() if "-----" not in line)
        assert len(body) > 40
        secrets += [body.encode(), body[:40].encode()]
    return secrets


def stat_in(deployment: Deployment, paths: list[str], user: str | None) -> dict[str, tuple[str, str]]:
    """Mode and owner of paths inside the container (Python's stat: gVisor 2022 has no statx)."""
    script = ("import os, sys\nfor p in sys.argv[1:]:\n    s = os.stat(p)\n"
              "    print(p, format(s.st_mode & 0o777, 'o'), f'{s.st_uid}:{s.st_gid}')\n")
    output = deployment.exec("python3", "-c", script, *paths, user=user, check=True).stdout
    return {path: (mode, owner) for path, mode, owner in (line.split() for line in output.splitlines())}


def everything_obtained(report) -> bytes:
    """The report with every `data` field decoded, so a secret shows up whatever its encoding."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    try:
                        found.append(base64.b64decode(value, validate=True))
                    except ValueError:
                        found.append(value.encode())
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        else:
            found.append(str(node).encode())

    walk(report)
    return b"\n".join(found)


async def test_a_hostile_server_reaches_no_secret_and_no_front_process(hostile_deployment):
    deployment = hostile_deployment
    info = inspect("container", deployment.container)
    assert info["HostConfig"]["CapDrop"] == ["ALL"]
    assert sorted(info["HostConfig"]["CapAdd"]) == ["CAP_KILL", "CAP_SETGID", "CAP_SETUID"] or \
        sorted(info["HostConfig"]["CapAdd"]) == ["KILL", "SETGID", "SETUID"]
    assert (info["HostConfig"]["Runtime"] == "runsc") == deployment.gvisor
    if deployment.gvisor:
        assert deployment.exec("uname", "-r").stdout.strip() == "4.4.0"  # gVisor's kernel, for real

    tools = await run_tools(deployment)
    report, environment = tools["probe"], tools["environment"]

    # The server itself: its own identity, no group of the front's, no capability.
    me = report["self"]
    assert (me["uid"], me["gid"], me["groups"]) == (SERVER_UID, SERVER_UID, [])
    assert me["CapEff"] == me["CapPrm"] == me.get("CapAmb", "0000000000000000") == "0000000000000000"
    assert me["ambient"] == []
    assert me["no_new_privs"] == 1 and me.get("NoNewPrivs", "1") == "1"

    # Every process of the front: nothing but a permission error, whatever was tried.
    processes = {int(pid): entry for pid, entry in report["processes"].items()}
    front = {pid: entry for pid, entry in processes.items()
             if int(entry["status"]["Uid"].split()[0]) not in (SERVER_UID, CLIENT_UID)}
    assert 1 in front, "PID 1 (the init supervisor) must be visible to the probe"
    names = " ".join(entry["status"]["Name"] for entry in front.values())
    assert "mcp-bridge" in names
    if deployment.exposure == "nginx":
        assert "nginx" in names
    if deployment.exposure in ("pinggy", "ngrok"):
        assert "sleep" in names  # the stand-in agent
    if deployment.exposure == "pinggy":
        # ssh refuses to run for a uid without a passwd entry ("No user exists for uid 10001").
        named = deployment.exec("getent", "passwd", "10001", user="10001:10001")
        assert named.stdout.startswith("mcp-front:x:10001:10001:"), named.stdout + named.stderr
    for pid, entry in front.items():
        for attempt in ("environ", "mem", "fd", "fd_reopen", "ptrace", "signal"):
            result = entry[attempt]
            if attempt == "environ" and deployment.gvisor and result["ok"]:
                # This gVisor release lets any process read any /proc/PID/environ. What it shows
                # must then be empty of everything: the bridge zeroes its start-up environment,
                # and sidecars never get a secret in theirs (the scan below checks every byte).
                shown = base64.b64decode(result["data"])
                if entry["status"]["Name"] == "mcp-bridge":
                    assert set(shown) <= {0}, f"PID {pid}: {shown[:200]!r}"
                continue
            if attempt == "fd" and deployment.gvisor and result["ok"]:
                # gVisor also lists /proc/PID/fd to anyone, but re-opening a descriptor checks the
                # object's own permissions: the front's pipes, sockets and 0600 files stay shut.
                for reopen in entry["fd_reopen"]["data"]:
                    # The tunnel script the agent's shell is reading is a world-readable image
                    # file (0755, no secret): re-opening it yields what reading it directly would.
                    public = reopen["link"]["ok"] and reopen["link"]["data"] in PUBLIC_FRONT_FILES
                    if reopen["read"]["ok"] and not public:
                        assert base64.b64decode(reopen["read"]["data"]) == b"", f"PID {pid} fd {reopen}"
                    if reopen["write"]["ok"]:
                        assert reopen["fd"] == "0", f"PID {pid} fd {reopen}"  # stdin is /dev/null
                continue
            if attempt == "fd_reopen" and deployment.gvisor and entry["fd"]["ok"]:
                continue  # checked just above
            assert not result["ok"], f"the server could {attempt} PID {pid} ({entry['status']['Name']}): {result}"
            assert result["errno"] in DENIED, f"{attempt} PID {pid}: {result}"
        # Every front process runs as the front user, with no capability but the bridge's three.
        uid_fields = entry["status"]["Uid"].split()
        assert set(uid_fields) == {str(FRONT_UID)}, entry["status"]
        assert entry["status"]["CapEff"] in ("0000000000000000", "00000000000000e0"), entry["status"]
        if not deployment.gvisor:  # gVisor's /proc/PID/status has no NoNewPrivs line
            assert entry["status"]["NoNewPrivs"] == "1"
    bridge_caps = [entry["status"]["CapEff"] for entry in front.values() if entry["status"]["Name"] == "mcp-bridge"]
    assert "00000000000000e0" in bridge_caps and processes[1]["status"]["CapEff"] == "0000000000000000"
    # No other server process is visible (one session here), so nothing of the server's uid was skipped.
    assert all(int(entry["status"]["Uid"].split()[0]) != SERVER_UID for entry in processes.values())

    # The front's files and folders.
    for path, result in report["files"].items():
        assert not result["ok"] and result["errno"] in DENIED | {"ENOENT"}, f"{path}: {result}"
    for path, result in report["directories"].items():
        assert not result["ok"] and result["errno"] in DENIED | {"ENOENT"}, f"{path}: {result}"
    assert report["directories"]["/run/mcp-sandbox"]["errno"] in DENIED
    if deployment.exposure == "nginx":
        assert report["directories"]["/var/lib/mcp-sandbox/tls"]["errno"] in DENIED
        assert report["files"]["/run/mcp-sandbox/nginx/tokens.conf"]["errno"] in DENIED
    for attempt in ("ingress_socket", "plant_in_ingress", "plant_in_front_run"):
        result = report[attempt]
        assert not result["ok"], f"{attempt}: {result}"
        assert result["errno"] in DENIED | {"ENOENT"}, f"{attempt}: {result}"
    if deployment.network == "none":
        assert report["ingress_socket"]["errno"] in DENIED
    # The bridge's own port answers, but not without the token.
    assert report["bridge_without_token"] == {"ok": True, "data": 401}

    # No secret anywhere in what the server obtained (argv of every process included).
    obtained = everything_obtained(report) + json.dumps(environment).encode()
    for secret in front_secrets(deployment):
        assert secret not in obtained

    # Every file holding a secret: the front's, 0600, in 0700 folders; the secrets file root's, 0400.
    front_files = {"local": [], "nginx": ["/run/mcp-sandbox/nginx/tokens.conf", "/var/lib/mcp-sandbox/tls/key.pem"],
                   "pinggy": ["/run/mcp-sandbox/tunnel/ssh_config"], "ngrok": ["/run/mcp-sandbox/tunnel/ngrok.yml"]}[deployment.exposure]
    folders = sorted({path.rsplit("/", 1)[0] for path in front_files} | {"/run/mcp-sandbox"})
    modes = stat_in(deployment, [*folders, *front_files], user=f"{FRONT_UID}:{FRONT_UID}")
    for path, (mode, owner) in modes.items():
        assert owner == f"{FRONT_UID}:{FRONT_UID}" and mode == ("700" if path in folders else "600"), (path, mode, owner)
    secrets = stat_in(deployment, ["/var/lib/mcp-sandbox/secrets", "/var/lib/mcp-sandbox/secrets/env"], user=None)
    assert list(secrets.values()) == [("700", "0:0"), ("400", "0:0")], secrets

    # The server still works normally: exactly its own variables and a minimal base.
    assert environment["PROBE_SECRET"] == SECRET_VALUE
    # (LC_CTYPE is set by Python itself at start-up when the locale is C: PEP 538.)
    allowed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "PROBE_SECRET", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
               "LC_CTYPE"}
    assert set(environment) <= allowed, set(environment) - allowed


@runs_once
def test_doctor_reports_gvisor_and_what_it_does_not_enforce():
    ensure_gvisor()
    made = Deployment("doctorgv", 18399)
    try:
        report = made.builder(["doctor"], check=False).stdout
    finally:
        made.down()
    assert "✓ gVisor (runsc) is registered with Docker (runtimeArgs: --ignore-cgroups --network=host --host-uds=all)" in report
    assert "are not enforced under gVisor" in report
