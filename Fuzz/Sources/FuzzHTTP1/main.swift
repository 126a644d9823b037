import SwiftLBProxy

/// libFuzzer's entry point: the HTTP/1 request and response parsers, framing and writer on
/// arbitrary bytes (see `CodecFuzzing`). Built with -parse-as-library so this file has no
/// top-level code.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    CodecFuzzing.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

/// SwiftPM links an executable target's entry point as `<Target>_main`; here it hands over to
/// libFuzzer's driver (which libFuzzer's own `main` would have called).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer, Int) -> CInt) -> CInt

@_cdecl("FuzzHTTP1_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { start, length in
        CodecFuzzing.run(UnsafeRawBufferPointer(start: start, count: length))
        return 0
    }
}
