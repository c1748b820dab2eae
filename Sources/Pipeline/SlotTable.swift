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
    /// holds one throughout, as `body` must not remove the object. (Counting cost two atomic operations for every
    /// TCP segment a connection's decoder was handed.) The reference is read as the bits it is stored as: taking
    /// the element out of the array as a value, even only to wrap it in `Unmanaged`, counted it all the same (the
    /// compiler cannot tell that `body` leaves the table alone).
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
