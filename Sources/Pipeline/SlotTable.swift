#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Values under small numbers (a connection's `slot`), the numbers of removed values given out again.
public struct SlotTable<Value> {
    private var values: [Value?] = []
    private var free: [Int] = []

    /// Stores `value` and returns its number.
    public init() {}

    public mutating func insert(_ value: Value) -> Int {
        if let slot = free.popLast() {
            values[slot] = value
            return slot
        }
        values.append(value)
        return values.count - 1
    }

    public mutating func remove(at slot: Int) {
        values[slot] = nil
        free.append(slot)
    }

    public subscript(slot: Int) -> Value? { values[slot] }
}

extension SlotTable where Value: AnyObject {
    /// Calls `body` with the object in `slot`, if there is one, lent without counting a reference to it: the table
    /// holds one throughout, as `body` must not remove the object. The reference is read as the bits it is stored
    /// as, since taking the element out of the array counts it (Docs/performance.md).
    @inline(__always)
    public func lend(_ slot: Int, _ body: (Value) -> Void) {
        precondition(MemoryLayout<Value?>.size == MemoryLayout<UnsafeRawPointer>.size)  // a class: one pointer
        values.withUnsafeBufferPointer { stored in
            guard let bits = UnsafeRawPointer(stored.baseAddress! + slot).load(as: UnsafeRawPointer?.self) else {
                return
            }
            Unmanaged<Value>.fromOpaque(bits)._withUnsafeGuaranteedRef(body)
        }
    }
}
