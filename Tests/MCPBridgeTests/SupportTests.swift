import NIOCore
import Testing

@testable import MCPBridge

@Suite struct ShellWordsTests {
    @Test func splitsLikeAShellWithoutRunningOne() throws {
        #expect(try ShellWords.split("npx -y @modelcontextprotocol/server-filesystem /data") == ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/data"])
        #expect(try ShellWords.split(#"python 'my server.py' --name "a \"b\" c" x\ y"#) == ["python", "my server.py", "--name", #"a "b" c"#, "x y"])
        #expect(try ShellWords.split("  a   ''  b ") == ["a", "", "b"])
        #expect(try ShellWords.split("echo $HOME; rm -rf /") == ["echo", "$HOME;", "rm", "-rf", "/"])
    }

    @Test func unbalancedQuotesAreErrors() {
        #expect(throws: ShellWords.SplitError.unterminatedQuote("'")) { try ShellWords.split("a 'b") }
        #expect(throws: ShellWords.SplitError.trailingBackslash) { try ShellWords.split("a \\") }
    }
}

@Suite struct QuantitiesTests {
    @Test func sizes() {
        #expect(Quantities.bytes("16MiB") == 16 << 20)
        #expect(Quantities.bytes("4k") == 4096)
        #expect(Quantities.bytes("123") == 123)
        #expect(Quantities.bytes("1.5M") == nil)
        #expect(Quantities.bytes("99999999999999999G") == nil)
    }

    @Test func durations() {
        #expect(Quantities.duration("30m") == .seconds(1800))
        #expect(Quantities.duration("250ms") == .milliseconds(250))
        #expect(Quantities.duration("1.5") == .milliseconds(1500))
        #expect(Quantities.duration("-1") == nil)
        #expect(Quantities.duration("5 days") == nil)
        // Values past the limit are refused instead of trapping on Int64 overflow.
        #expect(Quantities.duration("99999999999999999999h") == nil)
        #expect(Quantities.duration("315360001") == nil)
        #expect(Quantities.duration("315360000") == Quantities.longestDuration)
    }
}

@Suite struct SSEEncodingTests {
    @Test func messagesBecomeOneDataLineWithLineSeparatorsEscaped() {
        let json = ByteBuffer(string: "{\"t\":\"a\u{2028}b\u{2029}c\u{85}d\"}")
        let event = String(buffer: SSEEncoding.messageEvent(json))
        #expect(event == "event: message\ndata: {\"t\":\"a\\u2028b\\u2029c\\u0085d\"}\n\n")
    }

    @Test func aRawCarriageReturnBetweenTokensCannotEndTheDataLine() {
        let json = ByteBuffer(string: "{\"a\":1,\r\"b\":\r2}\r")
        let event = String(buffer: SSEEncoding.messageEvent(json))
        #expect(event == "event: message\ndata: {\"a\":1,\"b\":2}\n\n")
    }

    /// Found by `scripts/fuzz sse`: CRs inside a separator's bytes, once dropped, must not leave a raw separator.
    @Test func droppingCarriageReturnsCannotAssembleARawLineSeparator() {
        let bytes: [UInt8] = [0x22, 0xE2, 0x0D, 0x0D, 0x80, 0xA8, 0x62, 0xC2, 0x0D, 0x85, 0x22]
        let event = String(buffer: SSEEncoding.messageEvent(ByteBuffer(bytes: bytes)))
        #expect(event == "event: message\ndata: \"\\u2028b\\u0085\"\n\n")
    }

    @Test func stdioLinesLoseOnlyTheirLineBreaks() {
        let pretty = Array("{\n  \"jsonrpc\": \"2.0\",\r\n  \"method\": \"x\"\n}".utf8)
        let line = pretty.withUnsafeBytes { StdioLine.compact($0) }
        #expect(String(buffer: line) == "{  \"jsonrpc\": \"2.0\",  \"method\": \"x\"}")
    }

