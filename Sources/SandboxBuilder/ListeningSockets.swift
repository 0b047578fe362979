/// Reads `/proc/net/tcp` and `/proc/net/tcp6` text (as `cat` prints them inside a container):
/// whether some socket listens on a port. `builder start` uses it to wait for the nginx front,
/// which starts next to the bridge: the container's health check answers for the bridge alone.
public enum ListeningSockets {
    public static func listens(on port: Int, in table: String) -> Bool {
        let wanted = String(port, radix: 16, uppercase: true)
        for line in table.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // sl, local_address (ADDRESS:PORT in hex), rem_address, st (0A is LISTEN), ...
            guard fields.count > 3, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":") else { continue }
            let localPort = fields[1][fields[1].index(after: colon)...].drop { $0 == "0" }
            if localPort == wanted { return true }
        }
        return false
    }
}
