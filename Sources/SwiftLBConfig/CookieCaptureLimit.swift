extension SectionParser {
    /// `capture cookie … len N` longer than `tune.http.cookielen` allows is cut, with
    /// HAProxy's warning (it checks once the whole file is read, whatever the order).
    func limitCookieCaptures() {
        let limit = config.global.cookieCaptureLimit
        for i in config.frontends.indices {
            guard let capture = config.frontends[i].cookieCapture, capture.length > limit else { continue }
            let kind = listenNames.contains(config.frontends[i].name) ? "proxy" : "frontend"
            warn(config.frontends[i].line, "capture cookie", "truncating capture length to \(limit) bytes for \(kind) '\(config.frontends[i].name)'.")
            config.frontends[i].cookieCapture?.length = limit
        }
    }
}
