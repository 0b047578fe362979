import Foundation
import NIOCore
import Testing

@testable import SandboxService

@Suite struct ServiceHelpersTests {
    @Test func theEndpointEventIsRewrittenWhateverTheChunking() {
        let stream = "event: endpoint\r\ndata: /message?sessionId=abc\r\n\r\nevent: message\r\ndata: {\"x\":\"data: /no\"}\r\n\r\n"
        let expected = stream.replacing("data: /message", with: "data: /d/clock/message")
        for size in [1, 2, 7, 16, stream.utf8.count] {
            var rewriter = EndpointEventRewriter(prefix: "/d/clock")
            var output = ""
            let bytes = Array(stream.utf8)
            for start in stride(from: 0, to: bytes.count, by: size) {
                let chunk = rewriter.feed(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)]))
                output += String(buffer: chunk)
            }
            output += String(buffer: rewriter.flush())
            #expect(output == expected, "chunk size \(size)")
        }
    }

    @Test func onlyAnEndpointEventIsRewrittenAndAHugeOneIsPassedOn() {
        var other = EndpointEventRewriter(prefix: "/d/x")
        #expect(String(buffer: other.feed(ByteBuffer(string: ": hello\n\ndata: /message\n\n"))) == ": hello\n\ndata: /message\n\n")
        var huge = EndpointEventRewriter(prefix: "/d/x")
        let text = "event: endpoint\ndata: /" + String(repeating: "a", count: 9000)
        #expect(String(buffer: huge.feed(ByteBuffer(string: text))) == text)
        #expect(huge.done)
    }

    @Test func failedAttemptsAreLimitedPerAddressWithinAWindow() {
        let limiter = FailedAuthLimiter(limit: 3, window: .seconds(60), capacity: 2)
        let start = ContinuousClock.now
        for _ in 0..<3 { limiter.recordFailure("a", now: start) }
        #expect(limiter.retryAfter("a", now: start + .seconds(1)) == 59)
        #expect(limiter.retryAfter("b", now: start) == nil)
        #expect(limiter.retryAfter("a", now: start + .seconds(61)) == nil)
        // Bounded: a third address evicts the oldest window.
        limiter.recordFailure("b", now: start + .seconds(62))
        limiter.recordFailure("c", now: start + .seconds(63))
        limiter.recordFailure("d", now: start + .seconds(64))
        for _ in 0..<2 { limiter.recordFailure("d", now: start + .seconds(64)) }
        #expect(limiter.retryAfter("d", now: start + .seconds(65)) == 59)
        #expect(limiter.retryAfter("b", now: start + .seconds(65)) == nil)
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() {
        let addresses = ClientAddress(trustedProxies: ["10.0.0.1", "10.0.0.2"])
        #expect(addresses.resolve(peer: "192.0.2.9", forwardedFor: "203.0.113.1") == "192.0.2.9")
        #expect(addresses.resolve(peer: "10.0.0.1", forwardedFor: "203.0.113.1, 198.51.100.4, 10.0.0.2") == "198.51.100.4")
        #expect(addresses.resolve(peer: "10.0.0.1", forwardedFor: nil) == "10.0.0.1")
        #expect(addresses.resolve(peer: "10.0.0.1", forwardedFor: "10.0.0.2") == "10.0.0.1")
        #expect(addresses.resolve(peer: nil, forwardedFor: "203.0.113.1") == "unknown")
    }

    @Test func credentialsComeFromOneHeaderAndAreComparedAsDigests() {
        #expect(SecretHash.presented(authorization: "Bearer abc", apiKey: "other") == "abc")
        #expect(SecretHash.presented(authorization: "Basic abc", apiKey: "key") == nil)
        #expect(SecretHash.presented(authorization: "Bearer ", apiKey: "key") == nil)
        #expect(SecretHash.presented(authorization: nil, apiKey: "key") == "key")
        #expect(SecretHash.presented(authorization: nil, apiKey: "") == nil)
        let stored = [SecretHash.digest("right-key-0123456789")]
        #expect(SecretHash.matches("right-key-0123456789", stored))
        #expect(!SecretHash.matches("right-key-012345678", stored))
        #expect(SecretHash.bytes(hex: SecretHash.hex(stored[0])) == stored[0])
        #expect(SecretHash.bytes(hex: "zz") == nil && SecretHash.bytes(hex: String(repeating: "g", count: 64)) == nil)
    }

    @Test func knownPathsListTheirMethods() {
        #expect(RouteTable.allowedMethods(for: "/healthz") == ["GET"])
        #expect(RouteTable.allowedMethods(for: "/v1/deployments/clock/ttl") == ["PUT"])
        #expect(RouteTable.allowedMethods(for: "/d/clock/mcp") == ["GET", "POST", "DELETE"])
        #expect(RouteTable.allowedMethods(for: "/v1/deployments//stop") == nil)
        #expect(RouteTable.allowedMethods(for: "/nothing") == nil)
    }

    @Test func timersCountFromCreationAndFromLastActivity() {
        let created = Date(timeIntervalSince1970: 1_000)
        var record = DeploymentRecord(name: "x", dockerName: "a-x", state: .running, source: .image, imageTag: "mcp-sandbox/a-x:latest",
                                      tokenHash: [], createdAt: created, timers: DeploymentTimers(deleteAfter: 60),
                                      memory: "64m", cpus: "1", pids: 64)
        #expect(record.deleteAt == Date(timeIntervalSince1970: 1_060))
        #expect(record.idleSince == created)
        record.lastActivityAt = Date(timeIntervalSince1970: 1_030)
        #expect(record.idleSince == Date(timeIntervalSince1970: 1_030))
        #expect(DeploymentTimers(deleteAfter: 1, idleStop: DeploymentTimers.maximum).problems().isEmpty)
    }
}
