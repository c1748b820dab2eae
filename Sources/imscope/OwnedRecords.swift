import Capture
import IMProtocol
import Pipeline
import Records

/// Reads capture files through the one-thread pipeline up to the IM layer (the built-in v2 table, v1 beside it)
/// and hands every record, owned, to `sink`: what `replay`/`export` build a script from and `audit` follows
/// messages through. Returns false when nothing could be read at all (no packet, read errors); throws what opening
/// the files or building the pipeline throws.
func readOwnedRecords(files: [String], ports: [UInt16], anyPort: Bool, into sink: some OwnedRecordSink) throws -> Bool {
    let packets = try PacketSource(files: files, filter: nil)
    var o = PipelineOptions()
    o.layer = .im
    o.im = IMDecoder(table: try MessageTypeTable.builtin("v2"), others: [try MessageTypeTable.builtin("v1")])
    o.serverPorts = Set(ports)
    o.anyPort = anyPort
    let pipeline = try Pipeline(options: o, records: OwningSink(sink))
    pipeline.run(packets)
    return !(pipeline.summary.packets == 0 && pipeline.summary.readErrors > 0)
}
