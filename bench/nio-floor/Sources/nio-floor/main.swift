import Glibc
import NIOCore
import NIOPosix

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = Int(arguments[2]), ["fixed", "pipe", "task"].contains(arguments[1]) else {
    print("usage: nio-floor fixed|pipe|task PORT [CHILD]")
    exit(2)
}
do {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let link = ChildLink()
    if arguments[1] != "fixed" {
        guard arguments.count >= 4 else { print("pipe and task need CHILD"); exit(2) }
        let ends = try ChildProcess.spawn(arguments[3])
        let pipe = try await NIOPipeBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(LineDecoder()), ChildLines(link: link))
                }
            }
            .takingOwnershipOfDescriptors(input: ends.fromChild, output: ends.toChild)
            .get()
        try await loop.submit { link.pipe = pipe }.get()
    }
    let fixed = arguments[1] == "fixed"
    let executor = arguments[1] == "task" ? LoopExecutor(loop) : nil
    let server = try await ServerBootstrap(group: loop)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                try channel.pipeline.syncOperations.addHandler(fixed ? FixedAnswer() as any ChannelHandler : Relay(link: link, executor: executor))
            }
        }
        .bind(host: "127.0.0.1", port: port)
        .get()
    try await server.closeFuture.get()
} catch {
    print("nio-floor: \(error)")
    exit(1)
}
