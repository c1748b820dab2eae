/// How deep to decode; records of that layer are the output (`conn` and `diagnostic` records at every layer).
public enum Layer: String, CaseIterable, Sendable {
    case tcp, ws, eio, sio, im

    /// Whether decoding reaches `layer`.
    public func reaches(_ layer: Layer) -> Bool {
        Layer.allCases.firstIndex(of: self)! >= Layer.allCases.firstIndex(of: layer)!
    }
}
