import Testing
@testable import MCPBridge
