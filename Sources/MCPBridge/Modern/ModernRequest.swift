import FoundationEssentials
import HTTPTypes
import NIOCore

/// One validated 2026-07-28 request, as the spec's server validation requires it.
public struct ModernRequest: Sendable {
    public var id: JSONValue
    public var method: String
    /// `params`, always an object.
    public var params: JSONValue
    public var version: String
    public var capabilities: JSONValue
    /// The `logLevel` the request opted in to; nil means no log notifications for it.
    public var logLevel: String?

    /// The client's `progressToken`, if it asked for progress.
    public var progressToken: JSONValue? { params["_meta"]?["progressToken"] }
    public var requestState: String? { params["requestState"]?.stringValue }
    public var inputResponses: [String: JSONValue] { params["inputResponses"]?.objectValue ?? [:] }

    /// Whether the client declared it can fulfil an input request of this method.
    public func canFulfil(_ inputMethod: String) -> Bool {
        switch inputMethod {
        case "sampling/createMessage": return capabilities["sampling"] != nil
        case "elicitation/create": return capabilities["elicitation"] != nil
        case "roots/list": return capabilities["roots"] != nil
        default: return false
        }
    }
}

/// Why a 2026-07-28 request is refused: an HTTP status and the JSON-RPC error to send with it.
public struct ModernRefusal: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: Int
    public var message: String
    public var data: JSONValue?
    public var id: JSONValue?

    public var body: ByteBuffer {
        var error: [String: JSONValue] = ["code": .int(Int64(code)), "message": .string(message)]
        if let data { error["data"] = data }
        return JSONValue.object(["jsonrpc": .string("2.0"), "id": id ?? .null, "error": .object(error)]).buffer
    }
}

/// What a POST body holds, once validated.
public enum ModernMessage: Sendable {
    case request(ModernRequest)
    /// 2026-07-28 defines no client notification on HTTP: accepted (202) and ignored.
    case notification(method: String)
}

