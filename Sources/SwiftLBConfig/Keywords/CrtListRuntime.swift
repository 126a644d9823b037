/// A `crt-list` line given at run time (`add ssl crt-list FILE <line>` on the stats socket):
/// read as a line of the file is, its `[…]` options applied over the bind line's settings.
extension BindTLS {
    /// The entry for `line`, numbered `lineNumber` in `file`; the error is HAProxy-like text.
    public func runtimeCrtListEntry(_ line: String, file: String, lineNumber: Int,
                                    configuration: Configuration) throws(CrtListLineError) -> CertificateListEntry? {
        do throws(ParseFailure) {
            guard var entry = try KeywordRegistry.certificateListLine(line, crtBase: configuration.global.crtBase, file: file, line: lineNumber) else {
                return nil
            }
            if !entry.options.isEmpty {
                var settings = self
                settings.certificates = []
                settings.more.certificateList = []
                let parser = SectionParser(file: file)
                parser.config = configuration
                do {
                    try KeywordRegistry.crtListOptions.parse(entry.options[...], into: &settings, parser: parser)
                } catch let error as ParseFailure {
                    throw error
                } catch {
                    throw ParseFailure("\(error)")
                }
                entry.settings = settings
            }
            return entry
        } catch {
            throw CrtListLineError(message: error.message)
        }
    }
}

/// Why a run-time crt-list line was refused.
public struct CrtListLineError: Error, Sendable {
    public let message: String
}
