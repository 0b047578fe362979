"""Docker fixtures for the builder tests: a local base image made with debootstrap (no
registry is reachable), wheels downloaded on the host, and deployments that clean up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT

# Everything the test deployments need, preinstalled: containers reach no package registry.
BASE_PACKAGES = "python3,python3-venv,ca-certificates,nginx-light,openssl"
BASE_IMAGE = "mcp-sandbox-test/bookworm-python-nginx:1"
BUILDER = Path(os.environ.get("MCP_BUILDER_BIN", ROOT / ".build" / "debug" / "builder"))
RELEASE_BRIDGE = Path(os.environ.get("MCP_BRIDGE_RELEASE_BIN", ROOT / ".build" / "release" / "mcp-bridge"))
WHEELHOUSE = Path(os.environ.get("MCP_TEST_WHEELHOUSE", ROOT / ".venv-test" / "wheelhouse"))


def docker_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "version"], capture_output=True).returncode == 0


def require_docker():
    if docker_available():
        return
    if os.environ.get("MCP_REQUIRE_DOCKER") == "1":
        pytest.fail("MCP_REQUIRE_DOCKER=1 but the Docker engine is not reachable")
    pytest.skip("no Docker engine (scripts/test starts one when it can)")


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kwargs)


def inspect(kind: str, name: str) -> dict:
    return json.loads(docker(kind, "inspect", name).stdout)[0]


def ensure_base_image():
    """A minimal Debian bookworm with python3, from debootstrap, imported once per machine."""
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                        "bookworm", rootfs], check=True, capture_output=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change",
                        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "-", BASE_IMAGE],
                       stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()


class Deployment:
    """One builder deployment in its own folder; `down` removes everything it made."""

    def __init__(self, name: str, port: int, extra: dict[str, str] | None = None):
        self.name = name
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"mcp-{name}-"))
        self.env_file = self.dir / ".env"
        self.builder(["init"])
        settings = {"MCP_NAME": name, "MCP_BASE_IMAGE": BASE_IMAGE, "MCP_PORT": str(port), **(extra or {})}
        text = self.env_file.read_text()
        for key, value in settings.items():
            text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key}=")) + "\n"
            text += f"{key}={value}\n"
        self.env_file.write_text(text)
        self.token = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("MCP_AUTH_TOKEN="))

    def builder(self, args: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run([str(BUILDER), *args], cwd=self.dir, capture_output=True, text=True, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"builder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def build(self):
        return self.builder(["build", "--bridge-binary", str(RELEASE_BRIDGE), "--wheelhouse", str(WHEELHOUSE)], timeout=600)

    @property
    def container(self) -> str:
        return f"mcp-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exec(self, *command: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        return docker("exec", self.container, *command, check=check, timeout=timeout)

    def down(self):
        self.builder(["down", "--image"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout: float) -> bool:
    """Polls `predicate` (exceptions count as not yet) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.5)
    return False
