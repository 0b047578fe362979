"""DNS-rebinding guards, the bearer token, OAuth discovery answers, and what never reaches the child."""

import subprocess

import httpx
import pytest

from conftest import ACCEPT_BOTH, BRIDGE, FIXTURE, initialize_body, open_session, raw_initialize, text_of, runs_once

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def secured(bridge_factory):
    return bridge_factory(env={"MCP_BRIDGE_TOKEN": TOKEN})


@runs_once
def test_foreign_origin_is_403_and_loopback_origin_is_allowed(bridge):
    evil = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Origin": "http://evil.example.com"})
    assert evil.status_code == 403
    local = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json", "Origin": f"http://127.0.0.1:{bridge.port}"})
    assert local.status_code == 200
    assert httpx.get(bridge.sse_url, headers={"Origin": "https://attacker.test"}).status_code == 403


@runs_once
def test_rebinding_host_header_is_403_on_a_loopback_bind(bridge):
    rebound = httpx.post(bridge.mcp_url, json=initialize_body(), headers={
        "Accept": ACCEPT_BOTH, "Host": "evil.example.com", "Origin": "http://evil.example.com"})
    assert rebound.status_code == 403
    alone = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Host": "evil.example.com"})
    assert alone.status_code == 403


@runs_once
def test_allowed_origins_flag_admits_a_named_origin(bridge_factory):
    bridge = bridge_factory(args=["--allowed-origins", "https://app.example.com", "--cors"])
    ok = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": "application/json", "Origin": "https://app.example.com"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "Mcp-Session-Id" in ok.headers["access-control-expose-headers"]
    preflight = httpx.options(bridge.mcp_url, headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "Mcp-Session-Id" in preflight.headers["access-control-allow-headers"]


@runs_once
def test_missing_or_wrong_token_is_401_with_bearer_challenge(secured):
    missing = httpx.post(secured.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="mcp"'
    wrong = httpx.post(secured.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    for path in ("/sse", "/message?sessionId=x", "/metrics"):
        assert httpx.get(secured.base + path).status_code == 401, path


@runs_once
def test_token_in_the_query_string_is_never_accepted(secured):
    reply = httpx.post(secured.mcp_url + "?access_token=" + TOKEN, json=initialize_body(), headers={"Accept": ACCEPT_BOTH})
    assert reply.status_code == 401
    assert httpx.get(secured.sse_url + "?token=" + TOKEN).status_code == 401


@runs_once
def test_health_and_oauth_discovery_answer_without_auth(secured):
    assert httpx.get(secured.base + "/healthz").status_code == 200
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
                 "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/authorize", "/token", "/register"):
        assert httpx.get(secured.base + path).status_code == 404, path


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_sdk_client_with_the_token_works_and_the_child_never_sees_it(secured, transport):
    url = secured.mcp_url if transport == "streamable" else secured.sse_url
    async with open_session(url, transport, headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        assert text_of(await session.call_tool("test_simple_text", {})) == "This is a simple text response for testing."
        assert text_of(await session.call_tool("get_env", {"name": "MCP_BRIDGE_TOKEN"})) == "<unset>"
    assert TOKEN not in secured.log


@runs_once
def test_a_token_file_with_several_tokens_accepts_each(bridge_factory, tmp_token_file):
    bridge = bridge_factory(args=["--token-file", tmp_token_file])
    for token in ("first-token-abc", "second-token-def"):
        raw_initialize(bridge.base, headers={"Authorization": f"Bearer {token}"})
    bad = httpx.post(bridge.mcp_url, json=initialize_body(), headers={"Accept": ACCEPT_BOTH, "Authorization": "Bearer first-token-ab"})
    assert bad.status_code == 401


@runs_once
def test_non_loopback_bind_without_token_refuses_to_start():
    result = subprocess.run([str(BRIDGE), "--host", "0.0.0.0", "--port", "0", "--", *FIXTURE],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "without a bearer token" in result.stderr


@runs_once
def test_env_and_clean_env_shape_the_child_environment(bridge_factory):
    bridge = bridge_factory(args=["--clean-env", "--pass-env", "MARKER_PASSED", "--env", "SET_BY_FLAG=yes"],
                            env={"MARKER_PASSED": "passed", "MARKER_DROPPED": "dropped"})
    session_id = raw_initialize(bridge.base)

    def env_of(name):
        reply = httpx.post(bridge.mcp_url, headers={"Accept": "application/json", "Mcp-Session-Id": session_id},
                           json={"jsonrpc": "2.0", "id": name, "method": "tools/call", "params": {"name": "get_env", "arguments": {"name": name}}})
        return reply.json()["result"]["content"][0]["text"]

    assert env_of("MARKER_PASSED") == "passed"
    assert env_of("MARKER_DROPPED") == "<unset>"
    assert env_of("SET_BY_FLAG") == "yes"
