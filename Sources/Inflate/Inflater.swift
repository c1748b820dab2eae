import CZlib

/// Raw DEFLATE decompression for permessage-deflate (RFC 7692), through zlib, with the output bounded.
///
/// One inflater per direction. With context takeover the LZ77 window carries from message to message, so the
/// whole of every message must be inflated to keep later ones decodable — past the size limit the output is
/// counted and discarded, not kept, so memory stays bounded while the context stays right.
public final class Inflater {
    private var stream = z_stream()
    private var ready = false
    /// Scratch for output beyond what the caller keeps.
    private var scratch = [UInt8](repeating: 0, count: 64 << 10)

    /// A raw DEFLATE inflater (permessage-deflate); with `httpWrapper`, one that reads a gzip or zlib stream
    /// (HTTP `Content-Encoding: gzip` or `deflate`), detecting which from its header.
    public init(httpWrapper: Bool = false) {
        ready = (httpWrapper ? imscope_inflate_init_auto(&stream) : imscope_inflate_init_raw(&stream)) == Z_OK
    }

    deinit { if ready { inflateEnd(&stream) } }

    /// Forgets the window (no context takeover, or after a failure).
    public func reset() {
        if ready { inflateReset(&stream) } else { ready = imscope_inflate_init_raw(&stream) == Z_OK }
    }

    public enum Result { case ok, failed(String) }

    /// Inflates `input`; output goes to `keep` until it holds `keepLimit` bytes, the rest is only counted in
    /// `produced`. Stops early (returning ok) once `produced` reaches `workLimit`.
    public func inflate(
        _ input: UnsafeRawBufferPointer, into keep: inout [UInt8], keepLimit: Int, produced: inout UInt64,
        workLimit: UInt64
    ) -> Result {
        guard ready else { return .failed("zlib could not be initialised") }
        guard input.count > 0 else { return .ok }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        defer {
            stream.next_in = nil
            stream.avail_in = 0
        }
        while true {
            if produced >= workLimit { return .ok }
            // Never produce past the work limit: the length reported must not depend on how input was split.
            let room = Int(min(UInt64(scratch.count), workLimit - produced))
            let (rc, made, full): (Int32, Int, Bool) = scratch.withUnsafeMutableBytes { out in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(room)
                let rc = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                let made = room - Int(stream.avail_out)
                let keepRoom = keepLimit - keep.count
                if keepRoom > 0 && made > 0 {
                    keep.append(contentsOf: UnsafeRawBufferPointer(rebasing: out[0..<min(keepRoom, made)]))
                }
                return (rc, made, stream.avail_out == 0)
            }
            produced += UInt64(made)
            switch rc {
            case Z_OK:
                // Done when the input is used up and zlib had room to spare (nothing more is pending).
                if stream.avail_in == 0 && !full { return .ok }
            case Z_BUF_ERROR:
                return .ok  // no progress possible: the input is used up
            case Z_STREAM_END:
                // A final block (BFINAL) ends this DEFLATE stream; what follows starts a new one.
                inflateReset(&stream)
                if stream.avail_in == 0 { return .ok }
            default:
                return .failed(stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)")
            }
        }
    }
}

/// Decodes an HTTP body sent with `Content-Encoding: gzip` or `deflate` (a zlib stream, or raw DEFLATE as some
/// servers send it), keeping at most `limit` bytes. Nil when it does not inflate.
public func inflateHTTPBody(_ body: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
    var out: [UInt8] = []
    var produced: UInt64 = 0
    if case .ok = Inflater(httpWrapper: true).inflate(
        body, into: &out, keepLimit: limit, produced: &produced, workLimit: UInt64(limit) + 1)
    {
        return out
    }
    out.removeAll()
    produced = 0
    if case .ok = Inflater().inflate(
        body, into: &out, keepLimit: limit, produced: &produced, workLimit: UInt64(limit) + 1)
    {
        return out
    }
    return nil
}
