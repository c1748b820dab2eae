#if canImport(Glibc)
    import CPcap
    import Glibc

    /// A capture file handed to libpcap as a stdio stream whose buffer is the file itself: each time stdio refills
    /// its buffer, the next stretch of the file is mapped read-only over it, so the bytes arrive without the kernel
    /// copying them (`read(2)` into a buffer is a copy of every byte, 5 % of a run's samples in `_copy_to_iter`).
    /// libpcap's `fread`s then copy out of it as they did.
    ///
    /// Measured in C on the 114 MB capture, a stdio loop of libpcap's reads: `read(2)` into a 1 MiB buffer 34–41 ms,
    /// this 28–32 ms. (Mapping the file and copying out of it through a second buffer, or unbuffered — where glibc
    /// calls a stream's reader one byte at a time — gains nothing.) Only regular files are read this way. Each
    /// stretch is mapped through the file's size when it is reached, so a file that grows while it is read is
    /// followed as `read(2)` follows it; one cut shorter while it is read would fault. Where stdio asks for anything
    /// but the next whole stretch into its buffer, the bytes are read with `pread(2)`.
    final class MappedCaptureFile {
        let fd: Int32
        /// The stdio buffer: address space of `bufferBytes`, anonymous memory until the file is mapped over it.
        let buffer: UnsafeMutableRawPointer
        /// The file offset of the next byte to hand over.
        var position = 0
        /// False once the file could not be mapped: it is read from then on.
        var mappable = true

        /// Bytes mapped at a time (a multiple of the page size): what the buffer adds to resident memory.
        static let bufferBytes = 2 << 20

        init?(fd: Int32) {
            guard let p = mmap(nil, Self.bufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                p != MAP_FAILED
            else { return nil }
            self.fd = fd
            buffer = p
        }

        deinit {
            munmap(buffer, Self.bufferBytes)
            Glibc.close(fd)
        }

        /// A stdio stream over the regular file `path`, for libpcap; nil when it cannot be opened.
        static func open(_ path: String) -> UnsafeMutablePointer<FILE>? {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            guard let reader = MappedCaptureFile(fd: fd) else {
                Glibc.close(fd)
                return nil
            }
            var functions = imscope_cookie_io_functions()
            functions.read = { cookie, buffer, size in
                Unmanaged<MappedCaptureFile>.fromOpaque(cookie!).takeUnretainedValue().read(into: buffer!, size)
            }
            functions.close = { cookie in
                Unmanaged<MappedCaptureFile>.fromOpaque(cookie!).release()
                return 0
            }
            let cookie = Unmanaged.passRetained(reader).toOpaque()
            guard let file = fopencookie(cookie, "r", functions) else {
                Unmanaged<MappedCaptureFile>.fromOpaque(cookie).release()
                return nil
            }
            setvbuf(file, reader.buffer.assumingMemoryBound(to: CChar.self), _IOFBF, bufferBytes)
            // One thread reads the stream: glibc need not lock it for each fread once the process has threads.
            _ = __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
            return file
        }

        /// stdio's refill: up to `size` bytes into `into` from the current position; 0 at the end, -1 on an error.
        func read(into target: UnsafeMutablePointer<CChar>, _ size: Int) -> Int {
            var st = stat()
            guard fstat(fd, &st) == 0 else { return -1 }
            let left = Int(st.st_size) - position
            guard left > 0 else { return 0 }
            let length = min(size, left)
            let intoBuffer = UnsafeMutableRawPointer(target) == buffer
            if intoBuffer && mappable && size == Self.bufferBytes && position % Self.bufferBytes == 0 {
                let p = mmap(buffer, length, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, off_t(position))
                if let p, p != MAP_FAILED {
                    position += length
                    return length
                }
                mappable = false
            }
            // Read instead: into writable memory again where the file was mapped.
            if intoBuffer {
                let p = mmap(
                    buffer, Self.bufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                guard let p, p != MAP_FAILED else { return -1 }
            }
            let n = pread(fd, target, length, off_t(position))
            if n > 0 { position += n }
            return n
        }
    }
#endif
