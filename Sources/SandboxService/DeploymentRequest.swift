import Foundation
import SandboxBuilder

/// A create request checked against the contract and turned into the same `DeploymentSpec` a
/// `.env` gives (same validation, same hardened run), with what the service decides itself:
/// the name of its docker objects, the token, the exposure (the bridge alone, behind the front
/// door) and a port docker picks on 127.0.0.1.
struct DeploymentRequest: Sendable {
    var name: String
    var source: DeploymentRecord.Source
    var spec: DeploymentSpec
    var timers: DeploymentTimers

    /// Settings the service sets itself; a request naming one is refused.
    static let serviceSettings: Set<String> = [
        "MCP_NAME", "MCP_AUTH_TOKEN", "MCP_AUTH_TOKENS_PREVIOUS", "MCP_EXPOSE", "MCP_PORT", "MCP_PUBLISH_ADDRESS",
        "MCP_TLS_CERT_FILE", "MCP_TLS_KEY_FILE",
    ]
    static let tunnelPrefixes = ["MCP_NGROK_", "MCP_PINGGY_"]
    static let maximumEntries = 64
    static let maximumValueLength = 4096

    static func nameProblem(_ name: String) -> Problem.FieldError? {
        let valid = (1...30).contains(name.count) && name.utf8.enumerated().allSatisfy { index, byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || (index > 0 && byte == UInt8(ascii: "-"))
        }
        return valid ? nil : .init(field: "name", detail: "use 1-30 lowercase letters, digits or '-', starting with a letter or digit; got '\(name.prefix(64))'")
    }

    private static func isVariableName(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return key.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    private static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }

    /// The request's own problems (the contract's limits and the service's rules), before the
    /// settings are read as a `.env`.
    static func problems(name: String, settings: [String: String]?, image: String?, command: [String]?,
                         environment: [String: String]?, memory: String?, cpus: String?, timers: DeploymentTimers) -> [Problem.FieldError] {
        var problems: [Problem.FieldError] = []
        if let problem = nameProblem(name) { problems.append(problem) }
        switch (settings, image) {
        case (nil, nil):
            problems.append(.init(field: "settings", detail: "give either settings (what a .env holds) or image with command"))
        case (.some, .some):
            problems.append(.init(field: "image", detail: "give either settings or image, not both"))
        default:
            break
        }
        if image == nil, command != nil {
            problems.append(.init(field: "command", detail: "command goes with image; with settings use MCP_SERVER_COMMAND"))
        }
        if let image, image.isEmpty || image.count > 255 || image.contains(where: { $0.isWhitespace || $0.isNewline }) || image.hasPrefix("-") {
            problems.append(.init(field: "image", detail: "give an image reference such as ghcr.io/owner/server:1.2 (1-255 characters, no spaces)"))
        }
        if image != nil {
            if let command {
                if command.isEmpty || command.count > maximumEntries || command.contains(where: { $0.count > maximumValueLength }) {
                    problems.append(.init(field: "command", detail: "give 1-\(maximumEntries) arguments of at most \(maximumValueLength) characters"))
                } else if command[0].isEmpty {
                    problems.append(.init(field: "command", detail: "the first argument is the server's executable and cannot be empty"))
                }
            } else {
                problems.append(.init(field: "command", detail: "is required with image: the MCP server's command and arguments inside the image"))
            }
        }
        for (field, map) in [("settings", settings), ("environment", environment)] {
            guard let map else { continue }
            if map.count > maximumEntries {
                problems.append(.init(field: field, detail: "at most \(maximumEntries) entries"))
            }
            for (key, value) in map.sorted(by: { $0.key < $1.key }) {
                if !isVariableName(key) {
                    problems.append(.init(field: "\(field).\(key.prefix(64))", detail: "not a valid variable name (letters, digits and _, not starting with a digit)"))
                } else if value.count > maximumValueLength || value.contains("\0") {
                    problems.append(.init(field: "\(field).\(key)", detail: "values hold at most \(maximumValueLength) characters and no NUL"))
                }
            }
        }
        for key in (settings ?? [:]).keys.sorted() {
            if serviceSettings.contains(key) || tunnelPrefixes.contains(where: key.hasPrefix) {
                problems.append(.init(field: "settings.\(key)", detail: "is set by the service (each deployment gets its own token, the front door and a loopback port); remove it"))
            } else if key.hasPrefix("BUILD_SECRET_") {
                problems.append(.init(field: "settings.\(key)", detail: "build secrets are not taken by the service; build the image with `builder build` and create the deployment from that image"))
            } else if key == "MCP_MEMORY" && memory != nil || key == "MCP_CPUS" && cpus != nil {
                problems.append(.init(field: "settings.\(key)", detail: "given twice (also as \(key == "MCP_MEMORY" ? "memory" : "cpus")); keep one"))
            }
        }
        if let memory, !matches(memory, "^[0-9]{1,12}[kmgKMG]?$") {
            problems.append(.init(field: "memory", detail: "use a docker memory size such as 512m or 1g; got '\(memory.prefix(64))'"))
        }
        if let cpus, !matches(cpus, #"^[0-9]{1,6}(\.[0-9]{1,6})?$"#) {
            problems.append(.init(field: "cpus", detail: "use a number of CPUs such as 0.5 or 2; got '\(cpus.prefix(64))'"))
        }
        return problems + timers.problems()
    }

