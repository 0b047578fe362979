import Foundation
/// The address a request counts against for rate limiting: the peer, or, when the peer is a
/// configured proxy, the nearest `X-Forwarded-For` hop that is not one (a client cannot pose
/// as another by sending the header itself: it is read only from trusted peers).
struct ClientAddress: Sendable {
    let trustedProxies: Set<String>

    func resolve(peer: String?, forwardedFor: String?) -> String {
        let peer = peer ?? "unknown"
        guard trustedProxies.contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for hop in hops.reversed() where !trustedProxies.contains(hop) {
            return String(hop.prefix(64))
        }
        return peer
    }
}
