import Testing

@testable import SandboxBuilder

@Suite struct ListeningSocketsTests {
    private let table = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 1 1 0000000000000000 100 0 0 10 0
           1: 0100007F:1F40 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000 10001        0 2 1 0000000000000000 20 4 30 10 -1
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
        """

    @Test func aListeningSocketIsFoundInEitherTable() {
        #expect(ListeningSockets.listens(on: 8000, in: table))
        #expect(ListeningSockets.listens(on: 80, in: table))
    }

    @Test func connectionsAndOtherPortsDoNotCount() {
        #expect(!ListeningSockets.listens(on: 8443, in: table))
        // 0xD2F0 appears only as a connection's remote port.
        #expect(!ListeningSockets.listens(on: 0xD2F0, in: table))
        #expect(!ListeningSockets.listens(on: 8443, in: ""))
    }
}
