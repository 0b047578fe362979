/// Tunnel agents for `MCP_EXPOSE=pinggy` and `MCP_EXPOSE=ngrok`, started by mcp-bridge as its
/// supervised sidecar. Secrets come on standard input and go into a config file on the front's
/// tmpfs, never into argv or an environment (container processes are visible in the host's /proc).
public enum TunnelFront {
    /// pinggy over plain OpenSSH: the bearer keys (`k:`) make pinggy's edge demand
    /// `Authorization: Bearer <token>`, and the bridge checks the same token again.
    public static var pinggyScript: String {
        """
        #!/bin/sh
        # Opens a pinggy tunnel to the bridge (MCP_EXPOSE=pinggy). Supervised by mcp-bridge: if the
        # tunnel drops for good, the bridge exits and the container's restart policy reconnects.
        set -eu
        dir=${MCP_SANDBOX_TUNNEL_DIR:-/run/mcp-sandbox/tunnel}
        umask 077
        mkdir -p "$dir"
        \(AcceptedTokens.secretsFromStandardInput(["MCP_BRIDGE_TOKEN", "MCP_BRIDGE_TOKENS", "PINGGY_TOKEN"], alsoSettings: ["PINGGY_HOST_KEY"]))
        host=${PINGGY_HOST:-a.pinggy.io}
        port=${PINGGY_PORT:-443}
        target=${MCP_SANDBOX_TUNNEL_TARGET:-127.0.0.1:8000}
        keys=""
        \(AcceptedTokens.shellLoop(#"keys="$keys k:$token""#))
        [ -n "$keys" ] || { echo "mcp-sandbox: MCP_BRIDGE_TOKEN is empty; refusing to open a public tunnel" >&2; exit 1; }
        # A pinggy access token is the login name (+force replaces a stale tunnel) and gives a
        # persistent address; without one any name will do, so ssh uses its own.
        user=""
        [ -z "${PINGGY_TOKEN:-}" ] || user="User ${PINGGY_TOKEN}+force"
        # A pinned host key (PINGGY_HOST_KEY, "TYPE BASE64") is the only one accepted; without it
        # the first key seen is trusted for this container's life.
        checking=accept-new
        : > "$dir/known_hosts"
        if [ -n "${PINGGY_HOST_KEY:-}" ]; then
            if [ "$port" = 22 ]; then name=$host; else name="[$host]:$port"; fi
            printf '%s %s\\n' "$name" "$PINGGY_HOST_KEY" > "$dir/known_hosts"
            checking=yes
        fi
        cat > "$dir/ssh_config" <<CONFIG
        Host pinggy
            HostName $host
            Port $port
            $user
            RemoteForward 0 $target
            RemoteCommand$keys x:https
            RequestTTY force
            StrictHostKeyChecking $checking
            UserKnownHostsFile $dir/known_hosts
            ServerAliveInterval 30
            ServerAliveCountMax 3
            ExitOnForwardFailure yes
        CONFIG
        # ssh runs as a child (not exec) so its failure can be explained; SIGTERM reaches it.
        ssh -F "$dir/ssh_config" pinggy &
        agent=$!
        trap 'kill "$agent" 2>/dev/null' TERM INT
        status=0
        wait "$agent" || status=$?
        if [ "$status" -eq 255 ]; then
            echo "mcp-sandbox: the ssh connection to $host:$port failed (unreachable, refused, or a host key that does not match MCP_PINGGY_HOST_KEY); the container restarts and tries again" >&2
        fi
        exit "$status"

        """
    }

    /// The ngrok agent (v3 config) with a traffic policy that answers 401 unless the request
    /// carries one of the bearer tokens; the bridge checks the token again behind it.
    public static var ngrokScript: String {
        """
        #!/bin/sh
        # Starts the ngrok agent for the bridge (MCP_EXPOSE=ngrok). Supervised by mcp-bridge.
        set -eu
        dir=${MCP_SANDBOX_TUNNEL_DIR:-/run/mcp-sandbox/tunnel}
        umask 077
        mkdir -p "$dir"
        \(AcceptedTokens.secretsFromStandardInput(["MCP_BRIDGE_TOKEN", "MCP_BRIDGE_TOKENS", "NGROK_AUTHTOKEN"]))
        : "${NGROK_AUTHTOKEN:?mcp-sandbox: NGROK_AUTHTOKEN is required (MCP_NGROK_AUTHTOKEN in .env)}"
        checks=""
        \(AcceptedTokens.shellLoop(#"checks="$checks${checks:+ || }v == 'Bearer $token'""#))
        [ -n "$checks" ] || { echo "mcp-sandbox: MCP_BRIDGE_TOKEN is empty; refusing to open a public tunnel" >&2; exit 1; }
        {
            echo "version: 3"
            echo "agent:"
            echo "  authtoken: $NGROK_AUTHTOKEN"
            echo "  log: stdout"
            echo "endpoints:"
            echo "  - name: mcp"
            [ -n "${NGROK_URL:-}" ] && echo "    url: $NGROK_URL"
            echo "    upstream:"
            echo "      url: 127.0.0.1:8000"
            echo "    traffic_policy:"
            echo "      on_http_request:"
            echo "        - expressions:"
            echo "            - \\"!('authorization' in req.headers) || !req.headers['authorization'].exists(v, $checks)\\""
            echo "          actions:"
            echo "            - type: custom-response"
            echo "              config:"
            echo "                status_code: 401"
            echo "                headers:"
            echo "                  content-type: application/json"
            echo "                  www-authenticate: 'Bearer realm=\\"mcp\\"'"
            echo "                body: '{\\"jsonrpc\\":\\"2.0\\",\\"id\\":null,\\"error\\":{\\"code\\":-32000,\\"message\\":\\"Unauthorized\\"}}'"
        } > "$dir/ngrok.yml"
        exec ngrok start --all --config "$dir/ngrok.yml"

        """
    }
}
