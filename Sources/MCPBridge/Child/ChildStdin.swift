import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// A child's stdin, written from the sending task straight to the pipe's channel: one hop to
/// its event loop per message, with no task of its own in between.
///
/// `send` admits every message in the order it is called, so ordering never depends on timing,
/// and then waits while more than `byteLimit` admitted bytes are not yet in the pipe: a child
/// that does not read slows its senders instead of growing the bridge. Messages sent before the
/// pipe is attached are held, counted the same way, and written first on `attach`.
final class ChildStdin: Sendable {
    private struct State {
        var channel: (any Channel)?
        var unattached: [ByteBuffer] = []
        /// Admitted and not yet written (or failed): what the byte limit bounds.
        var unwrittenBytes = 0
        var finished = false
        var closed = false
        var senders: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextSender = 0

        mutating func releaseSenders(ifWithin limit: Int) -> [CheckedContinuation<Bool, Never>] {
            guard closed || unwrittenBytes <= limit, !senders.isEmpty else { return [] }
            defer { senders.removeAll() }
            return Array(senders.values)
        }
    }

    private enum Admission {
        case refused
        case admitted
        /// Admitted, and the pipe is over the limit: the sender with this id waits.
        case mustWait(Int)
    }

    private static let newline = ByteBuffer(string: "\n")
    /// NIO's pthread lock rather than `Mutex`: writes complete on the event loop while tasks
    /// send, and ThreadSanitizer cannot see `Mutex`'s futex, so it reported the guarded state
    /// as a race (a false report that failed a full test run).
    private let state = NIOLockedValueBox(State())
    /// Whether a flush is queued on the loop; only the loop touches it (an atomic because the
    /// class is shared with the sending tasks).
    private let flushPending = Atomic(false)
    private let byteLimit: Int

    init(byteLimit: Int) {
        self.byteLimit = byteLimit
    }

    /// Admits one message (the newline is added here), then waits while the pipe is behind.
    /// - Returns: `false` once stdin is finished or closed.
    func send(_ message: ByteBuffer) async -> Bool {
        let admission: Admission = state.withLockedValue { state in
            guard !state.closed, !state.finished else { return .refused }
            state.unwrittenBytes += message.readableBytes + 1
            if let channel = state.channel {
                // Under the lock, so the loop receives messages in the order they were admitted;
                // `execute` only enqueues, it never runs the write (or its completion) here.
                write([message], to: channel)
            } else {
                state.unattached.append(message)
            }
            guard state.unwrittenBytes > byteLimit else { return .admitted }
            state.nextSender += 1
            return .mustWait(state.nextSender)
        }
        let sender: Int
        switch admission {
        case .refused: return false
        case .admitted: return true
        case .mustWait(let id): sender = id
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow: Bool? = state.withLockedValue { state in
                    if state.closed || Task.isCancelled { return false }
                    if state.unwrittenBytes <= byteLimit { return true }
                    state.senders[sender] = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            state.withLockedValue { $0.senders.removeValue(forKey: sender) }?.resume(returning: false)
        }
    }

    /// Starts writing to `channel`: first what was sent before, then each message as it comes.
    /// If stdin was closed meanwhile, the channel is closed instead.
    func attach(_ channel: any Channel) {
        let closeNow = state.withLockedValue { state -> Bool in
            guard !state.closed else { return true }
            state.channel = channel
            if !state.unattached.isEmpty { write(state.unattached, to: channel) }
            state.unattached.removeAll()
            if state.finished { closeOutput(of: channel) }
            return false
        }
        if closeNow { channel.close(promise: nil) }
    }

    /// No more messages: the pipe is closed once everything admitted is written, and the child
    /// reads EOF. Senders waiting for room are released as the writes complete.
    func finish() {
        state.withLockedValue { state in
            guard !state.closed, !state.finished else { return }
            state.finished = true
            if let channel = state.channel { closeOutput(of: channel) }
        }
    }

    /// Drops what is not written yet, closes the pipe and releases every waiting sender with `false`.
    func close() {
        let (channel, senders) = state.withLockedValue { state in
            state.closed = true
            state.unattached.removeAll()
            defer { state.senders.removeAll() }
            return (state.channel, Array(state.senders.values))
        }
        channel?.close(promise: nil)
        for sender in senders { sender.resume(returning: false) }
    }

    /// A message up to this size is copied into one buffer with its newline: a second write through
    /// the pipe's pipeline cost ~2,300 instructions, a copy of a few KiB far less. A larger one
    /// is written as it is, then the newline.
    static let joinedLimit = 16 << 10

    /// Enqueues the writes on the channel's loop. Messages that reach the loop in one turn go out
    /// in one flush (one `writev`).
    private func write(_ messages: [ByteBuffer], to channel: any Channel) {
        channel.eventLoop.execute {
            for message in messages {
                let bytes = message.readableBytes + 1
                let last: ByteBuffer
                if message.readableBytes <= Self.joinedLimit {
                    var line = channel.allocator.buffer(capacity: bytes)
                    line.writeImmutableBuffer(message)
                    line.writeInteger(UInt8(ascii: "\n"))
                    last = line
                } else {
                    channel.write(message, promise: nil)
                    last = Self.newline
                }
                channel.write(last).whenComplete { result in
                    if case .failure = result {
                        self.close()
                    } else {
                        self.written(bytes)
                    }
                }
            }
            if !self.flushPending.exchange(true, ordering: .relaxed) {
                channel.eventLoop.execute {
                    self.flushPending.store(false, ordering: .relaxed)
                    channel.flush()
                }
            }
        }
    }

    private func written(_ bytes: Int) {
        let senders = state.withLockedValue { state in
            state.unwrittenBytes -= bytes
            return state.releaseSenders(ifWithin: byteLimit)
        }
        for sender in senders { sender.resume(returning: true) }
    }

    /// Half-closes the pipe on its loop after the writes already enqueued there (flushed first:
    /// closing the output drops writes that were never flushed).
    private func closeOutput(of channel: any Channel) {
        channel.eventLoop.execute {
            channel.flush()
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
    }
}
