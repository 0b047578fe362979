import Testing

@testable import SandboxBuilder

@Suite struct DockerCommandsTests {
    private func commands(_ extra: [String: String] = [:]) throws -> DockerCommands {
        DockerCommands(spec: try DeploymentSpec(environment: DeploymentSpecTests.valid.merging(extra) { $1 }))
    }

    private func value(after flag: String, in argv: [String]) -> [String] {
        argv.indices.filter { argv[$0] == flag && $0 + 1 < argv.count }.map { argv[$0 + 1] }
    }

    @Test func runCarriesEveryHardeningFlag() throws {
        let argv = try commands().run(useGVisor: false)
        #expect(value(after: "--cap-drop", in: argv) == ["ALL"])
        // Only what the bridge needs to start the server as another user and signal it.
        #expect(value(after: "--cap-add", in: argv) == ["SETUID", "SETGID", "KILL"])
        #expect(value(after: "--security-opt", in: argv) == ["no-new-privileges"])
        #expect(argv.contains("--read-only"))
        #expect(value(after: "--tmpfs", in: argv).allSatisfy { $0.contains("noexec") && $0.contains("nosuid") })
        // Root at start only; the image's MCP_BRIDGE_USER / MCP_BRIDGE_CHILD_USER split it in two.
        #expect(value(after: "--user", in: argv) == ["0:0"])
        #expect(value(after: "--tmpfs", in: argv) == ["/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777",
                                                      "/run/mcp-sandbox:rw,noexec,nosuid,nodev,size=16m,uid=10001,gid=10001,mode=0700"])
        #expect(value(after: "--pids-limit", in: argv) == ["128"])
        #expect(value(after: "--memory", in: argv) == value(after: "--memory-swap", in: argv))
        #expect(value(after: "--cpus", in: argv) == ["1.0"])
        #expect(value(after: "--network", in: argv) == ["mcp-time-net"])
        #expect(value(after: "--publish", in: argv) == ["127.0.0.1:8000:8000"])
        #expect(value(after: "--restart", in: argv) == ["unless-stopped"])
        #expect(value(after: "--log-opt", in: argv) == ["max-size=10m", "max-file=3"])
        #expect(value(after: "--label", in: argv).contains("org.mcp-sandbox.deployment=time"))
        #expect(!argv.contains("unconfined") && !argv.contains("--privileged"))
        #expect(!argv.contains("--runtime"))
        #expect(try commands().run(useGVisor: true).contains("runsc"))
    }

    @Test func secretsTravelInTheSecretsVolumeOnly() throws {
        let commands = try commands()
        let argv = commands.run(useGVisor: false) + commands.build(contextDirectory: "/ctx") + commands.writeSecrets
        #expect(value(after: "--env", in: argv).sorted() == ["MCP_BRIDGE_PASS_ENV=API_KEY", "MCP_BRIDGE_SECRETS_FILE=/var/lib/mcp-sandbox/secrets/env"])
        for secret in commands.secretEnvironment.values {
            #expect(!argv.contains { $0.contains(secret) })
        }
        #expect(commands.secretEnvironment["MCP_BRIDGE_TOKEN"] == String(repeating: "a", count: 32))
        #expect(value(after: "--volume", in: commands.run(useGVisor: false)).contains("mcp-time-secrets:/var/lib/mcp-sandbox/secrets:ro"))
        // NUL-separated, so a multi-line value arrives whole.
        let file = String(decoding: commands.secretsFile, as: UTF8.self)
        #expect(file == "API_KEY=multi\nline \"secret\"\0MCP_BRIDGE_TOKEN=\(String(repeating: "a", count: 32))\0")
    }

    @Test func theSecretsWriterIsLockedDownAndLeavesARootOnlyFile() throws {
        let argv = try commands().writeSecrets
        #expect(value(after: "--cap-drop", in: argv) == ["ALL"] && value(after: "--cap-add", in: argv).isEmpty)
        #expect(value(after: "--network", in: argv) == ["none"] && argv.contains("--rm") && argv.contains("--read-only"))
        #expect(value(after: "--volume", in: argv) == ["mcp-time-secrets:/secrets"])
        #expect(argv.last?.contains("chmod 0400 /secrets/env.new") == true && argv.last?.contains("chmod 0700 /secrets") == true)
    }

    @Test func theServerIsPassedExactlyItsOwnVariables() throws {
        let commands = try commands(["SERVER_ENV_B_KEY": "b", "SERVER_ENV_A_KEY": "a", "MCP_EXPOSE": "ngrok", "MCP_NGROK_AUTHTOKEN": "n" + String(repeating: "x", count: 20)])
        let argv = commands.run(useGVisor: false)
        #expect(value(after: "--env", in: argv).filter { $0.hasPrefix("MCP_BRIDGE_PASS_ENV=") } == ["MCP_BRIDGE_PASS_ENV=API_KEY,A_KEY,B_KEY"])
        #expect(commands.secretEnvironment["NGROK_AUTHTOKEN"] != nil)
    }

    @Test func ingressRunsAsTheFrontUserWithNoCapability() throws {
        let argv = try #require(try commands(["MCP_NETWORK": "none"]).runIngress(useGVisor: false))
        #expect(value(after: "--user", in: argv) == ["10001:10001"])
        #expect(value(after: "--cap-add", in: argv).isEmpty)
    }

    @Test func serverCommandFollowsTheImage() throws {
        let argv = try commands(["MCP_SERVER_COMMAND": "mcp-server-time --local-timezone 'Europe/Paris'"]).run(useGVisor: false)
        #expect(Array(argv.suffix(4)) == ["mcp-sandbox/time:latest", "mcp-server-time", "--local-timezone", "Europe/Paris"])
    }

    @Test func networkIsPerDeploymentWithInterContainerTrafficOff() throws {
        let create = try commands().createNetwork
        #expect(value(after: "--opt", in: create) == ["com.docker.network.bridge.enable_icc=false"])
        #expect(create.last == "mcp-time-net")
        #expect(try commands().createInternalNetwork == nil)
        #expect(try commands().runIngress(useGVisor: false) == nil)
    }

    @Test func withoutEgressTheServerHasNoRouteAndAnIngressPublishes() throws {
        for network in ["none", "internal"] {
            for exposure in ["local", "nginx"] {
                let commands = try commands(["MCP_NETWORK": network, "MCP_EXPOSE": exposure])
                let port = exposure == "nginx" ? 8443 : 8000
                let server = commands.run(useGVisor: false)
                #expect(value(after: "--network", in: server) == [network == "none" ? "none" : "mcp-time-internal"])
                #expect(value(after: "--publish", in: server).isEmpty)
                #expect(value(after: "--env", in: server).contains("MCP_BRIDGE_RELAY=unix:/var/lib/mcp-sandbox/ingress/front.sock,127.0.0.1:\(port)"))
                #expect(value(after: "--volume", in: server).contains("mcp-time-socket:/var/lib/mcp-sandbox/ingress"))

                let ingress = try #require(commands.runIngress(useGVisor: false))
                #expect(value(after: "--network", in: ingress) == ["mcp-time-net"])
                #expect(value(after: "--publish", in: ingress) == ["127.0.0.1:8000:\(port)"])
                #expect(value(after: "--volume", in: ingress) == ["mcp-time-socket:/var/lib/mcp-sandbox/ingress:ro"])
                #expect(value(after: "--cap-drop", in: ingress) == ["ALL"] && ingress.contains("--read-only"))
                #expect(value(after: "--user", in: ingress) == ["10001:10001"])
                #expect(value(after: "--relay", in: ingress) == ["0.0.0.0:\(port),unix:/var/lib/mcp-sandbox/ingress/front.sock"])
                // The ingress carries no secret at all, not even by name.
                #expect(value(after: "--env", in: ingress).isEmpty)
                #expect(commands.createIngressVolume?.last == "mcp-time-socket")
            }
        }
        let createInternal = try #require(try commands(["MCP_NETWORK": "internal"]).createInternalNetwork)
        #expect(createInternal.contains("--internal") && createInternal.last == "mcp-time-internal")
        #expect(value(after: "--opt", in: createInternal).contains("com.docker.network.bridge.inhibit_ipv4=true"))
        #expect(try commands(["MCP_NETWORK": "none"]).createInternalNetwork == nil)
    }

    @Test func tunnelsNeedEgress() throws {
        for network in ["none", "internal"] {
            #expect(throws: DeploymentSpec.ProblemList.self) {
                try commands(["MCP_NETWORK": network, "MCP_EXPOSE": "pinggy"])
            }
        }
    }

    @Test func buildPassesOnlyNonSecretArguments() throws {
        let argv = try commands().build(contextDirectory: "/ctx")
        #expect(value(after: "--build-arg", in: argv) == [
            "BASE_IMAGE=python:3.12-slim-bookworm", "MCP_SERVER_PACKAGE=mcp-server-time==2026.10.10",
            "PIP_INDEX_URL=https://mirror.example/simple",
        ])
    }

    @Test func publishingBeyondLoopbackIsExplicit() throws {
        let argv = try commands(["MCP_PUBLISH_ADDRESS": "0.0.0.0", "MCP_PORT": "9000"]).run(useGVisor: false)
        #expect(value(after: "--publish", in: argv) == ["0.0.0.0:9000:8000"])
    }
}
