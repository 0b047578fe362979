"""`builder serve` for the tests: the real service binary on a free loopback port with its own
state directory, driven over HTTP; an image that contains an MCP server (mcp-server-time in a
venv, installed offline), as a user's own image would."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from docker_support import BASE_IMAGE, BUILDER, RELEASE_BRIDGE, WHEELHOUSE, docker, ensure_base_image, require_docker

SERVER_IMAGE = "mcp-sandbox-test/time-server:1"
SERVER_COMMAND = ["/opt/time/bin/mcp-server-time"]
API_KEY = "test-api-key-0123456789abcdef"


def ensure_server_image():
    """The test base plus mcp-server-time in /opt/time: an existing image with an MCP server."""
    require_docker()
    ensure_base_image()
    if docker("image", "inspect", SERVER_IMAGE, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        wheels = Path(context) / "wheels"
        shutil.copytree(WHEELHOUSE, wheels)
        (Path(context) / "Dockerfile").write_text(
            f"FROM {BASE_IMAGE}\nCOPY wheels /wheels\n"
            "RUN python3 -m venv /opt/time && /opt/time/bin/pip install --no-index --find-links /wheels mcp-server-time==2026.10.10"
            " && rm -rf /wheels\n")
        docker("build", "--tag", SERVER_IMAGE, context)


class Service:
    """One `builder serve`; `restart` keeps the state directory (a new process, same state)."""

    def __init__(self, state_dir: Path, args: list[str] | None = None, env: dict | None = None, key: str | None = API_KEY,
                 verify=True):
        self.state_dir = state_dir
        self.verify = verify
        self.args = args or []
        self.env = dict(os.environ, **(env or {}))
        if key is not None:
            self.env["MCP_SANDBOX_API_KEY"] = key
        else:
            self.env.pop("MCP_SANDBOX_API_KEY", None)
        self.key = key
        self.process: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.url = ""
        self.start()

    def start(self):
        self.stdout_lines, self.stderr_lines = [], []
        self.process = subprocess.Popen(
            [str(BUILDER), "serve", "--port", "0", "--state-dir", str(self.state_dir), "--pull", "never",
             "--bridge-binary", str(RELEASE_BRIDGE), "--wheelhouse", str(WHEELHOUSE), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr_lines), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.stdout_lines.append(line)
            if line.startswith("Listening on "):
                self.url = line.split()[-1].strip()
                threading.Thread(target=self._drain, args=(self.process.stdout, self.stdout_lines), daemon=True).start()
                return
        self.process.kill()
        raise AssertionError(f"builder serve did not start: {''.join(self.stdout_lines)}{self.stderr_text()}")

    @staticmethod
    def _drain(stream, lines):
        for line in stream:
            lines.append(line)

    def stderr_text(self) -> str:
        time.sleep(0.1)
        return "".join(self.stderr_lines)

    def headers(self, key: str | None = None) -> dict:
        return {"X-API-Key": key or self.key or ""}

    def api(self, method: str, path: str, key: str | None = None, **kwargs) -> httpx.Response:
        headers = {**self.headers(key), **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=180, verify=self.verify, **kwargs)

    def create(self, name: str, **body) -> dict:
        response = self.api("POST", "/v1/deployments", json={"name": name, **body})
        assert response.status_code == 202, response.text
        return response.json()

    def create_from_image(self, name: str, **body) -> dict:
        return self.create(name, image=SERVER_IMAGE, command=SERVER_COMMAND, memory="128m", cpus="0.5", **body)

    def wait_state(self, name: str, states: set[str], timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            response = self.api("GET", f"/v1/deployments/{name}")
            last = response.json() if response.status_code == 200 else response.status_code
            if isinstance(last, dict) and last["state"] in states:
                return last
            time.sleep(0.2)
        raise AssertionError(f"{name} did not reach {states}: {last}\n{self.stderr_text()[-3000:]}")

    def wait_gone(self, name: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api("GET", f"/v1/deployments/{name}").status_code == 404:
                return
            time.sleep(0.2)
        raise AssertionError(f"{name} was not deleted within {timeout} s")

    @property
    def service_id(self) -> str:
        with sqlite3.connect(self.state_dir / "state.sqlite3") as db:
            return db.execute("SELECT value FROM meta WHERE key = 'service_id'").fetchone()[0]

    def record_names(self) -> list[str]:
        with sqlite3.connect(self.state_dir / "state.sqlite3") as db:
            return [row[0] for row in db.execute("SELECT name FROM deployments")]

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def remove_everything(self):
        """Test cleanup: every deployment through the API, then anything labelled as ours."""
        try:
            if self.process and self.process.poll() is None:
                for item in self.api("GET", "/v1/deployments").json().get("items", []):
                    self.api("DELETE", f"/v1/deployments/{item['name']}")
                for item in self.api("GET", "/v1/deployments").json().get("items", []):
                    self.wait_gone(item["name"])
        finally:
            self.stop()
            if (self.state_dir / "state.sqlite3").exists():
                remove_labelled(self.service_id)


def objects_of(service_id: str) -> list[str]:
    """Every container, network, volume and image labelled as the service's."""
    label = f"label=org.mcp-sandbox.service={service_id}"
    found = []
    for kind, fmt in [("container", "{{.Names}}"), ("network", "{{.Name}}"), ("volume", "{{.Name}}"), ("image", "{{.Repository}}:{{.Tag}}")]:
        listing = ["ls", "--all"] if kind == "container" else ["ls"]
        found += [f"{kind} {line}" for line in docker(kind, *listing, "--filter", label, "--format", fmt).stdout.split()]
    return found


def remove_labelled(service_id: str):
    label = f"label=org.mcp-sandbox.service={service_id}"
    for name in docker("container", "ls", "--all", "--filter", label, "--format", "{{.Names}}").stdout.split():
        docker("container", "rm", "--force", "--volumes", name, check=False)
    for kind in ["network", "volume"]:
        for name in docker(kind, "ls", "--filter", label, "--format", "{{.Name}}").stdout.split():
            docker(kind, "rm", name, check=False)
    for name in docker("image", "ls", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        docker("image", "rm", "--force", name, check=False)


def front_door_initialize(service: Service, name: str, token: str, timeout: float = 60) -> httpx.Response:
    """A raw Streamable HTTP initialize through the front door."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    return httpx.post(f"{service.url}/d/{name}/mcp", json=body, timeout=timeout,
                      headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"})
