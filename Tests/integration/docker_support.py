"""Docker fixtures for the builder tests: a local base image made with debootstrap (no
registry is reachable), wheels downloaded on the host, and deployments that clean up."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import tarfile
import threading
import zipfile
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


TUNNEL_BASE_IMAGE = "mcp-sandbox-test/bookworm-python-nginx-tunnel-standins:1"
GVISOR_RUNTIME_ARGS = ["--ignore-cgroups", "--network=host", "--host-uds=all"]
# Stand-in tunnel agents: they keep running with the credentials in their environment (as the real
# agents do) but contact nobody.
STAND_IN_AGENT = "#!/bin/sh\n# stand-in tunnel agent for the tests: no tunnel is opened\nexec sleep 2147483647\n"


def ensure_tunnel_base_image():
    """The test base plus a stand-in `ssh` on PATH, so pinggy images build offline and the agent stays up."""
    ensure_base_image()
    if docker("image", "inspect", TUNNEL_BASE_IMAGE, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "ssh").write_text(STAND_IN_AGENT)
        (Path(context) / "ssh").chmod(0o755)  # COPY keeps the mode
        (Path(context) / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY ssh /usr/local/bin/ssh\n")
        docker("build", "--tag", TUNNEL_BASE_IMAGE, context)


class AgentDownload:
    """Serves a stand-in ngrok agent tarball on 127.0.0.1 for the image's checksum-verified ADD
    (the Docker daemon fetches it from the host's loopback)."""

    def __init__(self):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            data = STAND_IN_AGENT.encode()
            info = tarfile.TarInfo("ngrok")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        payload = buffer.getvalue()
        self.sha256 = hashlib.sha256(payload).hexdigest()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ngrok-stand-in.tgz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_wheel(source: Path, directory: Path, name: str, version: str, script: str, requires: list[str]) -> Path:
    """A pure-Python wheel of one module with one console script, written directly (no build
    backend needed offline)."""
    module = source.name
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        module: source.read_bytes(),
        f"{dist_info}/METADATA": ("Metadata-Version: 2.1\n" f"Name: {name}\n" f"Version: {version}\n"
                                  + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: mcp-sandbox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{script}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def wheelhouse_with(extra: Path, directory: Path) -> Path:
    """The test wheelhouse plus one more wheel, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for wheel in WHEELHOUSE.glob("*.whl"):
        shutil.copy2(wheel, directory / wheel.name)
    shutil.copy2(extra, directory / extra.name)
    return directory


def read_comm(process: Path) -> str:
    try:
        return (process / "comm").read_text().strip()
    except OSError:
        return ""


def gvisor_registered() -> bool:
    return '"runsc"' in docker("info", "--format", "{{json .Runtimes}}").stdout


def ensure_gvisor():
    """Registers Debian's runsc with the running dockerd (daemon.json, then SIGHUP), as the README
    describes; fails when MCP_REQUIRE_DOCKER=1 and it cannot, skips otherwise."""
    require_docker()
    if gvisor_registered():
        return
    runsc = shutil.which("runsc")
    problem = None
    if runsc is None:
        problem = "runsc is not installed (apt-get install runsc)"
    elif os.geteuid() != 0:
        problem = "registering runsc with dockerd needs root"
    else:
        config_path = Path("/etc/docker/daemon.json")
        config = json.loads(config_path.read_text()) if config_path.exists() and config_path.read_text().strip() else {}
        config.setdefault("runtimes", {})["runsc"] = {"path": runsc, "runtimeArgs": GVISOR_RUNTIME_ARGS}
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        pids = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit() and read_comm(entry) == "dockerd"]
        for pid in pids:
            os.kill(int(pid), signal.SIGHUP)
        if not pids:
            problem = "dockerd is not running on this machine (cannot reload it)"
        elif not wait_for(gvisor_registered, 30):
            problem = "dockerd did not pick up the runsc runtime after SIGHUP"
    if problem:
        if os.environ.get("MCP_REQUIRE_DOCKER") == "1":
            pytest.fail(f"gVisor is required (MCP_REQUIRE_DOCKER=1) but {problem}")
        pytest.skip(problem)


class Deployment:
    """One builder deployment in its own folder; `down` removes everything it made. Runs under
    runc unless MCP_CONTAINER_RUNTIME says otherwise (gVisor ignores the memory and pids limits
    with --ignore-cgroups, which several tests rely on)."""

    def __init__(self, name: str, port: int, extra: dict[str, str] | None = None):
        self.name = name
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"mcp-{name}-"))
        self.env_file = self.dir / ".env"
        self.builder(["init"])
        settings = {"MCP_NAME": name, "MCP_BASE_IMAGE": BASE_IMAGE, "MCP_PORT": str(port), "MCP_CONTAINER_RUNTIME": "runc",
                    **(extra or {})}
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

    def build(self, wheelhouse: Path | None = None):
        return self.builder(["build", "--bridge-binary", str(RELEASE_BRIDGE), "--wheelhouse", str(wheelhouse or WHEELHOUSE)],
                            timeout=600)

    @property
    def container(self) -> str:
        return f"mcp-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exec(self, *command: str, user: str | None = None, check: bool = False, timeout: float = 60,
             input: str | None = None) -> subprocess.CompletedProcess:
        """`docker exec` (as root with the container's capabilities unless `user` is given)."""
        flags = ["--user", user] if user else []
        if input is not None:
            flags.append("--interactive")
        return docker("exec", *flags, self.container, *command, check=check, timeout=timeout, input=input)

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


OPENSSH_BASE_IMAGE = "mcp-sandbox-test/bookworm-python-nginx-openssh:1"


def ensure_openssh_image():
    """The test base plus this (bookworm) host's own OpenSSH client and server, with the libraries
    they link that the base lacks: a real `ssh` for the pinggy agent and a real `sshd` for the
    stand-in edge, without any registry."""
    ensure_base_image()
    if docker("image", "inspect", OPENSSH_BASE_IMAGE, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        root = Path(context)
        (root / "libs").mkdir()
        for binary in ("/usr/bin/ssh", "/usr/sbin/sshd", "/usr/bin/ssh-keygen"):
            shutil.copy2(binary, root / Path(binary).name)
            for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
                parts = line.split("=>")
                if len(parts) == 2 and parts[1].strip().startswith("/"):
                    library = parts[1].split()[0]
                    shutil.copy2(library, root / "libs" / Path(library).name)
        (root / "Dockerfile").write_text(
            f"FROM {BASE_IMAGE}\n"
            "COPY ssh ssh-keygen /usr/bin/\nCOPY sshd /usr/sbin/\nCOPY libs/ /opt/openssh-libs/\n"
            # Only what the base lacks: its own glibc and friends stay as they are.
            "RUN for f in /opt/openssh-libs/*; do [ -e /lib/x86_64-linux-gnu/${f##*/} ] || cp \"$f\" /lib/x86_64-linux-gnu/; done"
            " && rm -rf /opt/openssh-libs && mkdir -p /run/sshd && ssh -V\n")
        docker("build", "--tag", OPENSSH_BASE_IMAGE, context)


def docker_gateway() -> str:
    """The host's address on Docker's default bridge: reachable from every container we start."""
    out = docker("network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    return out or "172.17.0.1"
