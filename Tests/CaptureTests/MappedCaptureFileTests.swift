#if canImport(Glibc)
    import Foundation
    import Glibc
    import Testing

    @testable import Capture

    /// The stdio stream libpcap reads regular files through, the file mapped over its buffer a stretch at a time:
    /// every byte arrives once and in order across stretch boundaries, whatever the sizes of the reads, and a file
    /// that grows after its end was reached is followed.
    @Suite struct MappedCaptureFileTests {
        /// A file of `count` bytes of a pattern that differs at every offset of a stretch.
        func makeFile(_ count: Int) throws -> (path: String, bytes: [UInt8]) {
            var bytes = [UInt8](repeating: 0, count: count)
            for i in 0..<count { bytes[i] = UInt8(truncatingIfNeeded: ((i &* 2_654_435_761) >> 13) ^ (i >> 12)) }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("imscope-mapped-\(UUID()).bin")
                .path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (path, bytes)
        }

        /// Reads `file` to its end with freads of the sizes given, in turn.
        func readAll(_ file: UnsafeMutablePointer<FILE>, sizes: [Int]) -> [UInt8] {
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: sizes.max()!)
            var k = 0
            while true {
                let want = sizes[k % sizes.count]
                k += 1
                let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, want, file) }
                out += chunk[0..<n]
                if n < want { return out }
            }
        }

        @Test(arguments: [
            0, 1, 4095, MappedCaptureFile.bufferBytes, MappedCaptureFile.bufferBytes + 1,
            3 * MappedCaptureFile.bufferBytes + 12_345,
        ])
        func everyByteOnceInOrder(count: Int) throws {
            let (path, bytes) = try makeFile(count)
            defer { unlink(path) }
            let file = try #require(MappedCaptureFile.open(path))
            defer { fclose(file) }
            // libpcap's reads: a record header, then its data; and reads longer than the stdio buffer.
            #expect(readAll(file, sizes: [16, 334, 24, 1500, 7, MappedCaptureFile.bufferBytes + 3]) == bytes)
        }

        @Test func followsAFileThatGrows() throws {
            let first = MappedCaptureFile.bufferBytes + 1000
            let (path, bytes) = try makeFile(first + 5000)
            defer { unlink(path) }
            // Start with part of the file, read to its end, then let it grow and read on.
            #expect(truncate(path, off_t(first)) == 0)
            let file = try #require(MappedCaptureFile.open(path))
            defer { fclose(file) }
            var got = readAll(file, sizes: [16, 334])
            #expect(got == Array(bytes[0..<first]))
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.seekToEndOfFile()
            handle.write(Data(bytes[first...]))
            try handle.close()
            clearerr(file)
            got += readAll(file, sizes: [16, 334])
            #expect(got == bytes)
        }
    }
#endif
