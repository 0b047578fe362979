"""builder refuses what cannot work before it writes or starts anything, with a message that
names the option or the .env line (no Docker engine needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, require, runs_once
from docker_support import Deployment

pytestmark = runs_once
# A plain `swift build` bridge links the Swift runtime dynamically (scripts/test names the one its
# ThreadSanitizer build made; the black-box suite itself runs the release bridge, which is static).
DYNAMIC_BRIDGE = Path(os.environ.get("MCP_DYNAMIC_BRIDGE_BIN", ROOT / ".build" / "debug" / "mcp-bridge"))


def line_of(deployment: Deployment, variable: str) -> int:
    lines = deployment.env_file.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(f"{variable}="))


def test_build_secrets_need_buildkit_and_are_refused_before_anything_is_written():
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0:
        pytest.skip("this Docker has buildx: the refusal path cannot be exercised (CI's Debian docker.io has none)")
    made = Deployment("e2esecret", 18199, {"BUILD_SECRET_PIP_INDEX_URL": "https://user:hunter2@pypi.internal/simple"})
    result = made.builder(["build", "--bridge-binary", "/usr/bin/true"], check=False)
    assert result.returncode != 0
    where = f".env:{line_of(made, 'BUILD_SECRET_PIP_INDEX_URL')}"
    assert f"{where}: BUILD_SECRET_PIP_INDEX_URL needs BuildKit" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert not (made.dir / ".mcp-sandbox").exists(), "nothing may be written before the refusal"


def test_a_credential_in_a_build_argument_is_refused_with_its_line():
    made = Deployment("e2ebuildarg", 18198, {"BUILD_ARG_PIP_INDEX_URL": "https://user:hunter2@pypi.internal/simple"})
    result = made.builder(["print", "dockerfile"], check=False)
    assert result.returncode != 0
    assert f".env:{line_of(made, 'BUILD_ARG_PIP_INDEX_URL')}: BUILD_ARG_PIP_INDEX_URL:" in result.stderr
    assert "BUILD_SECRET_PIP_INDEX_URL" in result.stderr


def test_a_bridge_binary_that_needs_the_swift_runtime_is_refused():
    require(DYNAMIC_BRIDGE.is_file(), f"no dynamically linked bridge at {DYNAMIC_BRIDGE} (MCP_DYNAMIC_BRIDGE_BIN)")
    made = Deployment("e2edynamic", 18197)
    result = made.builder(["build", "--bridge-binary", str(DYNAMIC_BRIDGE)], check=False)
    assert result.returncode != 0
    assert "--bridge-binary:" in result.stderr and "needs the Swift runtime (libswift" in result.stderr
    assert "--static-swift-stdlib" in result.stderr
    assert not (made.dir / ".mcp-sandbox").exists()
    missing = made.builder(["build", "--bridge-binary", "/nonexistent/mcp-bridge"], check=False)
    assert "--bridge-binary: no readable file at /nonexistent/mcp-bridge" in missing.stderr
    assert "NSCocoaErrorDomain" not in missing.stderr
