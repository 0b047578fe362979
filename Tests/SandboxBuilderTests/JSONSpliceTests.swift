import Testing

@testable import SandboxBuilder

@Suite struct JSONSpliceTests {
    let value = OrderedJSON.object([("url", .string("http://127.0.0.1:8000/mcp"))])

    @Test func createsTheDocumentOrTheContainer() throws {
        #expect(try JSONSplice.upsert("", container: "servers", name: "a", value: value)
                == "{\n  \"servers\": {\n    \"a\": {\n      \"url\": \"http://127.0.0.1:8000/mcp\"\n    }\n  }\n}\n")
        #expect(try JSONSplice.upsert("{}", container: "servers", name: "a", value: .string("x"))
                == "{\n  \"servers\": {\n    \"a\": \"x\"\n  }\n}")
        #expect(try JSONSplice.upsert("{\"x\": 1}", container: "s", name: "a", value: .string("v"))
                == "{\"x\": 1,\n  \"s\": {\n    \"a\": \"v\"\n  }}")
        #expect(try JSONSplice.upsert("{\n    \"s\": {}\n}", container: "s", name: "a", value: .string("v"))
                == "{\n    \"s\": {\n      \"a\": \"v\"\n    }\n}")
    }

    @Test func replacesInPlaceAndKeepsTrailingCommasAndComments() throws {
        let text = "{ /* c */ \"s\": { \"b\": [1, {\"x\": \"}\"}], \"a\": \"old\", }, // end\n}"
        #expect(try JSONSplice.upsert(text, container: "s", name: "a", value: .string("new"))
                == "{ /* c */ \"s\": { \"b\": [1, {\"x\": \"}\"}], \"a\": \"new\", }, // end\n}")
        #expect(try JSONSplice.upsert("{\"s\": {\n  \"b\": 1,\n}}", container: "s", name: "c", value: .string("v"))
                == "{\"s\": {\n  \"b\": 1,\n  \"c\": \"v\",\n}}")
    }

    @Test func refusesWhatItCannotEditSafely() {
        for text in ["[]", "{\"s\": []}", "{\"s\": {\"a\": 1} x", "{\"s\": {\"a\": }}", "{\"s\": \"unterminated}", "/* lead ./ {\"x\": 1}", "// only a comment\n",
                     String(repeating: "{\"a\":", count: 300) + "1" + String(repeating: "}", count: 300)] {
            #expect(throws: JSONSplice.Failure.self) { try JSONSplice.upsert(text, container: "s", name: "a", value: .string("v")) }
        }
    }
}
