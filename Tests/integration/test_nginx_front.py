"""The nginx front (MCP_EXPOSE=nginx) with Debian's real nginx, run by our own start script as an
unprivileged user, in front of the real bridge on loopback; the client verifies our certificate."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import ACCEPT_BOTH, ROOT, free_port, initialize_body, listening, open_session, require, runs_once, text_of, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def nginx_and_root():
    require(shutil.which("nginx") is not None and shutil.which("setpriv") is not None and os.geteuid() == 0,
            "needs Debian's nginx, setpriv and root (to drop to uid 10001 like the container)")
NGINX = ROOT / "nginx"
# As long as the tokens `builder init` makes (64 hex digits).
TOKEN = "0123456789abcdef" * 4
OLD_TOKEN = "fedcba9876543210" * 4



class Front:
    """Our committed nginx files, with the container paths and ports moved into a temp folder."""

    def __init__(self, workdir: Path, bridge_port: int, tokens: str = TOKEN, extra_tokens: str = ""):
        self.port = free_port()
        self.dir = workdir
        for sub in ("run", "tls", "user-tls", "conf"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        config = (NGINX / "nginx.conf").read_text()
        config = config.replace("/run/mcp-sandbox/nginx", str(workdir / "run"))
        config = config.replace("listen 8443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
        config = config.replace("127.0.0.1:8000", f"127.0.0.1:{bridge_port}")
        (workdir / "conf" / "nginx.conf").write_text(config)
        subprocess.run(["chown", "-R", "10001:10001", str(workdir)], check=True)
        os.chmod(workdir, 0o755)
        # Secrets on standard input, as mcp-bridge gives them to its sidecars; never in the environment.
        self.secrets = f"MCP_BRIDGE_TOKEN={tokens}\nMCP_BRIDGE_TOKENS={extra_tokens}\n"
        self.env = {"PATH": os.environ["PATH"],
                    "MCP_SANDBOX_RUN_DIR": str(workdir / "run"), "MCP_SANDBOX_TLS_DIR": str(workdir / "tls"),
                    "MCP_SANDBOX_USER_TLS_DIR": str(workdir / "user-tls"),
                    "MCP_SANDBOX_NGINX_CONF": str(workdir / "conf" / "nginx.conf")}

    def as_container_user(self, *argv: str) -> list[str]:
        return ["setpriv", "--reuid=10001", "--regid=10001", "--clear-groups", *argv]

    def start(self):
        # As in the container, nginx's stdout is a pipe its own (unprivileged) user created:
        # nginx re-opens /dev/stdout for the access log, which a root-owned pipe would refuse.
        argv = self.as_container_user("sh", "-c", '"$0" 2>&1 | cat', str(NGINX / "start"))
        self.proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.proc.stdin.write(self.secrets)
        self.proc.stdin.close()
        assert wait_until(self.listening, timeout=15), self.proc.stdout.read() if self.proc.poll() is not None else "not listening"
        return self

    def listening(self) -> bool:
        return listening(self.port)

    @property
    def cert(self) -> str:
        return str(self.dir / "tls" / "cert.pem")

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self):
        # Graceful stop through nginx's own pid file: the relaying `cat` then drains to EOF,
        # so no access-log line is lost (killing the whole group could kill `cat` first).
        pid_file = self.dir / "run" / "nginx.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def workdir():
    """A folder uid 10001 can reach (pytest's own tmp_path sits under a root-only 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="mcp-front-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def front(bridge_factory, workdir):
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN}, args=["--keepalive-interval", "15s"])
    front = Front(workdir / "front", bridge.port).start()
    front.bridge = bridge
    yield front
    front.stop()


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_sdk_client_over_verified_https_with_the_token(front, transport):
    url = front.base + ("/mcp" if transport == "streamable" else "/sse")
    async with open_session(url, transport, headers={"Authorization": f"Bearer {TOKEN}"}, ca_file=front.cert) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        progress = []

        async def on_progress(value, total, message):
            progress.append(value)

        await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        assert progress == [0, 50, 100]


