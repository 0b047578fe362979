#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MCPBridge
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 request on a connection of its own, its response handed to a closure as it
/// arrives (SSE bodies stream). Connection and TLS failures come out as `ConnectFailure`.
public struct HTTPExchange: Sendable {
    let connectTimeout: Duration
    let tls: TLSClient?
    let group: any EventLoopGroup

    /// Plain HTTP (TLS is for `mcp-bridge connect` alone).
    public init(connectTimeout: Duration, group: any EventLoopGroup) {
        self.init(connectTimeout: connectTimeout, tls: nil, group: group)
    }

    init(connectTimeout: Duration, tls: TLSClient?, group: any EventLoopGroup) {
        self.connectTimeout = connectTimeout
        self.tls = tls
        self.group = group
    }

    public typealias Inbound = NIOAsyncChannelInboundStream<HTTPClientResponsePart>

    /// The body of a response, read part by part.
    public struct Body: ~Copyable {
        var iterator: Inbound.AsyncIterator
        var ended = false

        /// The next chunk, or nil at the end of the body.
        public mutating func next() async throws -> ByteBuffer? {
            while !ended {
                switch try await iterator.next() {
                case .body(let chunk):
                    return chunk
                case .end, nil:
                    ended = true
                case .head:
                    continue
                }
            }
            return nil
        }

        /// Up to 64 KiB of an error answer's body, for the message (empty if it cannot be read).
        mutating func excerpt() async -> [UInt8] {
            (try? await collect(upTo: 64 * 1024)).map { Array($0.readableBytesView) } ?? []
        }

        /// The whole body, refused beyond `limit` bytes.
        mutating func collect(upTo limit: Int) async throws -> ByteBuffer {
            var all = ByteBuffer()
            while var chunk = try await next() {
                guard all.readableBytes + chunk.readableBytes <= limit else { throw ConnectFailure.tooLarge(limit: limit) }
                all.writeBuffer(&chunk)
            }
            return all
        }
    }

    public func perform<Result: Sendable>(
        _ method: HTTPMethod, _ endpoint: RemoteEndpoint, headers: [(String, String)], body: ByteBuffer?,
        handle: (HTTPResponseHead, inout Body) async throws -> Result
    ) async throws -> Result {
        let observation = TLSClient.Observation()
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(connectTimeout))
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls, endpoint.secure {
                            try channel.pipeline.syncOperations.addHandler(tls.handler(for: endpoint, observation: observation))
                            try channel.pipeline.syncOperations.addHandler(TLSFailureRecorder(observation: observation))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ConnectFailure.unreachable(endpoint, reason: Self.describe(error))
        }
        do {
            // Cancelling the caller closes the connection, so a read waiting on a quiet stream
            // (an SSE stream between events) ends at once instead of at the next event.
            return try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPRequestHead(version: .http1_1, method: method, uri: endpoint.target)
                    head.headers.add(name: "Host", value: endpoint.authority)
                    head.headers.add(name: "User-Agent", value: "mcp-bridge-connect/\(BridgeVersion.current)")
                    for (name, value) in headers { head.headers.add(name: name, value: value) }
                    if let body { head.headers.add(name: "Content-Length", value: String(body.readableBytes)) }
                    try await outbound.write(.head(head))
                    if let body { try await outbound.write(.body(.byteBuffer(body))) }
                    try await outbound.write(.end(nil))

                    var iterator = inbound.makeAsyncIterator()
                    var responseHead: HTTPResponseHead?
                    while responseHead == nil {
                        switch try await iterator.next() {
                        case .head(let received) where received.status.code >= 200:
                            responseHead = received
                        case .head:
                            continue  // 1xx
                        case .body, .end, nil:
                            throw ConnectFailure.protocolViolation("the connection closed before a response head")
                        }
                    }
                    var responseBody = Body(iterator: iterator)
                    do {
                        // Non-nil: the loop above exits only once it is set.
                        return try await handle(responseHead ?? HTTPResponseHead(version: .http1_1, status: .ok), &responseBody)
                    } catch let failure as ConnectFailure {
                        throw failure
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch let error as NIOSSLError {
                        throw error
                    } catch let error as IOError {
                        throw error
                    } catch let error as ChannelError {
                        throw error
                    } catch {
                        // The handler's own verdict (a refusal, an expired session): passed on as is.
                        throw Verdict(error: error)
                    }
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch let failure as ConnectFailure {
            throw failure
        } catch let verdict as Verdict {
            throw verdict.error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if let presented = observation.mismatch, case .fingerprint(let expected)? = tls?.policy {
                throw ConnectFailure.tls(endpoint, reason: "the certificate's SHA-256 fingerprint is \(presented), not the pinned \(expected)")
            }
            if let failure = observation.failure ?? (TLSFailureRecorder.isTLS(error) ? error : nil) {
                throw ConnectFailure.tls(endpoint, reason: Self.describeTLS(failure, policy: tls?.policy))
            }
            throw ConnectFailure.unreachable(endpoint, reason: "connection lost: \(Self.describe(error))")
        }
    }

    private struct Verdict: Error {
        let error: any Error
    }

    /// A TLS failure in words: BoringSSL's reason code, and what was trusted.
    static func describeTLS(_ error: any Error, policy: TrustPolicy?) -> String {
        let text = String(describing: error)
        // BoringSSL errors read "error:…:SSL routines:OPENSSL_internal:REASON at file:line".
        guard let marker = text.firstRange(of: "OPENSSL_internal:") else { return text }
        let reason = text[marker.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
        guard reason == "CERTIFICATE_VERIFY_FAILED" else { return String(reason) }
        switch policy {
        case .caFile(let path)?: return "the server's certificate was not issued by a CA in \(path) (CERTIFICATE_VERIFY_FAILED)"
        default: return "the server's certificate is not trusted by the system's CA store (CERTIFICATE_VERIFY_FAILED); a self-signed front needs --fingerprint"
        }
    }

    /// A short reason for a connection error (the errno text rather than NIO's dump).
    static func describe(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return describe(first.error)
        }
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode))
        }
        if case ChannelError.connectTimeout(let amount) = error {
            return "no connection within \(amount.nanoseconds / 1_000_000) ms"
        }
        if let ssl = error as? NIOSSLError, case .handshakeFailed(let inner) = ssl {
            return "handshake failed: \(inner)"
        }
        return String(describing: error)
    }
}
