#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// One JSON object per line on stderr (stdout may carry protocol messages).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata.merging(event.metadata ?? [:]) { _, new in new }
        fields.removeValue(forKey: "time")
        var line = #"{"time":"\#(Self.timestamp())","level":"\#(event.level.rawValue)","logger":\#(JSONText.quoted(label)),"message":\#(JSONText.quoted(event.message.description))"#
        for key in fields.keys.sorted() {
            line += ",\(JSONText.quoted(key)):\(JSONText.quoted(fields[key]?.description ?? ""))"
        }
        line += "}\n"
        StandardError.write(line)
    }

    /// UTC, ISO 8601 with milliseconds (FoundationEssentials: no ICU data needed).
    private static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}