    /// A message without line breaks is the buffer's own bytes at its offset (the buffer read
    /// part-way, as a body slice is); one with breaks is compacted. Batches go through the same.
    @Test func stdioLinesAreTheBodysBytesUnlessTheyHoldLineBreaks() throws {
        var buffer = ByteBuffer(string: #"xx[{"a":1}, {"b":\#n2}]"#)
        buffer.moveReaderIndex(forwardBy: 2)
        let lines = buffer.withUnsafeReadableBytes { bytes in
            [StdioLine.line(UnsafeRawBufferPointer(rebasing: bytes[1..<8]), of: buffer, at: 1),
             StdioLine.line(UnsafeRawBufferPointer(rebasing: bytes[10..<18]), of: buffer, at: 10)]
        }
        #expect(lines.map { String(buffer: $0) } == [#"{"a":1}"#, #"{"b":2}"#])
        let batch = ByteBuffer(string: #"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b",\#r\#n"params":{}}]"#)
        guard case .success(let accepted) = MessageIntake.accept(batch) else {
            Issue.record("the batch was refused")
            return
        }
        #expect(accepted.lines.map { String(buffer: $0) } == [#"{"jsonrpc":"2.0","method":"a"}"#, #"{"jsonrpc":"2.0","method":"b","params":{}}"#])
    }
}

@Suite struct InitSupervisorTests {
    @Test func waitStatusesMapToShellExitCodes() {
        #expect(InitSupervisor.exitCode(fromWaitStatus: 0) == 0)
        #expect(InitSupervisor.exitCode(fromWaitStatus: 3 << 8) == 3)
        #expect(InitSupervisor.exitCode(fromWaitStatus: 9) == 137)
        #expect(InitSupervisor.exitCode(fromWaitStatus: 15) == 143)
    }
}

@Suite struct BoundedQueueTests {
    /// A message that weighs as many bytes as `text` has.
    private func message(_ text: String) -> ClientStream.Event {
        .message(ByteBuffer(string: text))
    }

    @Test func producerWaitsWhileOverBudgetAndResumesWhenDrained() async throws {
        let queue = BoundedQueue(byteLimit: 10)
        #expect(await queue.push(message("aaaaaa")))
        let returned = Latch()
        let second = message("bbbbbb")
        let blocked = Task {
            let accepted = await queue.push(second)  // 12 > 10: admitted, then waits
            returned.open()
            return accepted
        }
        // Without backpressure the push would return at once; with it, it cannot before a drain.
        #expect(await returned.wait(timeout: .milliseconds(100)) == false, "the producer did not wait")
        #expect(await queue.next() == message("aaaaaa"))
        #expect(await queue.next() == message("bbbbbb"))
        #expect(await blocked.value)
        #expect(returned.isOpen)
    }

    @Test func closingReleasesWaitingProducersAndTheConsumer() async {
        let queue = BoundedQueue(byteLimit: 1)
        let large = message("12345")
        async let blocked = queue.push(large)
        try? await Task.sleep(for: .milliseconds(20))
        queue.close()
        #expect(await blocked == false)
        #expect(await queue.next() == nil)
        #expect(await queue.push(message("1")) == false)
    }

    @Test func finishDrainsBeforeEnding() async {
        let queue = BoundedQueue(byteLimit: 100)
        queue.enqueue(message("1"))
        queue.enqueue(message("2"))
        queue.finish()
        #expect(queue.enqueue(message("3")) == false)
        #expect(await queue.next() == message("1"))
        #expect(await queue.next() == message("2"))
        #expect(await queue.next() == nil)
    }

    @Test func admissionSaysWhenTheQueueGoesOverItsBudget() async {
        let queue = BoundedQueue(byteLimit: 2)
        #expect(queue.admit(message("1")) == .admitted)
        #expect(queue.admit(message("2")) == .admitted)
        #expect(queue.admit(message("3")) == .admittedOverBudget)
        #expect(await queue.next() == message("1"))
        #expect(queue.admit(message("4")) == .admittedOverBudget)
        queue.finish()
        #expect(queue.admit(message("5")) == .rejected)
    }

    @Test func deadlinesFireOnceUnlessCancelled() async throws {
        let sweeper = DeadlineSweeper.shared
        let fired = Latch()
        let cancelledFired = Latch()
        let cancelled = sweeper.schedule(in: .milliseconds(10)) { cancelledFired.open() }
        sweeper.cancel(cancelled)
        _ = sweeper.schedule(in: .milliseconds(30)) { fired.open() }
        #expect(await fired.wait(timeout: .seconds(5)))
        #expect(!cancelledFired.isOpen)
    }

    @Test func timedNextLeavesTheQueueUsable() async {
        let queue = BoundedQueue(byteLimit: 100)
        guard case .timedOut = await queue.next(timeout: .milliseconds(20)) else {
            Issue.record("expected a timeout")
            return
        }
        queue.enqueue(message("4"))
        guard case .element(let element) = await queue.next(timeout: .seconds(5)) else {
            Issue.record("expected the element")
            return
        }
        #expect(element == message("4"))
    }
}

@Suite struct LogBudgetTests {
    @Test func aFloodIsCutToTheBurstThenTheRateAndTheDropsAreCounted() {
        let start = ContinuousClock.now
        var budget = LogBudget(bytesPerSecond: 1000, burstBytes: 3000, now: start)
        var logged = 0
        for _ in 0..<100 where budget.admit(100, now: start) != .drop { logged += 1 }
        #expect(logged == 30)  // the burst
        // Half a second later 500 bytes have come back: the next line is logged and reports the drops.
        #expect(budget.admit(100, now: start + .milliseconds(500)) == .log(afterDroppingLines: 70, bytes: 7000))
        #expect(budget.admit(100, now: start + .milliseconds(500)) == .log(afterDroppingLines: 0, bytes: 0))
    }

    @Test func theBucketNeverHoldsMoreThanTheBurst() {
        let start = ContinuousClock.now
        var budget = LogBudget(bytesPerSecond: 1000, burstBytes: 1000, now: start)
        #expect(budget.admit(600, now: start + .seconds(3600)) != .drop)
        #expect(budget.admit(600, now: start + .seconds(3600)) == .drop)
    }
}
