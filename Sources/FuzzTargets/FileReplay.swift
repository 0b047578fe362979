#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import MCPBridge

/// Runs files (or every file in given folders) through a fuzz target without libFuzzer.
public enum FileReplay {
    /// - Returns: the exit status: 0 when every input ran, 1 when a path could not be read.
    public static func run(_ target: FuzzTarget, paths: [String]) -> Int32 {
        var inputs = 0
        for path in paths {
            let files: [String]
            if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                files = names.sorted().map { path + "/" + $0 }
            } else {
                files = [path]
            }
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    StandardError.write("mcp-fuzz: cannot read \(file)\n")
                    return 1
                }
                data.withUnsafeBytes { target.run($0) }
                inputs += 1
            }
        }
        print("mcp-fuzz: \(target.rawValue): \(inputs) inputs, no failure")
        return 0
    }

    public static func usage() -> Never {
        StandardError.write("usage: mcp-fuzz TARGET FILE_OR_FOLDER... (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))\n")
        exit(2)
    }
}
