import Testing

@testable import MCPBridge

@Suite struct LockedTests {
    private enum Refusal: Error, Equatable { case full }

    @Test func incrementsFromManyTasksAreNeverLost() async {
        let count = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<1_000 { count.withLock { $0 += 1 } } }
            }
        }
        #expect(count.withLock { $0 } == 8_000)
    }

    @Test func aTypedErrorLeavesTheBodyAndTheLockIsFreeAfterIt() {
        let items = Locked([Int]())
        #expect(throws: Refusal.full) {
            try items.withLock { (items) throws(Refusal) in
                items.append(1)
                throw .full
            }
        }
        // The change made before the throw stays, and the lock was released.
        #expect(items.withLock { $0 } == [1])
    }
}
