import Capture
import ImscopeCore
import Records

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes reassembled streams to files, one per connection and direction (like tcpflow), for inspection and for
/// comparing with other tools. Missing bytes are not written.
public final class StreamFiles {
    let directory: String
    var open: [Int: (c2s: Int32, s2c: Int32)] = [:]

    init(directory: String) throws(CaptureError) {
        self.directory = directory
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw CaptureError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    func write(conn: Int, dir: Direction, _ bytes: UnsafeRawBufferPointer) {
        var fds = open[conn] ?? (-1, -1)
        var fd = dir == .c2s ? fds.c2s : fds.s2c
        if fd < 0 {
            fd = Glibc.open("\(directory)/\(conn).\(dir.name)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if dir == .c2s { fds.c2s = fd } else { fds.s2c = fd }
            open[conn] = fds
        }
        guard fd >= 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }

    func close(conn: Int) {
        guard let fds = open.removeValue(forKey: conn) else { return }
        if fds.c2s >= 0 { Glibc.close(fds.c2s) }
        if fds.s2c >= 0 { Glibc.close(fds.s2c) }
    }

    func closeAll() {
        for conn in Array(open.keys) { close(conn: conn) }
    }
}
