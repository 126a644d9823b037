/// Keywords HAProxy 2.x removed (`reqadd`, `rspdel`, …).
extension KeywordRegistry {
    static let legacyKeywords: [Keyword] = []
}
