import Records

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a renderer made of the keys a session's Socket.IO records start with (transport, sid, Engine.IO version;
/// in JSON Lines `,"transport":…,"sid":…,"eio":{…},"sio":{"type":"`), kept by the renderer for each connection
/// (``RenderedHeads``) and used again while they stay the same: rendering them for every record is costly
/// (Docs/performance.md).
final class RenderedHead {
    var transport: Transport? = nil
    var version = 0
    var sid: String? = nil
    var bytes: [UInt8] = []

    func holds(_ transport: Transport, _ version: Int, _ sid: String?) -> Bool {
        guard self.transport == transport, self.version == version else { return false }
        switch (self.sid, sid) {
        case (nil, nil): return true
        case (let a?, let b?): return Self.sameBytes(a, b)
        default: return false
        }
    }

    /// Byte for byte, not `==`: strings that are canonically equivalent but spelt differently are different sids.
    /// (Written out: nested in `withUTF8Bytes(of:_:)`, the comparison cost more.)
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let inPlace = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
            }
        }
        if let inPlace, let equal = inPlace { return equal }
        return a.utf8.elementsEqual(b.utf8)
    }
}

/// The renderer's ``RenderedHead`` of each connection, in a table of fixed size indexed by the connection's number
/// (a connection whose number shares the place of another's renders its keys again: a cache, never wrong).
struct RenderedHeads {
    static let size = 1024
    private let heads: [RenderedHead] = (0..<size).map { _ in RenderedHead() }
    /// The same, lent without counting references (`heads` holds them): a head is looked up for every record.
    private let lent: [Unmanaged<RenderedHead>]

    init() { lent = heads.map { .passUnretained($0) } }

    /// Calls `body` with the head kept for connection `conn`.
    @inline(__always)
    func lend<R>(_ conn: Int, _ body: (RenderedHead) -> R) -> R {
        lent[conn & (Self.size - 1)]._withUnsafeGuaranteedRef(body)
    }
}
