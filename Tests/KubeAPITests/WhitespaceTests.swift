import KubeAPI
import Testing

@Suite("Trimming white space")
struct WhitespaceTests {
    @Test("leading and trailing Unicode white space goes, inner stays; text with nothing to trim comes back whole", arguments: [
        ("5", "5"), (" 5 ", "5"), ("\t30s\n", "30s"), ("\r\n x y \r\n", "x y"), ("\u{00A0}5\u{2003}", "5"), ("\u{3000}", ""), ("", ""),
        ("   ", ""), ("a\u{301}", "a\u{301}"), ("é ", "é"), ("\u{2028}x", "x"), ("x\u{85}", "x"), ("ü", "ü"),
    ])
    func trims(text: String, trimmed: String) {
        #expect(text.trimmingWhitespace() == trimmed)
        #expect(text[...].trimmingWhitespace() == trimmed, "a substring trims alike")
    }
}
