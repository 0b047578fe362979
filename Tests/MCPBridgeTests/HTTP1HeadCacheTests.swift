import HTTPTypes
import NIOHTTP1
import Testing

@testable import MCPBridge

@Suite struct HTTP1HeadCacheTests {
    private func head(session: String = "s-1", length: String = "120", extra: [(String, String)] = [],
                      uri: String = "/mcp", method: HTTPMethod = .POST) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders([
            ("Host", "127.0.0.1:8000"), ("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream"),
            ("Mcp-Session-Id", session), ("MCP-Protocol-Version", "2025-06-18"), ("Content-Length", length),
        ] + extra))
    }

    @Test func theSameHeadAgainGivesWhatConvertingGives() throws {
        var cache = HTTP1HeadCache()
        let first = try cache.request(head())
        #expect(cache.holdsHead)
        let again = try cache.request(head())
        #expect(again == first)
        #expect(again == (try HTTP1Conversion.request(head())))
    }

    /// Every difference is converted afresh: a stale session id would send a call to another
    /// client's server.
    @Test func anyDifferenceIsConvertedAfresh() throws {
        var cache = HTTP1HeadCache()
        _ = try cache.request(head())
        let variants = [
            head(session: "s-2"), head(length: "121"), head(extra: [("Authorization", "Bearer t")]),
            head(uri: "/mcp?x"), head(method: .GET),
            HTTPRequestHead(version: .http1_1, method: .POST, uri: "/mcp", headers: HTTPHeaders([
                ("Host", "127.0.0.1:8000"), ("Accept", "application/json, text/event-stream"), ("Content-Type", "application/json"),
                ("Mcp-Session-Id", "s-1"), ("MCP-Protocol-Version", "2025-06-18"), ("Content-Length", "120"),
            ])),
            HTTPRequestHead(version: .http1_1, method: .POST, uri: "/mcp", headers: HTTPHeaders([
                ("host", "127.0.0.1:8000"), ("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream"),
                ("Mcp-Session-Id", "s-1"), ("MCP-Protocol-Version", "2025-06-18"), ("Content-Length", "120"),
            ])),
        ]
        for variant in variants {
            // After the original each time, so each variant is compared with a kept head.
            _ = try cache.request(head())
            #expect(try cache.request(variant) == (try HTTP1Conversion.request(variant)))
        }
        #expect(try cache.request(head(session: "s-2")).headerFields[.mcpSessionID] == "s-2")
        #expect(try cache.request(head(session: "s-1")).headerFields[.mcpSessionID] == "s-1")
    }

    /// Whatever head came before, the next converts as it would alone: a kept request is updated
    /// only where names match, and the first Host is the authority wherever it stands.
    @Test func everyHeadAfterEveryOtherConvertsAsItWouldAlone() throws {
        func with(_ fields: [(String, String)]) -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: .POST, uri: "/mcp", headers: HTTPHeaders(fields))
        }
        let heads = [
            head(), head(session: "s-2"), head(length: "7"), head(extra: [("X-Trace", "1"), ("Host", "second.example")]),
            with([("Content-Type", "application/json"), ("Host", "127.0.0.1:8000"), ("Accept", "application/json, text/event-stream")]),
            with([("Host", "127.0.0.1:8000"), ("Host", "127.0.0.1:8000"), ("Accept", "application/json, text/event-stream")]),
            with([("Accept", "application/json, text/event-stream"), ("Host", "127.0.0.1:8000")]),
            with([("Bad Name", "x"), ("Host", "127.0.0.1:8000"), ("Content-Type", "application/json")]),
            with([("Bad Name", "y"), ("Host", "localhost:8000"), ("Content-Type", "text/plain")]),
            with([("Bad Name", "y"), ("Host", "localhost:8000"), ("Content-Type", "application/json")]),
            with([("Host", "localhost:8000"), ("Host", "127.0.0.1:8000"), ("Accept", "application/json, text/event-stream")]),
            with([("Content-Type", "application/json")]),
        ]
        for first in heads {
            for second in heads {
                var cache = HTTP1HeadCache()
                _ = try cache.request(first)
                let alone = try HTTP1Conversion.request(second)
                let after = try cache.request(second)
                #expect(after == alone)
                #expect(after.authority == alone.authority)
            }
        }
    }

    /// Swift's `==` holds a precomposed "é" equal to "e" and a combining accent: the kept field
    /// must not stand in for bytes that differ.
    @Test func valuesAreComparedByteForByteNotByCanonicalEquivalence() throws {
        let precomposed = "caf\u{E9}", combining = "cafe\u{301}"
        #expect(precomposed == combining)
        for (first, second) in [(precomposed, combining), (combining, precomposed)] {
            var cache = HTTP1HeadCache()
            _ = try cache.request(head(extra: [("X-Note", first)]))
            let request = try cache.request(head(extra: [("X-Note", second)]))
            #expect(request.headerFields[HTTPField.Name("X-Note")!].map { Array($0.utf8) } == Array(second.utf8))
            _ = try cache.request(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: ["Host": first, "Accept": "x"]))
            let host = try cache.request(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: ["Host": second, "Accept": "x"]))
            #expect(host.authority.map { Array($0.utf8) } == Array(second.utf8))
            let target = try cache.request(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/\(first)", headers: ["Host": "h"]))
            #expect(Array((target.path ?? "").utf8) == Array("/\(first)".utf8))
            let next = try cache.request(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/\(second)", headers: ["Host": "h"]))
            #expect(Array((next.path ?? "").utf8) == Array("/\(second)".utf8))
        }
        #expect(!HTTP1HeadCache.sameBytes(precomposed, combining))
        #expect(HTTP1HeadCache.sameBytes("", ""))
        #expect(HTTP1HeadCache.sameBytes("application/json", "application/json"))
    }

    @Test func aLargeHeadIsNotKept() throws {
        var cache = HTTP1HeadCache()
        let large = head(extra: [("X-Large", String(repeating: "v", count: HTTP1HeadCache.maxBytes))])
        #expect(try cache.request(large) == (try HTTP1Conversion.request(large)))
        #expect(!cache.holdsHead)
        _ = try cache.request(head())
        #expect(cache.holdsHead)
    }

    @Test func aHeadThatFailsToConvertStillFailsAndDropsTheKeptOne() throws {
        var cache = HTTP1HeadCache()
        _ = try cache.request(head())
        let bad = head(method: .RAW(value: "BAD METHOD"))
        #expect(throws: (any Error).self) { try cache.request(bad) }
        #expect(!cache.holdsHead)
        #expect(throws: (any Error).self) { try cache.request(bad) }
    }
}
