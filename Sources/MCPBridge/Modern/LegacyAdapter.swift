/// Pure translations between a 2026-07-28 client and a child that speaks an initialize-era
/// revision. The bridge is that child's only client, so everything a modern client sends per
/// request is either stripped (the child cannot read it) or turned into what the child expects.
public enum LegacyAdapter {
    /// The capabilities the bridge declares when it initializes a legacy child: everything it
    /// can turn into MRTR input requests. Each is refused per request to a client that did not
    /// declare it.
    public static let bridgeCapabilities: JSONValue = .object([
        "sampling": .object([:]),
        "elicitation": .object([:]),
        "roots": .object([:]),
    ])

    public static func initializeRequest(id: String) -> JSONValue {
        .object([
            "jsonrpc": .string("2.0"), "id": .string(id), "method": .string("initialize"),
            "params": .object([
                "protocolVersion": .string(ProtocolVersion.v2025_11_25.rawValue),
                "capabilities": bridgeCapabilities,
                "clientInfo": .object(["name": .string("mcp-bridge"), "version": .string(BridgeVersion.current)]),
            ]),
        ])
    }

    /// The request a legacy child gets: the client's params without the reserved `_meta` keys
    /// and MRTR fields, under the bridge's id and progress token.
    public static func childRequest(_ request: ModernRequest, id: String, progressToken: String?) -> JSONValue {
        var params = request.params
        params["inputResponses"] = nil
        params["requestState"] = nil
        params["_meta"] = strippedMeta(params["_meta"], progressToken: progressToken)
        return .object(["jsonrpc": .string("2.0"), "id": .string(id), "method": .string(request.method), "params": params])
    }

    /// The request a modern child gets: everything intact but the id and progress token, which
    /// must be unique among all the clients sharing the child.
    public static func passThroughRequest(_ request: ModernRequest, id: String, progressToken: String?) -> JSONValue {
        var params = request.params
        if let progressToken { params["_meta"]?["progressToken"] = .string(progressToken) }
        return .object(["jsonrpc": .string("2.0"), "id": .string(id), "method": .string(request.method), "params": params])
    }

    static func strippedMeta(_ meta: JSONValue?, progressToken: String?) -> JSONValue? {
        guard case .object(var object)? = meta else { return nil }
        for key in object.keys where key.hasPrefix(ModernProtocol.reservedPrefix) { object[key] = nil }
        if object["progressToken"] != nil { object["progressToken"] = progressToken.map(JSONValue.string) }
        return object.isEmpty ? nil : .object(object)
    }

    /// A legacy child's result as 2026-07-28 requires it: `resultType`, caching fields on
    /// cacheable methods, and the server's identity in `_meta`.
    public static func clientResult(_ result: JSONValue, method: String, serverInfo: JSONValue?) -> JSONValue {
        guard case .object(var object) = result else { return result }
        if object["resultType"] == nil { object["resultType"] = .string("complete") }
        if ModernProtocol.cacheableMethods.contains(method) {
            if object["ttlMs"] == nil { object["ttlMs"] = .int(0) }
            if object["cacheScope"] == nil { object["cacheScope"] = .string("private") }
        }
        if let serverInfo {
            var meta = object["_meta"]?.objectValue ?? [:]
            if meta[ModernProtocol.serverInfoKey] == nil { meta[ModernProtocol.serverInfoKey] = serverInfo }
            object["_meta"] = .object(meta)
        }
        return .object(object)
    }

    /// `server/discover`'s answer, made from the child's `InitializeResult`.
    public static func discoverResult(initializeResult: JSONValue) -> JSONValue {
        var capabilities = initializeResult["capabilities"]?.objectValue ?? [:]
        // Tasks left the core protocol in 2026-07-28; the bridge does not carry them across.
        capabilities["tasks"] = nil
        var result: [String: JSONValue] = [
            "supportedVersions": .array(ModernProtocol.supportedVersions.map(JSONValue.string)),
            "capabilities": .object(capabilities),
        ]
        if let instructions = initializeResult["instructions"] { result["instructions"] = instructions }
        return clientResult(.object(result), method: "server/discover", serverInfo: initializeResult["serverInfo"])
    }

    /// The `InputRequiredResult` that stands for the child's pending server-to-client requests.
    public static func inputRequired(_ requests: [(key: String, method: String, params: JSONValue?)], state: String) -> JSONValue {
        var inputRequests: [String: JSONValue] = [:]
        for request in requests {
            var entry: [String: JSONValue] = ["method": .string(request.method)]
            if let params = request.params { entry["params"] = params }
            inputRequests[request.key] = .object(entry)
        }
        return .object(["resultType": .string("input_required"), "inputRequests": .object(inputRequests), "requestState": .string(state)])
    }

    /// Whether a log message at `level` is wanted by a request that opted in at `threshold`.
    public static func wants(level: String, threshold: String?) -> Bool {
        guard let threshold, let wanted = ModernProtocol.logLevels.firstIndex(of: threshold) else { return false }
        let severity = ModernProtocol.logLevels.firstIndex(of: level) ?? ModernProtocol.logLevels.count - 1
        return severity >= wanted
    }

    public static func response(id: JSONValue, result: JSONValue) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": id, "result": result])
    }

    /// `notifications/cancelled` for one of the bridge's requests to a child.
    public static func cancelled(requestID: String, reason: String) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "method": .string("notifications/cancelled"),
                 "params": .object(["requestId": .string(requestID), "reason": .string(reason)])])
    }

    public static func errorResponse(id: JSONValue, code: Int, message: String) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": id, "error": .object(["code": .int(Int64(code)), "message": .string(message)])])
    }
}
