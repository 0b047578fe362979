import Foundation
import Testing

@testable import SandboxBuilder

/// Every value error names its variable (and FILE:LINE when it came from the file), every path
/// given on the command line is checked before use, and a bridge that needs a Swift runtime the
/// image lacks is refused.
@Suite struct ValidationMessageTests {
    static func envFile(_ text: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mcp-validation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent(".env")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    static let validLines = """
        MCP_NAME=time
        MCP_SERVER_PACKAGE=mcp-server-time==2026.10.10
        MCP_AUTH_TOKEN=\(String(repeating: "a", count: 32))

        """

    @Test func problemsNameTheirFileAndLine() throws {
        let file = try Self.envFile(Self.validLines + "# a comment\nMCP_PORT=99999\n")
        do {
            _ = try Workspace(envFile: file.path, environment: [:])
            Issue.record("accepted MCP_PORT=99999")
        } catch {
            #expect("\(error)".contains("\(file.path):5: MCP_PORT:"))
        }
    }

    @Test func aMissingRequiredVariableNamesTheFileOnly() throws {
        let file = try Self.envFile("MCP_SERVER_PACKAGE=mcp-server-time==2026.10.10\n")
        do {
            _ = try Workspace(envFile: file.path, environment: [:])
            Issue.record("accepted a .env without MCP_NAME")
        } catch {
            #expect("\(error)".contains("  \(file.path): MCP_NAME: is required"))
        }
    }

    @Test func aBadPreviousTokenIsReportedAsItsOwnVariable() {
        var values = DeploymentSpecTests.valid
        values["MCP_AUTH_TOKENS_PREVIOUS"] = "ok-token-1234567890,bad token!"
        do {
            _ = try DeploymentSpec(environment: values)
            Issue.record("accepted a token with a space")
        } catch {
            #expect(error.problems.map(\.variable) == ["MCP_AUTH_TOKENS_PREVIOUS"])
        }
    }

    @Test func customOSPackagesMustBePinnedAndPlain() {
        var values = DeploymentSpecTests.valid
        values["MCP_SERVER_RUNTIME"] = "custom"
        values["MCP_SERVER_COMMAND"] = "my-server"
        for good in ["curl=7.88.1-10+deb12u8", "curl=8.9.1-r2 jq=1.7.1-r0", "libfoo1=1:2.3~rc1"] {
            values["MCP_SERVER_PACKAGE"] = good
            #expect((try? DeploymentSpec(environment: values)) != nil, "\(good)")
        }
        for bad in ["curl", "curl=1 *", "curl=1 $(id)", "curl=1;rm", "Curl=1"] {
            values["MCP_SERVER_PACKAGE"] = bad
            do {
                _ = try DeploymentSpec(environment: values)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.problems.map(\.variable) == ["MCP_SERVER_PACKAGE"])
            }
        }
    }

    @Test func relativeTLSPathsAreTakenFromTheEnvFolderAndMustExist() throws {
        let file = try Self.envFile(Self.validLines + "MCP_EXPOSE=nginx\nMCP_TLS_CERT_FILE=certs/cert.pem\nMCP_TLS_KEY_FILE=/nonexistent/key.pem\n")
        let workspace = try Workspace(envFile: file.path, environment: [:])
        let folder = file.deletingLastPathComponent().standardizedFileURL.path
        #expect(workspace.spec.tlsCertificateFile == folder + "/certs/cert.pem")
        #expect(throws: Workspace.LoadError.self) { try workspace.checkFiles() }
        do {
            try workspace.checkFiles()
        } catch {
            #expect("\(error)".contains("\(file.path):5: MCP_TLS_CERT_FILE: no readable file at \(folder)/certs/cert.pem"))
        }
    }

    @Test func aBridgeBinaryThatNeedsTheSwiftRuntimeIsRefused() throws {
        // This test runner links the Swift runtime dynamically, like a plain `swift build` bridge.
        let runner = try Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe"))
        #expect(ELFLinkage.swiftRuntimeLibraries(in: try ELFLinkage.neededLibraries(Array(runner))).contains { $0.hasPrefix("libswiftCore") })
        let plain = try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/true"))
        let needed = try ELFLinkage.neededLibraries(Array(plain))
        #expect(needed.contains("libc.so.6") && ELFLinkage.swiftRuntimeLibraries(in: needed).isEmpty)
        #expect(throws: ELFLinkage.Unreadable.self) { try ELFLinkage.neededLibraries(Array("#!/bin/sh\necho hi\n".utf8)) }
        #expect(throws: ELFLinkage.Unreadable.self) { try ELFLinkage.neededLibraries(Array(plain.prefix(200))) }

        let spec = try DeploymentSpec(environment: DeploymentSpecTests.valid)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mcp-context-\(UUID().uuidString)")
        func message(bridge: String?, wheelhouse: String? = nil) -> String {
            let context = BuildContext(directory: directory, spec: spec, sourceRoot: nil,
                                       bridgeBinary: bridge.map { URL(fileURLWithPath: $0) }, wheelhouse: wheelhouse.map { URL(fileURLWithPath: $0) })
            do {
                try context.checkInputs()
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(message(bridge: "/proc/self/exe").contains("needs the Swift runtime (libswift"))
        #expect(message(bridge: "/nonexistent/mcp-bridge") == "--bridge-binary: no readable file at /nonexistent/mcp-bridge; build one with scripts/build-release")
        #expect(message(bridge: "/usr/bin/true", wheelhouse: "/nonexistent/wheels") == "--wheelhouse: no folder at /nonexistent/wheels")
        #expect(message(bridge: "/usr/bin/true") == "")
        #expect(!FileManager.default.fileExists(atPath: directory.path), "nothing is written by the checks")
    }
}
