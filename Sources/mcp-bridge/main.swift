// The entry point: synchronous, so the main thread is never handed to dispatch_main (see MainThread).
MCPBridgeCommand.launch()
