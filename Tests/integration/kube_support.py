"""Runs a rendered Kubernetes pod in Docker, field by field, since no cluster runs here: a pause
container holds the pod's network namespace (as in a pod), each container joins it with the
flags its securityContext, resources, env, volumes and command ask for, and secret volumes are
files owned by root and the pod's fsGroup with the Secret's mode, as the kubelet writes them.
Fields this emulation does not know make it fail, so a new field is never silently ignored."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import yaml

from docker_support import BUILDER, docker, wait_for

KNOWN_POD_FIELDS = {"serviceAccountName", "automountServiceAccountToken", "enableServiceLinks", "runtimeClassName",
                    "securityContext", "terminationGracePeriodSeconds", "containers", "volumes"}
KNOWN_CONTAINER_FIELDS = {"name", "image", "imagePullPolicy", "command", "args", "env", "ports", "securityContext", "resources",
                          "startupProbe", "livenessProbe", "readinessProbe", "volumeMounts"}


def render(env_dir: Path, *args: str) -> list[dict]:
    """`builder print kubernetes` in `env_dir`, parsed."""
    result = subprocess.run([str(BUILDER), "print", "kubernetes", *args], cwd=env_dir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def find(documents: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [d for d in documents if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


class PodEmulation:
    def __init__(self, documents: list[dict], prefix: str, publish: tuple[int, int] | None):
        deployment = find(documents, "Deployment")
        self.pod = deployment["spec"]["template"]["spec"]
        unknown = set(self.pod) - KNOWN_POD_FIELDS
        assert not unknown, f"the emulation does not know pod fields {unknown}"
        self.secrets = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Secret"}
        self.prefix = prefix
        self.publish = publish
        self.folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-volumes-"))
        self.network = f"{prefix}-net"
        self.started: list[str] = []

    def name(self, container: str) -> str:
        return f"{self.prefix}-{container}"

    def start(self):
        docker("network", "create", "--label", "org.mcp-sandbox.test=kubernetes", self.network)
        pause = self.name("pause")
        image = self.pod["containers"][0]["image"]
        publish = ["--publish", f"127.0.0.1:{self.publish[0]}:{self.publish[1]}"] if self.publish else []
        docker("run", "--detach", "--name", pause, "--network", self.network, *publish, "--user", "65535:65535",
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only", "--no-healthcheck",
               "--entrypoint", "/bin/sleep", image, "infinity")
        self.started.append(pause)
        for container in self.pod["containers"]:
            self.run(container)

    def run(self, container: dict):
        unknown = set(container) - KNOWN_CONTAINER_FIELDS
        assert not unknown, f"the emulation does not know container fields {unknown}"
        pod_context = self.pod.get("securityContext", {})
        context = container.get("securityContext", {})
        uid, gid = context["runAsUser"], context["runAsGroup"]
        assert uid != 0 and context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
        argv = ["run", "--detach", "--name", self.name(container["name"]), "--network", f"container:{self.name('pause')}",
                "--user", f"{uid}:{gid}", "--no-healthcheck", "--restart", "no"]
        if "fsGroup" in pod_context:
            argv += ["--group-add", str(pod_context["fsGroup"])]
        capabilities = context.get("capabilities", {})
        if "ALL" in capabilities.get("drop", []):
            argv += ["--cap-drop", "ALL"]
        for capability in capabilities.get("add", []):
            argv += ["--cap-add", capability]
        if context.get("allowPrivilegeEscalation") is False:
            argv += ["--security-opt", "no-new-privileges"]
        if context.get("readOnlyRootFilesystem"):
            argv.append("--read-only")
        assert context.get("privileged") is False
        limits = container["resources"]["limits"]
        argv += ["--memory", limits["memory"].replace("Mi", "m").replace("Gi", "g").replace("Ki", "k"),
                 "--cpus", str(int(limits["cpu"].rstrip("m")) / 1000)]
        if self.pod.get("runtimeClassName"):
            argv += ["--runtime", "runsc"]
        for variable in container.get("env", []):
            argv += ["--env", f"{variable['name']}={variable['value']}"]
        volumes = {volume["name"]: volume for volume in self.pod["volumes"]}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if "emptyDir" in volume:
                argv += ["--volume", f"{self.empty_folder(volume, pod_context.get('fsGroup', 0))}:{mount['mountPath']}"]
            elif "secret" in volume:
                argv += ["--volume", f"{self.secret_folder(volume, pod_context.get('fsGroup', 0))}:{mount['mountPath']}:ro"]
            else:
                raise AssertionError(f"the emulation does not know volume {volume}")
        argv += ["--entrypoint", container["command"][0], container["image"], *container["command"][1:], *container.get("args", [])]
        docker(*argv)
        self.started.append(self.name(container["name"]))

    def empty_folder(self, volume: dict, fs_group: int) -> str:
        """An emptyDir as the kubelet makes it: mode 0777, group fsGroup with setgid. (Docker's
        tmpfs would take the mode of the image's folder beneath, which a pod's volume does not.)"""
        folder = self.folder / volume["name"]
        if not folder.exists():
            folder.mkdir()
            os.chown(folder, 0, fs_group)
            os.chmod(folder, 0o2777)
        return str(folder)

    def secret_folder(self, volume: dict, fs_group: int) -> str:
        secret = self.secrets[volume["secret"]["secretName"]]
        folder = self.folder / volume["name"]
        folder.mkdir(mode=0o755)
        for item in volume["secret"]["items"]:
            path = folder / item["path"]
            path.write_bytes(base64.b64decode(secret["data"][item["key"]]))
            os.chown(path, 0, fs_group)
            os.chmod(path, volume["secret"]["defaultMode"])
        return str(folder)

    def probe(self, container: dict, kind: str) -> bool:
        """One run of the container's probe, as the kubelet would run it."""
        probe = container[kind]
        if "exec" in probe:
            return docker("exec", self.name(container["name"]), *probe["exec"]["command"], check=False, timeout=30).returncode == 0
        get = probe["httpGet"]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        port = ports.get(get["port"], get["port"])
        address = docker("inspect", "--format", "{{(index .NetworkSettings.Networks \"" + self.network + "\").IPAddress}}",
                         self.name("pause")).stdout.strip()
        scheme = get.get("scheme", "HTTP").lower()
        # The kubelet does not verify a probe's certificate.
        try:
            return httpx.get(f"{scheme}://{address}:{port}{get['path']}", verify=False, timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_until_ready(self, timeout: float = 60) -> bool:
        return wait_for(lambda: all(self.probe(c, "readinessProbe") for c in self.pod["containers"]), timeout)

    def logs(self) -> str:
        return "\n".join(f"== {name}\n" + docker("logs", name, check=False).stderr[-3000:] for name in self.started)

    def remove(self):
        for name in reversed(self.started):
            docker("rm", "--force", name, check=False)
        docker("network", "rm", self.network, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
