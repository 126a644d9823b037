/// keepalived.conf's blocks read verbatim.
extension KeywordRegistry {
    static let keepalivedKeywords: [Keyword] = []
}
