import Testing

@testable import SandboxBuilder

@Suite struct YAMLValueTests {
    @Test func stringsThatWouldChangeTypeAreQuoted() {
        for text in ["true", "False", "yes", "no", "on", "off", "null", "~", "8000", "1.0", "1e3", "0x1F", ".5", "12:30", "", " lead",
                     "trail ", "a: b", "a #b", "key:", "- item", "-", "*alias", "&anchor", "!tag", "{x}", "[x]", "'q'", "\"q\"", "%x", "@x",
                     "`x", "|", ">", "line\nbreak", "tab\tin", "::/0"] {
            #expect(!YAMLValue.isPlainSafe(text), "\(text) must be quoted")
        }
        for text in ["mcp-time", "--port", "/usr/local/bin/mcp-bridge", "http://127.0.0.1:8001/mcp", "app.kubernetes.io/name",
                     "PYTHONDONTWRITEBYTECODE,PYTHONUNBUFFERED", "512Mi", "RuntimeDefault", "0.0.0.0/0", "fc00::/7", "a b"] {
            #expect(YAMLValue.isPlainSafe(text), "\(text) can stay plain")
        }
    }

    @Test func blockStyleNestsMappingsAndSequencesAsKubectlPrintsThem() {
        let value: YAMLValue = .mapping([
            ("name", .string("x")),
            ("count", .integer(3)),
            ("flag", .boolean(false)),
            ("empty", .sequence([])),
            ("nothing", .mapping([])),
            ("items", .sequence([.mapping([("a", .string("1")), ("b", .sequence([.string("c")]))]), .string("plain")])),
            ("nested", .mapping([("deep", .mapping([("k", .string("v"))]))])),
        ])
        #expect(value.document == """
            name: x
            count: 3
            flag: false
            empty: []
            nothing: {}
            items:
            - a: "1"
              b:
              - c
            - plain
            nested:
              deep:
                k: v

            """)
    }
}