extension ModernRequest {
    /// Validates one POST body against its headers, in the order the SDKs apply (first failure
    /// wins): JSON, JSON-RPC shape, required `_meta`, header agreement (−32020), supported
    /// version (−32022). Method existence is checked by the caller (404 −32601).
    public static func validate(body: ByteBuffer, headers: HTTPFields) -> Result<ModernMessage, ModernRefusal> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            return .failure(ModernRefusal(status: .badRequest, code: -32700, message: "Parse error: the body is not valid JSON"))
        }
        guard case .object(let message) = value else {
            let why = if case .array = value { "batches are not allowed in 2026-07-28" } else { "the body must be a JSON-RPC object" }
            return .failure(ModernRefusal(status: .badRequest, code: -32600, message: "Invalid Request: \(why)"))
        }
        guard message["jsonrpc"] == .string("2.0") else {
            return .failure(ModernRefusal(status: .badRequest, code: -32600, message: "Invalid Request: jsonrpc must be \"2.0\"", id: message["id"]))
        }
        guard case .string(let method)? = message["method"] else {
            return .failure(ModernRefusal(status: .badRequest, code: -32600, message: "Invalid Request: clients must not send responses, and every request needs a method", id: message["id"]))
        }
        guard let id = message["id"] else { return .success(.notification(method: method)) }
        switch id {
        case .string, .int: break
        default: return .failure(ModernRefusal(status: .badRequest, code: -32600, message: "Invalid Request: id must be a string or an integer"))
        }
        let params = message["params"] ?? .object([:])
        guard case .object(let meta)? = params["_meta"] else {
            return .failure(ModernRefusal(status: .badRequest, code: -32602,
                                          message: "Invalid params: params._meta must be an object carrying \(ModernProtocol.protocolVersionKey) and \(ModernProtocol.clientCapabilitiesKey)", id: id))
        }
        let missing = [ModernProtocol.protocolVersionKey, ModernProtocol.clientCapabilitiesKey].filter { meta[$0] == nil }
        guard missing.isEmpty else {
            return .failure(ModernRefusal(status: .badRequest, code: -32602,
                                          message: "Invalid params: params._meta is missing \(missing.joined(separator: " and "))", id: id))
        }
        if let mismatch = headerMismatch(headers: headers, method: method, params: params, version: meta[ModernProtocol.protocolVersionKey]) {
            return .failure(ModernRefusal(status: .badRequest, code: ModernProtocol.headerMismatch, message: "Header mismatch: \(mismatch)", id: id))
        }
        guard case .string(let version)? = meta[ModernProtocol.protocolVersionKey] else {
            return .failure(ModernRefusal(status: .badRequest, code: -32602, message: "Invalid params: the protocol version must be a string", id: id))
        }
        guard version == ModernProtocol.version else {
            return .failure(ModernRefusal(
                status: .badRequest, code: ModernProtocol.unsupportedProtocolVersion, message: "Unsupported protocol version: \(version)",
                data: .object(["supported": .array(ModernProtocol.supportedVersions.map(JSONValue.string)), "requested": .string(version)]), id: id))
        }
        let capabilities = meta[ModernProtocol.clientCapabilitiesKey] ?? .object([:])
        guard capabilities.isObject else {
            return .failure(ModernRefusal(status: .badRequest, code: -32602, message: "Invalid params: \(ModernProtocol.clientCapabilitiesKey) must be an object", id: id))
        }
        var logLevel: String?
        if let level = meta[ModernProtocol.logLevelKey] {
            guard let name = level.stringValue, ModernProtocol.logLevels.contains(name) else {
                return .failure(ModernRefusal(status: .badRequest, code: -32602,
                                              message: "Invalid params: \(ModernProtocol.logLevelKey) must be one of \(ModernProtocol.logLevels.joined(separator: ", "))", id: id))
            }
            logLevel = name
        }
        return .success(.request(ModernRequest(id: id, method: method, params: params, version: version, capabilities: capabilities, logLevel: logLevel)))
    }

    /// The first disagreement between the mirrored headers and the body, if any. A header sent
    /// twice is a mismatch too: an intermediary may have read the other copy.
    static func headerMismatch(headers: HTTPFields, method: String, params: JSONValue, version: JSONValue?) -> String? {
        func single(_ name: HTTPField.Name) -> (value: String?, duplicated: Bool) {
            let values = headers[values: name]
            return (values.first, values.count > 1)
        }
        let versionHeader = single(.mcpProtocolVersion)
        if versionHeader.duplicated { return "MCP-Protocol-Version is sent more than once" }
        guard let sent = versionHeader.value else { return "the MCP-Protocol-Version header is required" }
        guard version == .string(sent) else { return "MCP-Protocol-Version header \(sent) does not match the body's protocol version" }
        let methodHeader = single(.mcpMethod)
        if methodHeader.duplicated { return "Mcp-Method is sent more than once" }
        guard let sentMethod = methodHeader.value else { return "the Mcp-Method header is required" }
        guard sentMethod == method else { return "Mcp-Method header \(sentMethod) does not match the body's method \(method)" }
        if let key = ModernProtocol.nameParameter[method], let bodyValue = params[key]?.stringValue {
            let nameHeader = single(.mcpName)
            if nameHeader.duplicated { return "Mcp-Name is sent more than once" }
            guard let raw = nameHeader.value else { return "the Mcp-Name header is required for \(method)" }
            guard let decoded = decodeHeaderValue(raw) else { return "the Mcp-Name header is not valid base64 UTF-8" }
            guard decoded == bodyValue else { return "Mcp-Name header does not match the body's \(key)" }
        }
        return nil
    }

    /// Undoes the `=?base64?…?=` sentinel encoding of `Mcp-Name` and `Mcp-Param-*` values.
    static func decodeHeaderValue(_ raw: String) -> String? {
        guard raw.hasPrefix("=?base64?"), raw.hasSuffix("?="), raw.count >= 11 else { return raw }
        let encoded = raw.dropFirst(9).dropLast(2)
        guard let data = Data(base64Encoded: String(encoded)) else { return nil }
        return String(validating: data, as: UTF8.self)
    }
}

extension HTTPField.Name {
    static let mcpMethod = Self("Mcp-Method")!
    static let mcpName = Self("Mcp-Name")!
}
