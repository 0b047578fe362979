extension FuzzTarget {
    /// The first byte chooses the read size (1-32 bytes), whether the server then begins its
    /// shutdown, whether the client half-closes after its last byte, and whether the deadlines
    /// then expire with `/slow` requests still unanswered; the rest is what the client sends.
    static func http(_ bytes: UnsafeRawBufferPointer) {
        guard let flags = bytes.first else { return }
        let stream = Array(bytes.dropFirst())
        let quiesce = flags & 0x20 != 0, halfClose = flags & 0x40 != 0, late = flags & 0x80 != 0
        let whole = HTTPConnectionRun(stream, chunk: max(stream.count, 1), halfClose: halfClose, quiesce: quiesce, late: late)
        let split = HTTPConnectionRun(stream, chunk: Int(flags & 0x1F) + 1, halfClose: halfClose, quiesce: quiesce, late: late)
        for run in [whole, split] { check(run) }
        // A 413 may be sent while the body still arrives (then the connection drains and closes)
        // or after it (then it stays open), so only the answers before it must agree.
        let before = { (run: HTTPConnectionRun) in (run.answers ?? []).prefix { $0.status != 413 } }
        precondition(Array(before(whole)) == Array(before(split)), "answers depend on how the requests were split: \(whole.transcript) against \(split.transcript)")
    }

    private static func check(_ run: HTTPConnectionRun) {
        guard let answers = run.answers else {
            preconditionFailure("output that is not whole responses: \(run.transcript)")
        }
        // The n-th answer answers the n-th request read: none overtakes another.
        for (index, answer) in answers.enumerated() {
            if answer.sequence != nil {
                precondition(answer.request == index, "answer \(index) answers request \(answer.request ?? -1): \(run.transcript)")
            } else {
                // The pipeline's own answers (refusals) answer requests it did not let through whole.
                precondition(!run.completed.contains(index), "a refusal took the place of request \(index)'s answer: \(run.transcript)")
            }
        }
        let numbered = answers.compactMap(\.sequence)
        precondition(numbered == Array(0..<numbered.count), "answers out of order or skipped: \(run.transcript)")
        if run.stillOpen {
            precondition(numbered.count == run.handed, "\(run.handed) requests handed, \(numbered.count) answered: \(run.transcript)")
        }
        if let close = answers.firstIndex(where: { $0.header("connection") == "close" }) {
            precondition(close == answers.count - 1, "a response after Connection: close: \(run.transcript)")
            precondition(!run.stillOpen, "Connection: close, but the connection stays open: \(run.transcript)")
        }
        for answer in answers where answer.sequence == nil {
            precondition([400, 408, 413, 431, 503].contains(answer.status), "the pipeline's own answer \(answer.status): \(run.transcript)")
        }
    }
}
