import NIOHTTP1
import MCPConnect
import NIOCore
import NIOPosix

/// Asks a deployment's bridge whether it is up: `GET /healthz` on its published loopback port,
/// polled quickly, so a wake is answered as soon as the bridge listens (docker's own health
/// check runs every 5 s, which would dominate the wake time).
struct BridgeHealth: Sendable {
    let exchange = HTTPExchange(connectTimeout: .seconds(1), group: MultiThreadedEventLoopGroup.singleton)

    func isHealthy(port: Int) async -> Bool {
        let endpoint = RemoteEndpoint(secure: false, host: "127.0.0.1", port: port, target: "/healthz")
        let status = try? await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                try await exchange.perform(.GET, endpoint, headers: [], body: nil) { head, body in
                    while try await body.next() != nil {}
                    return Int(head.status.code)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(2))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return status == 200
    }
}
