import Logging
import MCPBridge

/// Where everything for the local client goes: one JSON-RPC message per stdout line.
struct ClientSink: Sendable {
    let link: StdioLink
    let logger: Logger

    /// Writes a message from the remote server. JSON may be pretty-printed; a raw CR or LF can
    /// only be whitespace between tokens (inside strings they are escaped), so each becomes a
    /// space and the message stays one stdio line.
    func deliver(_ message: some Collection<UInt8>) async throws {
        var line = Array(message)
        for index in line.indices where line[index] == UInt8(ascii: "\n") || line[index] == UInt8(ascii: "\r") {
            line[index] = UInt8(ascii: " ")
        }
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return }
        try await link.write(line: line)
    }

    /// Answers each request with a JSON-RPC error saying what went wrong, and logs how to fix it.
    func fail(_ ids: some Collection<JSONRPCID>, _ failure: ConnectFailure) async throws {
        logger.error("\(failure.message)", metadata: ["fix": "\(failure.remedy)"])
        for id in ids {
            try await link.write(line: Array(JSONRPCErrorBody.text(id: id, code: .serverError, message: failure.message).utf8))
        }
    }

    /// Answers a line that is not JSON-RPC, as a server would.
    func reject(_ id: JSONRPCID?, code: JSONRPCErrorCode, message: String) async throws {
        try await link.write(line: Array(JSONRPCErrorBody.text(id: id, code: code, message: message).utf8))
    }
}
