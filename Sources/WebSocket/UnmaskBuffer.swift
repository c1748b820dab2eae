/// Memory that whole client frames are unmasked into, shared by the streams one thread decodes: a message's bytes
/// are only used during the callback that hands it on, so one buffer serves them all — and stays in the core's
/// cache, where each stream's own buffer, one of 1000 on the 114 MB capture, was out of it by the stream's next
/// frame (210 000 of the unmasking copy's writes missed callgrind's model of a 1 MiB cache; none do now).
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
