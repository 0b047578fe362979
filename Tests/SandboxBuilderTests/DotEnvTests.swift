import Testing

@testable import SandboxBuilder

@Suite struct DotEnvTests {
    @Test func parsesEveryDocumentedForm() throws {
        let text = """
            # a comment
            PLAIN=value with spaces   # trailing comment
            export EXPORTED=yes
            SINGLE='literal ${PLAIN} \\n # not a comment'
            DOUBLE="tab\\there \\"quoted\\" \\$ dollar"
            EXPANDED="${PLAIN}!"
            BARE=${EXPORTED}-bare
            FALLBACK=${MISSING:-default}
            FROM_ENV=${HOME_DIR}
            MULTI="line one
            line two"
            EMPTY=
            SPACED = around
            HASH=a#b
            """
        let values = try DotEnv.values(text, environment: ["HOME_DIR": "/home/x"])
        #expect(values["PLAIN"] == "value with spaces")
        #expect(values["EXPORTED"] == "yes")
        #expect(values["SINGLE"] == "literal ${PLAIN} \\n # not a comment")
        #expect(values["DOUBLE"] == "tab\there \"quoted\" $ dollar")
        #expect(values["EXPANDED"] == "value with spaces!")
        #expect(values["BARE"] == "yes-bare")
        #expect(values["FALLBACK"] == "default")
        #expect(values["FROM_ENV"] == "/home/x")
        #expect(values["MULTI"] == "line one\nline two")
        #expect(values["EMPTY"] == "")
        #expect(values["SPACED"] == "around")
        #expect(values["HASH"] == "a#b")
    }

    @Test func laterAssignmentsWinAndCRLFFilesWork() throws {
        let values = try DotEnv.values("A=1\r\nA=2\r\nB=\"x\"\r\n")
        #expect(values["A"] == "2")
        #expect(values["B"] == "x")
    }

    @Test(arguments: [
        ("A=1\nB=\"never closed\nC=3\n", 2, "unterminated double-quoted value"),
        ("A=1\n\nB='open\n", 3, "unterminated single-quoted value"),
        ("GOOD=1\n1BAD=2\n", 2, "'1BAD' is not a valid variable name"),
        ("NOEQUALS\n", 1, "expected '=' after NOEQUALS"),
        ("A=\"x\" trailing\n", 1, "unexpected text after the closing quote"),
        ("A=${UNCLOSED\n", 1, "unterminated ${ in value"),
        ("A=${BAD-NAME}\n", 1, "'${BAD-NAME}' does not name a variable"),
        ("A=1\nMCP_PORT=${UNDEFINED_PORT}\n", 2, "${UNDEFINED_PORT} is not set: define UNDEFINED_PORT earlier in the file or in the environment, or give a default with ${UNDEFINED_PORT:-value}"),
        ("A=\"x ${NOPE} y\"\n", 1, "${NOPE} is not set: define NOPE earlier in the file or in the environment, or give a default with ${NOPE:-value}"),
    ] as [(String, Int, String)])
    func errorsNameTheFileLineAndProblem(text: String, line: Int, problem: String) {
        do {
            _ = try DotEnv.parse(text, file: "deploy/.env")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error == DotEnv.ParseError(file: "deploy/.env", line: line, problem: problem))
            #expect(error.description == "deploy/.env:\(line): \(problem)")
        }
    }
}
