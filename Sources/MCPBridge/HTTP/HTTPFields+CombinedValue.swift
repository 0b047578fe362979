import HTTPTypes

extension HTTPFields {
    /// The value of every `name` field joined as RFC 9110 §5.3 combines them (", "; "; " for
    /// Cookie): what `self[name]` returns, without its generic lazy-map join, which the compiler
    /// leaves unspecialised. The request path reads six headers per request; through the
    /// subscript they cost ~22,000 instructions, 6 % of a proxied call (callgrind, bench/NOTES.md).
    /// Names are compared by length first (a stored count), which rules out nearly every field
    /// before the string comparison: the request path makes ~90 of them per request.
    func combinedValue(_ name: HTTPField.Name) -> String? {
        var combined: String?
        let length = name.canonicalName.utf8.count
        for field in self where field.name.canonicalName.utf8.count == length && field.name == name {
            if let previous = combined {
                combined = previous + (name == .cookie ? "; " : ", ") + field.value
            } else {
                combined = field.value
            }
        }
        return combined
    }
}
