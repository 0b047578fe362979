"""The rendered Kubernetes manifests, checked with the validators an operator would run, since no
cluster runs here: kubernetes-validate (strict, against Kubernetes 1.37's schemas) and checkov
(every Kubernetes check) over all 24 committed variants in `kubernetes/` (which the Swift test
KubernetesGoldenTests proves are the renderer's output), a kustomize base written by the CLI and a
deployment with the user's own certificate. Each validator is also shown a broken copy and must
refuse it, so a validator that checks nothing cannot pass this test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from conftest import ROOT, require, runs_once
from docker_support import BUILDER

pytestmark = runs_once

GOLDEN = ROOT / "kubernetes"
KUBERNETES_VERSION = "1.37.0"
VENV = ROOT / ".venv-test" / "kubernetes" / "bin"
GOLDEN_ENV = """MCP_NAME=time
MCP_SERVER_RUNTIME=python
MCP_SERVER_PACKAGE=mcp-server-time==2026.10.10
MCP_SERVER_COMMAND=mcp-server-time --local-timezone UTC
MCP_AUTH_TOKEN=golden-token-not-a-secret-0123456789
SERVER_ENV_GREETING=hello
MCP_EXPOSE=nginx
MCP_NETWORK=isolated
MCP_CONTAINER_RUNTIME=runsc
"""
GOLDEN_ARGS = ["--create-namespace", "--image", "registry.example.com/mcp-sandbox/time@sha256:" + "0123456789abcdef" * 4,
               "--ingress-host", "mcp.example.com"]


def tool(variable: str, name: str) -> str:
    path = os.environ.get(variable, str(VENV / name))
    require(Path(path).exists(), f"{name} is missing: scripts/test makes the .venv-test/kubernetes venv")
    return path


def kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("MCP_KUBERNETES_VALIDATE", "kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION,
                           *map(str, paths)], capture_output=True, text=True, timeout=300)


def checkov(directory: Path) -> dict:
    result = subprocess.run([tool("MCP_CHECKOV", "checkov"), "--directory", str(directory), "--framework", "kubernetes", "--skip-download",
                             "--quiet", "--compact", "--output", "json"], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false"))
    report = json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else None
    assert report is not None, result.stdout[-3000:] + result.stderr[-3000:]
    reports = report if isinstance(report, list) else [report]
    if len(reports) == 1 and "summary" in reports[0] and reports[0].get("check_type") is None and reports[0]["summary"].get("passed") == 0:
        raise AssertionError(f"checkov checked nothing: {result.stderr[-2000:]}")
    merged = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0, "failures": []}
    for part in reports:
        for key in ("passed", "failed", "skipped", "parsing_errors", "resource_count"):
            merged[key] += part["summary"][key]
        merged["failures"] += [f"{c['check_id']} {c['resource']} {c['file_path']}" for c in part.get("results", {}).get("failed_checks", [])]
    return merged


def render(directory: Path, env: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".env").write_text(env)
    result = subprocess.run([str(BUILDER), "print", "kubernetes", *args], cwd=directory, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def golden_files() -> list[Path]:
    files = sorted(GOLDEN.glob("*.yaml"))
    assert len(files) == 24
    return files


def test_every_variant_passes_strict_schema_validation():
    result = kubernetes_validate(*golden_files())
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.findall(r"passed for resource (\S+) against version", result.stdout)
    objects = sum(1 for path in golden_files() for document in yaml.safe_load_all(path.read_text()) if document)
    assert len(passed) == objects >= 24 * 8, result.stdout[-2000:]


def test_strict_validation_refuses_a_field_kubernetes_does_not_have(tmp_path):
    documents = [d for d in yaml.safe_load_all((GOLDEN / "runsc-nginx-isolated.yaml").read_text()) if d]
    for document in documents:
        if document["kind"] == "Deployment":
            document["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump_all(documents))
    result = kubernetes_validate(broken)
    assert result.returncode != 0 and "runAsNonroot" in result.stdout + result.stderr


def test_checkov_fails_no_check_on_any_variant(tmp_path):
    for path in golden_files():
        shutil.copy(path, tmp_path / path.name)
    report = checkov(tmp_path)
    assert report["failed"] == 0, "\n".join(report["failures"])
    assert report["parsing_errors"] == 0 and report["skipped"] == 0
    assert report["resource_count"] >= 24 * 8 and report["passed"] >= 2000, report


def test_checkov_refuses_a_pod_without_the_hardening(tmp_path):
    documents = [d for d in yaml.safe_load_all((GOLDEN / "runc-local-isolated.yaml").read_text()) if d]
    for document in documents:
        if document["kind"] == "Deployment":
            pod = document["spec"]["template"]["spec"]
            pod["automountServiceAccountToken"] = True
            pod["securityContext"] = {}
            for container in pod["containers"]:
                container["securityContext"] = {"runAsUser": 0, "privileged": True, "allowPrivilegeEscalation": True}
                del container["resources"]
    (tmp_path / "weakened.yaml").write_text(yaml.safe_dump_all(documents))
    failed = {failure.split()[0] for failure in checkov(tmp_path)["failures"]}
    # Privileged, root, escalation, no limits, a mounted service account token.
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_23", "CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_38"} <= failed, failed


def test_the_cli_prints_what_the_golden_file_holds(tmp_path):
    printed = render(tmp_path, GOLDEN_ENV, *GOLDEN_ARGS)
    committed = (GOLDEN / "runsc-nginx-isolated.yaml").read_text()
    assert printed.stdout == committed.split("\n", 1)[1]
    # Notes for the operator go to stderr, never into the manifests.
    assert "RuntimeClass gvisor" in printed.stderr and "mcp-sandbox.org/front=true" in printed.stderr


def test_a_kustomize_base_with_the_users_certificate_validates_and_is_written_whole(tmp_path):
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=mcp.example.com", "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    env = GOLDEN_ENV + f"MCP_TLS_CERT_FILE={certificate}\nMCP_TLS_KEY_FILE={key}\n"
    base = tmp_path / "base"
    result = render(tmp_path, env, *GOLDEN_ARGS, "--kustomize", str(base))
    assert result.stdout == "" and f"kubectl apply -k {base}" in result.stderr
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in base.iterdir() if p.name != "kustomization.yaml")
    assert "secret-tls.yaml" in kustomization["resources"]
    assert oct(base.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in base.iterdir())
    validated = kubernetes_validate(*sorted(base.glob("*.yaml")))
    # kustomization.yaml is kustomize's own file, not a Kubernetes object.
    assert "passed for resource secret/mcp-time-tls" in validated.stdout, validated.stdout[-3000:]
    assert all("passed" in line or "kustomization.yaml" in line for line in validated.stdout.splitlines() if line.strip())
    (base / "kustomization.yaml").unlink()
    report = checkov(base)
    assert report["failed"] == 0 and report["resource_count"] >= 10, report
    # A second run does not overwrite without --force, and leaves the base as it was.
    (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    before = {p.name: p.read_bytes() for p in base.iterdir()}
    again = render(tmp_path, env, *GOLDEN_ARGS, "--kustomize", str(base), check=False)
    assert again.returncode != 0 and "--force" in again.stderr
    assert {p.name: p.read_bytes() for p in base.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".base")) == []


def test_refusals_name_the_flag_or_setting_and_print_nothing(tmp_path):
    local = GOLDEN_ENV.replace("MCP_EXPOSE=nginx", "MCP_EXPOSE=local")
    refused = render(tmp_path / "a", local, "--ingress-host", "mcp.example.com", check=False)
    assert refused.returncode != 0 and refused.stdout == "" and "--ingress-host" in refused.stderr and "MCP_EXPOSE=nginx" in refused.stderr
    underscore = render(tmp_path / "b", GOLDEN_ENV.replace("MCP_NAME=time", "MCP_NAME=my_time"), check=False)
    assert underscore.returncode != 0 and underscore.stdout == "" and "MCP_NAME" in underscore.stderr
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".env").write_text(GOLDEN_ENV)
    elsewhere = subprocess.run([str(BUILDER), "print", "dockerfile", "--namespace", "team"], cwd=tmp_path / "d", capture_output=True, text=True)
    assert elsewhere.returncode != 0 and elsewhere.stdout == "" and "--namespace applies to builder print kubernetes only" in elsewhere.stderr
    missing = render(tmp_path / "c", GOLDEN_ENV + "MCP_TLS_CERT_FILE=/nonexistent/cert.pem\nMCP_TLS_KEY_FILE=/nonexistent/key.pem\n", check=False)
    assert missing.returncode != 0 and missing.stdout == "" and "MCP_TLS_CERT_FILE" in missing.stderr
