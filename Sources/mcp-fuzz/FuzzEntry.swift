#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets

/// `mcp-fuzz TARGET FILE_OR_FOLDER...` replays inputs through a fuzz target (how the tests run
/// the seed corpora). Built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz), it hands control
/// to libFuzzer instead, fuzzing the target named by MCP_FUZZ_TARGET; libFuzzer's options follow.
@main
struct FuzzEntry {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = Optional(CommandLine.unsafeArgv)
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else { FileReplay.usage() }
        exit(FileReplay.run(target, paths: Array(arguments.dropFirst())))
        #endif
    }
}

#if FUZZING
let selected: FuzzTarget = {
    guard let name = getenv("MCP_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
        fatalError("set MCP_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