@runs_once
def test_missing_wrong_or_query_string_tokens_are_401_with_a_json_body(front):
    client = httpx.Client(verify=front.cert, timeout=10)
    missing = client.post(front.base + "/mcp", json=initialize_body(), headers={"Accept": ACCEPT_BOTH})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="mcp"'
    assert missing.json()["error"]["message"].startswith("Unauthorized")
    wrong = client.post(front.base + "/mcp", json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    for path in ("/sse", "/message?sessionId=x", f"/mcp?access_token={TOKEN}", f"/sse?token={TOKEN}"):
        assert client.get(front.base + path).status_code == 401, path


@runs_once
def test_only_the_mcp_and_health_paths_are_proxied_and_headers_are_hardened(front):
    client = httpx.Client(verify=front.cert, timeout=10)
    health = client.get(front.base + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in health.headers["strict-transport-security"]
    assert "server" not in health.headers or "nginx/" not in health.headers["server"]
    for path in ("/metrics", "/", "/.well-known/oauth-authorization-server", "/mcp/../etc/passwd", "/nginx.conf"):
        reply = client.get(front.base + path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code in (404, 400), path


@runs_once
def test_body_limit_matches_the_bridge(front):
    client = httpx.Client(verify=front.cert, timeout=30)
    big = initialize_body()
    big["params"]["padding"] = "p" * (17 << 20)
    reply = client.post(front.base + "/mcp", json=big, headers={"Accept": ACCEPT_BOTH, "Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 413


@runs_once
def test_the_token_never_reaches_the_access_log(front):
    client = httpx.Client(verify=front.cert, timeout=10)
    client.get(front.base + f"/mcp?access_token={TOKEN}")
    client.post(front.base + "/mcp", json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Authorization": f"Bearer {TOKEN}"})
    front.stop()
    output = front.proc.stdout.read()
    assert '"GET /mcp"' in output and '"POST /mcp"' in output
    assert TOKEN not in output
    front.start()


@runs_once
def test_certificate_is_made_once_reused_and_fingerprinted(front):
    first = Path(front.cert).read_bytes()
    fingerprint = subprocess.run(front.as_container_user(str(NGINX / "fingerprint")), env=front.env,
                                 capture_output=True, text=True, check=True).stdout.strip()
    expected = subprocess.run(["openssl", "x509", "-in", front.cert, "-noout", "-fingerprint", "-sha256"],
                              capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
    assert fingerprint == expected and len(fingerprint.split(":")) == 32
    front.stop()
    front.start()
    assert Path(front.cert).read_bytes() == first
    assert oct(os.stat(front.dir / "tls" / "key.pem").st_mode & 0o777) == "0o600"


@runs_once
def test_a_mounted_certificate_is_used_instead(bridge_factory, workdir):
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})
    front = Front(workdir / "front", bridge.port)
    user = front.dir / "user-tls"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(user / "key.pem"), "-out", str(user / "cert.pem")],
                   check=True, capture_output=True)
    subprocess.run(["chown", "-R", "10001:10001", str(user)], check=True)
    front.start()
    try:
        reply = httpx.get(front.base + "/healthz", verify=str(user / "cert.pem"))
        assert reply.status_code == 200
        assert not (front.dir / "tls" / "cert.pem").exists()
    finally:
        front.stop()


@runs_once
def test_rotation_accepts_every_listed_token(bridge_factory, workdir):
    bridge = bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN, "MCP_BRIDGE_TOKENS": OLD_TOKEN})
    front = Front(workdir / "front", bridge.port, extra_tokens=OLD_TOKEN).start()
    try:
        for token in (TOKEN, OLD_TOKEN):
            reply = httpx.post(front.base + "/mcp", json=initialize_body(), verify=front.cert,
                               headers={"Accept": "application/json", "Authorization": f"Bearer {token}"})
            assert reply.status_code == 200, token
    finally:
        front.stop()


@runs_once
def test_a_token_that_could_inject_configuration_is_refused(bridge, workdir):
    front = Front(workdir / "front", bridge.port, tokens='abc" 1; default 1; "x')
    result = subprocess.run(front.as_container_user(str(NGINX / "start")), env=front.env, input=front.secrets,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0 and "refusing it" in result.stderr


@runs_once
def test_a_token_in_the_environment_is_ignored(bridge, workdir):
    """Only standard input counts: an environment any process might read is never the source."""
    front = Front(workdir / "front", bridge.port)
    result = subprocess.run(front.as_container_user(str(NGINX / "start")), env={**front.env, "MCP_BRIDGE_TOKEN": TOKEN},
                            input="", capture_output=True, text=True, timeout=20)
    assert result.returncode != 0 and "MCP_BRIDGE_TOKEN is empty" in result.stderr


@pytest.mark.parametrize("certificate", ["generated", "mounted"])
@pytest.mark.parametrize("tokens", [(TOKEN, ""), (TOKEN, f"{OLD_TOKEN},another-token-1234567890")])
@runs_once
def test_nginx_t_accepts_every_rendered_variant(bridge, workdir, certificate, tokens):
    front = Front(workdir / "front", bridge.port, tokens=tokens[0], extra_tokens=tokens[1])
    if certificate == "mounted":
        user = front.dir / "user-tls"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=x",
                        "-keyout", str(user / "key.pem"), "-out", str(user / "cert.pem")], check=True, capture_output=True)
        subprocess.run(["chown", "-R", "10001:10001", str(user)], check=True)
    shim = workdir / "shim"
    shim.mkdir()
    (shim / "nginx").write_text(f'#!/bin/sh\nexec {shutil.which("nginx")} -t "$@"\n')
    (shim / "nginx").chmod(0o755)
    env = {**front.env, "PATH": f"{shim}:{front.env['PATH']}"}
    argv = front.as_container_user("sh", "-c", '"$0" 2>&1 | cat', str(NGINX / "start"))
    result = subprocess.run(argv, env=env, input=front.secrets, capture_output=True, text=True, timeout=30)
    assert "syntax is ok" in result.stdout and "test is successful" in result.stdout, result.stdout


@runs_once
def test_an_idle_sse_stream_outlives_nginx_default_60s_read_timeout(front):
    """Keep-alive comments from the bridge (every 15 s) and the front's long proxy_read_timeout keep
    a quiet stream open; a message sent after 70 s of silence still arrives on it."""
    client = httpx.Client(verify=front.cert, timeout=httpx.Timeout(10, read=40))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with client.stream("GET", front.base + "/sse", headers=headers) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: endpoint"
        endpoint = next(lines)[len("data: "):]
        # Initialized first: a session whose initialize never completes is reaped after a minute.
        post_headers = {**headers, "Content-Type": "application/json"}
        assert client.post(front.base + endpoint, json=initialize_body(), headers=post_headers).status_code == 202
        for line in lines:
            if line.startswith("data: "):
                assert '"serverInfo"' in line
                break
        assert client.post(front.base + endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                           headers=post_headers).status_code == 202
        started = time.monotonic()
        pings = 0
        for line in lines:
            if line == ": ping":
                pings += 1
            if time.monotonic() - started > 70:
                break
        assert pings >= 4
        accepted = client.post(front.base + endpoint, json={"jsonrpc": "2.0", "id": "late", "method": "ping"},
                               headers=post_headers)
        assert accepted.status_code == 202
        for line in lines:
            if line.startswith("data: "):
                assert '"id":"late"' in line
                break
