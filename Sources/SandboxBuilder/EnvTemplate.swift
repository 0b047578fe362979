import Foundation
import MCPBridge

/// The documented `.env` that `builder init` writes (also committed as `.env.example`).
public enum EnvTemplate {
    public static let text = """
        # mcp-sandbox deployment settings, read by `builder` (and by mcp-bridge for MCP_BRIDGE_*).
        # `builder init` copies this file to .env with a fresh MCP_AUTH_TOKEN. Never commit .env.
        # Syntax: KEY=value, optional `export`, 'literal', "escapes\\n and ${EXPANSION}", # comments.

        # Deployment name: containers, networks and images are named after it.
        MCP_NAME=time

        # node | python | custom
        MCP_SERVER_RUNTIME=python
        # A pinned package: PyPI `name==version`, npm `name@version`, or for custom: OS packages.
        MCP_SERVER_PACKAGE=mcp-server-time==2026.10.10
        # The server's command and arguments inside the container (split like a shell, no shell runs).
        # Defaults to the PyPI package name for python.
        MCP_SERVER_COMMAND=mcp-server-time --local-timezone UTC

        # slim (Debian) | alpine
        MCP_BASE=slim
        # Override the upstream base image (e.g. a mirror, or a digest-pinned tag).
        # MCP_BASE_IMAGE=python:3.12-slim-bookworm

        # local (published bridge port) | nginx (TLS + token gate) | ngrok | pinggy
        MCP_EXPOSE=local
        # Bearer token clients must send. Generate with: openssl rand -hex 32
        MCP_AUTH_TOKEN=
        # Rotation without downtime: tokens still accepted while clients move to the new one.
        # MCP_AUTH_TOKENS_PREVIOUS=oldtoken1,oldtoken2
        # nginx only: your own certificate and key instead of the generated self-signed pair.
        # MCP_TLS_CERT_FILE=/path/to/cert.pem
        # MCP_TLS_KEY_FILE=/path/to/key.pem
        # Host port; published on 127.0.0.1 only unless MCP_PUBLISH_ADDRESS says otherwise.
        MCP_PORT=8000
        # MCP_PUBLISH_ADDRESS=127.0.0.1

        # pinggy: an access token for a persistent address (optional), and the server to use.
        # MCP_PINGGY_TOKEN=
        # MCP_PINGGY_HOST=a.pinggy.io
        # MCP_PINGGY_PORT=443
        # Pin pinggy's host key (ssh-keyscan -p 443 a.pinggy.io; check it out of band):
        # MCP_PINGGY_HOST_KEY=ssh-ed25519 AAAA...
        # ngrok: the agent authtoken (required) and a reserved domain (optional); build arguments
        # BUILD_ARG_NGROK_AGENT_URL and BUILD_ARG_NGROK_AGENT_SHA256 name the agent download.
        # MCP_NGROK_AUTHTOKEN=
        # MCP_NGROK_URL=https://example.ngrok.app

        # Limits for the container.
        MCP_MEMORY=512m
        MCP_CPUS=1.0
        MCP_PIDS=128
        # isolated: own network, containers cannot reach each other, the server may reach out.
        # none / internal: the server gets no network / a network with no route out; a small
        # ingress container publishes MCP_PORT and relays to it (local and nginx exposure only).
        MCP_NETWORK=isolated
        # auto (gVisor runsc when docker has it) | runsc | runc
        MCP_CONTAINER_RUNTIME=auto

        # Secrets for the MCP server: SERVER_ENV_<NAME>=value reaches the server as <NAME>,
        # at run time only (never in the image, never on a command line).
        # SERVER_ENV_GITHUB_TOKEN=

        # Build arguments: BUILD_ARG_<NAME>=value is public (docker history, the build's command
        # line); builder refuses names and URLs that look like credentials.
        # BUILD_ARG_NGROK_AGENT_URL=https://example.com/ngrok-agent.tgz
        # Build secrets: BUILD_SECRET_<NAME>=value reaches only the step that installs the server,
        # through a BuildKit secret mount (needs the docker buildx plugin): package index URLs
        # usually carry credentials, so they belong here.
        # BUILD_SECRET_PIP_INDEX_URL=https://user:password@pypi.example.com/simple

        # mcp-bridge itself (when run outside builder) reads MCP_BRIDGE_TOKEN, and MCP_BRIDGE_INIT=0
        # stops it from acting as init when it is PID 1.

        """

    /// The template with a freshly generated token.
    /// Every `MCP_` setting the template documents: builder reads no other, so any other `MCP_`
    /// name in a .env is a typo or a setting of another tool.
    public static let documentedSettings: Set<String> = {
        var names: Set<String> = []
        var current = ""
        for character in text + " " {
            if character.isUppercase || character.isNumber || character == "_" {
                current.append(character)
            } else {
                if current.hasPrefix("MCP_"), current.count > 4 { names.insert(current) }
                current = ""
            }
        }
        return names
    }()

    public static func withToken(_ token: String) -> String {
        text.replacingOccurrences(of: "\nMCP_AUTH_TOKEN=\n", with: "\nMCP_AUTH_TOKEN=\(token)\n")
    }

    /// 32 random bytes as hex.
    public static func generateToken() -> String { SecureRandom.hex(byteCount: 32) }
}
