#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Both ends of a fresh pipe, close-on-exec (the child gets its end as 0, 1 or 2 from `mcp_spawn`).
struct PipePair {
    let read: CInt
    let write: CInt

    struct Failure: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    init(read: CInt, write: CInt) {
        self.read = read
        self.write = write
    }

    /// A close-on-exec pipe (the spawn also marks every other descriptor close-on-exec in the
    /// child).
    static func make() throws -> PipePair {
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else { throw Failure(errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return PipePair(read: fds[0], write: fds[1])
    }

    /// The child's stdin, stdout and stderr pipes, or none: if one cannot be made, those already
    /// made are closed before the error is thrown.
    static func triple(
        making make: () throws -> PipePair = PipePair.make, closing close: (CInt) -> Void = { _ = systemClose($0) }
    ) throws -> (stdin: PipePair, stdout: PipePair, stderr: PipePair) {
        var made: [PipePair] = []
        do {
            for _ in 0..<3 { made.append(try make()) }
        } catch {
            for pair in made { close(pair.read); close(pair.write) }
            throw error
        }
        return (made[0], made[1], made[2])
    }
}

#if canImport(Glibc)
let systemClose = Glibc.close
#elseif canImport(Musl)
let systemClose = Musl.close
#endif
