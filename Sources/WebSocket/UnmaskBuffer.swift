/// Memory that whole client frames are unmasked into, shared by the streams one thread decodes: a message's bytes
/// are only used during the callback that hands it on, so one buffer serves them all, and it stays in the cache
/// where a buffer per stream would not (Docs/performance.md).
public final class UnmaskBuffer {
    var base: UnsafeMutableRawPointer? = nil
    var capacity = 0

    public init() {}

    deinit { base?.deallocate() }

    /// Room for `count` bytes (what it held before is gone).
    func room(_ count: Int) -> UnsafeMutableRawPointer {
        if count > capacity || base == nil {
            base?.deallocate()
            capacity = max(count, 4096)
            base = .allocate(byteCount: capacity, alignment: 64)
        }
        return base!
    }

    /// Gives back memory a large message needed.
    func shrink() {
        if capacity > Self.keptCapacity {
            base?.deallocate()
            base = nil
            capacity = 0
        }
    }

    static let keptCapacity = 1 << 20
}