    /// Where a `.env` setting came from in the request, for messages.
    static func field(of variable: String, source: DeploymentRecord.Source) -> String {
        switch variable {
        case "MCP_MEMORY": return "memory"
        case "MCP_CPUS": return "cpus"
        case "MCP_BASE_IMAGE" where source == .image: return "image"
        case "MCP_SERVER_COMMAND" where source == .image: return "command"
        default:
            if variable.hasPrefix("SERVER_ENV_") { return "environment.\(variable.dropFirst("SERVER_ENV_".count))" }
            return "settings.\(variable)"
        }
    }

    /// The checked request; throws a 422 problem naming every field that is wrong.
    init(name: String, settings: [String: String]?, image: String?, command: [String]?, environment: [String: String]?,
         memory: String?, cpus: String?, timers: DeploymentTimers, dockerName: String, token: String, labels: [String]) throws(Problem) {
        let problems = Self.problems(name: name, settings: settings, image: image, command: command,
                                     environment: environment, memory: memory, cpus: cpus, timers: timers)
        guard problems.isEmpty else { throw Problem.invalid(problems) }
        let source: DeploymentRecord.Source = image == nil ? .settings : .image
        var values = settings ?? [:]
        if let image {
            values["MCP_SERVER_RUNTIME"] = "custom"
            values["MCP_BASE_IMAGE"] = image
            values["MCP_SERVER_COMMAND"] = "placeholder"  // replaced by `command` itself below (no quoting round trip)
        }
        for (key, value) in environment ?? [:] { values["SERVER_ENV_\(key)"] = value }
        if let memory { values["MCP_MEMORY"] = memory }
        if let cpus { values["MCP_CPUS"] = cpus }
        values["MCP_NAME"] = dockerName
        values["MCP_AUTH_TOKEN"] = token
        values["MCP_EXPOSE"] = "local"
        values["MCP_PUBLISH_ADDRESS"] = "127.0.0.1"
        var spec: DeploymentSpec
        do {
            spec = try DeploymentSpec(environment: values)
        } catch {
            throw Problem.invalid(error.problems.map { .init(field: Self.field(of: $0.variable, source: source), detail: $0.message) })
        }
        if let command { spec.command = command }
        spec.hostPort = 0  // docker picks a free port on 127.0.0.1 at every start
        spec.extraLabels = labels
        self.name = name
        self.source = source
        self.spec = spec
        self.timers = timers
    }
}
