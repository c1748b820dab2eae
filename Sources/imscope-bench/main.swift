// imscope-bench: generates protocol-valid Socket.IO captures and measures imscope against tshark on them.
//
//   imscope-bench generate --connections 500 --size-mb 114 [--deflate 0.2] [--seed 1] [--packet-gap-us 37] -o FILE
//   imscope-bench run [--sizes 10,114,1000] [--connections 500] [--runs 3] [--imscope PATH] [--baseline PATH]
//                     [--tshark-max-mb 200] [--tshark-runs 3] [--jobs N] [--dir .bench]
//
// `run` generates the captures it lacks (cached in --dir), runs `imscope read --format jsonl` to /dev/null
// several times and tshark --tshark-runs times per size (when installed, up to --tshark-max-mb), the two
// interleaved so that both are timed through the same spells of a machine whose speed drifts, and prints MB/s,
// packets/s, peak RSS (from wait4) and the ratio of the medians. It also checks that imscope decoded every Engine.IO
// packet the generator wrote. With --baseline, another imscope build runs interleaved with it, run for run, and is
// printed below it with the ratio of the two (before and after a change, side by side in one run).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func fail(_ message: String) -> Never {
    fputs("imscope-bench: \(message)\n", stderr)
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

func generate(
    path: String, connections: Int, sizeMB: Double, deflate: Double, seed: UInt64, packetGapMicros: UInt64 = 37
) -> GeneratedCounts {
    guard let writer = CaptureWriter(path: path) else { fail("cannot write \(path)") }
    writer.packetGap = packetGapMicros
    let generator = Generator(writer: writer, seed: seed, deflateShare: deflate)
    generator.run(connections: connections, targetBytes: UInt64(sizeMB * 1_000_000))
    let c = generator.counts
    // A sidecar with what was written, to check the decoder's counts.
    let sidecar = fopen(path + ".counts", "w")!
    fputs(
        "packets \(c.packets)\nbytes \(c.bytes)\nconnections \(c.connections)\neio \(c.eioPackets)\nsio \(c.sioPackets)\n"
            + "chat \(c.chatMessages)\n", sidecar)
    fclose(sidecar)
    return c
}

func readCounts(_ path: String) -> [String: UInt64]? {
    guard let f = fopen(path + ".counts", "r") else { return nil }
    defer { fclose(f) }
    var result: [String: UInt64] = [:]
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let parts = String(cString: line).split(separator: " ")
        if parts.count == 2, let v = UInt64(parts[1].trimmingCharacters(in: .newlines)) { result[String(parts[0])] = v }
    }
    return result
}

extension Substring {
    func trimmingCharacters(in _: CharacterSetNewlines) -> Substring {
        var s = self
        while s.last == "\n" || s.last == "\r" { s = s.dropLast() }
        return s
    }
}
enum CharacterSetNewlines { case newlines }

/// Runs a command with stdout to `stdoutPath` (or /dev/null); returns wall seconds and peak RSS in KiB.
func measure(_ argv: [String], stdoutPath: String = "/dev/null") -> (seconds: Double, maxRSSKiB: Int, status: Int32) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    var pid: pid_t = 0
    guard posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { fail("cannot run \(argv[0])") }
    posix_spawn_file_actions_destroy(&actions)
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    return (seconds, Int(usage.ru_maxrss), (status >> 8) & 0xff)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fileSize(_ path: String) -> Double {
    var st = stat()
    return stat(path, &st) == 0 ? Double(st.st_size) : 0
}

func which(_ name: String) -> Bool { measure(["sh", "-c", "command -v \(name) >/dev/null"]).status == 0 }

func format(_ v: Double, _ decimals: Int = 1) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([v]) { vsnprintf(&buf, 64, "%.\(decimals)f", $0) }
    return String(cString: buf)
}

/// Counts the eio and sio records of imscope's JSONL for one capture.
func countRecords(_ jsonl: String) -> (eio: UInt64, sio: UInt64) {
    guard let f = fopen(jsonl, "r") else { return (0, 0) }
    defer { fclose(f) }
    var eio: UInt64 = 0
    var sio: UInt64 = 0
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    while getline(&line, &cap, f) > 0 {
        let s = String(cString: line!)
        if s.hasPrefix("{\"kind\":\"eio\"") { eio += 1 } else if s.hasPrefix("{\"kind\":\"sio\"") { sio += 1 }
    }
    free(line)
    return (eio, sio)
}

let usage = """
    usage: imscope-bench generate --connections 500 --size-mb 114 [--deflate 0.2] [--seed 1] [--packet-gap-us 37] -o FILE
           imscope-bench run [--sizes 10,114,1000] [--connections 500] [--runs 3] [--imscope PATH] [--baseline PATH]
                             [--tshark-max-mb 200] [--tshark-runs 3] [--jobs N] [--deflate SHARE] [--dir .bench]
    """
guard let command = arguments.first else { fail(usage) }
arguments.removeFirst()
if command == "--help" || command == "-h" || arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
// Every option takes a value; an unknown one (a typo) is an error rather than silently ignored.
let known: [String: Set<String>] = [
    "generate": ["--connections", "--size-mb", "--deflate", "--seed", "--packet-gap-us", "-o"],
    "run": [
        "--sizes", "--connections", "--runs", "--imscope", "--baseline", "--tshark-max-mb", "--tshark-runs", "--jobs",
        "--deflate", "--dir",
    ],
]
if let allowed = known[command] {
    var i = 0
    while i < arguments.count {
        guard allowed.contains(arguments[i]), i + 1 < arguments.count else {
            fail("\(command): unexpected \"\(arguments[i])\"\n\(usage)")
        }
        i += 2
    }
}

switch command {
case "generate":
    guard let out = option("-o") else { fail("generate needs -o FILE") }
    let c = generate(
        path: out, connections: Int(option("--connections") ?? "500") ?? 500,
        sizeMB: Double(option("--size-mb") ?? "114") ?? 114, deflate: Double(option("--deflate") ?? "0") ?? 0,
        seed: UInt64(option("--seed") ?? "1") ?? 1, packetGapMicros: UInt64(option("--packet-gap-us") ?? "37") ?? 37)
    print(
        "wrote \(out): \(c.packets) packets, \(c.bytes) bytes, \(c.connections) connections, \(c.eioPackets) Engine.IO and \(c.sioPackets) Socket.IO packets"
    )
case "run":
    let dir = option("--dir") ?? ".bench"
    mkdir(dir, 0o755)
    let sizes = (option("--sizes") ?? "10,114").split(separator: ",").compactMap { Double($0) }
    let connections = Int(option("--connections") ?? "500") ?? 500
    let runs = Int(option("--runs") ?? "3") ?? 3
    let imscope = option("--imscope") ?? ".build/release/imscope"
    let baseline = option("--baseline")
    let tsharkMax = Double(option("--tshark-max-mb") ?? "200") ?? 200
    let tsharkRuns = max(1, Int(option("--tshark-runs") ?? "3") ?? 3)
    let deflate = Double(option("--deflate") ?? "0") ?? 0
    let extra = option("--jobs").map { ["--jobs", $0] } ?? []
    let haveTshark = which("tshark")
    print(
        "imscope-bench: \(connections) connections, sizes \(sizes.map { format($0, 0) }.joined(separator: ", ")) MB, \(runs) runs each (median), tshark \(tsharkRuns) interleaved (median), deflate share \(format(deflate, 2))"
    )
    print("")
    print(
        "size MB   packets    imscope s  MB/s     kpkt/s  peak RSS MiB   tshark s  MB/s   RSS MiB   speed-up  Engine.IO check"
    )
    for size in sizes {
        let path = "\(dir)/socketio-\(connections)c-\(format(size, 0))mb\(deflate > 0 ? "-deflate" : "").pcap"
        if readCounts(path) == nil || fileSize(path) == 0 {
            _ = generate(path: path, connections: connections, sizeMB: size, deflate: deflate, seed: 1)
        }
        let counts = readCounts(path) ?? [:]
        let bytes = fileSize(path)
        // imscope's runs in as many rounds as tshark runs, each round followed by one tshark run.
        let withTshark = haveTshark && size <= tsharkMax
        let rounds = withTshark ? min(tsharkRuns, runs) : 1
        var times: [Double] = []
        var rss = 0
        var baselineTimes: [Double] = []
        var baselineRSS = 0
        var tsharkTimes: [Double] = []
        var tsharkRSS = 0
        for round in 0..<rounds {
            for _ in 0..<(runs / rounds + (round < runs % rounds ? 1 : 0)) {
                let r = measure([imscope, "read", path, "--format", "jsonl"] + extra)
                if r.status != 0 { fail("imscope exited \(r.status) on \(path)") }
                times.append(r.seconds)
                rss = max(rss, r.maxRSSKiB)
                if let baseline {
                    let b = measure([baseline, "read", path, "--format", "jsonl"] + extra)
                    if b.status != 0 { fail("the baseline exited \(b.status) on \(path)") }
                    baselineTimes.append(b.seconds)
                    baselineRSS = max(baselineRSS, b.maxRSSKiB)
                }
            }
            if withTshark {
                let r = measure([
                    "tshark", "-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE", "-d",
                    "tcp.port==9092,http", "-Y", "websocket", "-T", "fields", "-e", "websocket.payload.text",
                ])
                tsharkTimes.append(r.seconds)
                tsharkRSS = max(tsharkRSS, r.maxRSSKiB)
            }
        }
        // Every Engine.IO packet decoded: the records equal what the generator wrote.
        let check = "\(dir)/check.jsonl"
        _ = measure([imscope, "read", path, "--format", "jsonl"] + extra, stdoutPath: check)
        let (eio, sio) = countRecords(check)
        unlink(check)
        let ok = eio == counts["eio", default: 0] && sio == counts["sio", default: 0]
        let t = median(times)
        var tsharkText = "       -      -         -         -"
        if withTshark {
            let ts = median(tsharkTimes)
            tsharkText =
                "\(pad(format(ts, 2), 8)) \(pad(format(bytes / 1e6 / ts), 6)) \(pad(format(Double(tsharkRSS) / 1024, 0), 8))  \(pad(format(ts / t, 1) + "x", 8))"
        }
        let packets = Double(counts["packets", default: 0])
        print(
            "\(pad(format(bytes / 1e6, 0), 8)) \(pad(String(Int(packets)), 10)) \(pad(format(t, 3), 9)) \(pad(format(bytes / 1e6 / t), 8)) \(pad(format(packets / t / 1000, 0), 7)) \(pad(format(Double(rss) / 1024, 1), 13))   \(tsharkText)  \(ok ? "ok" : "MISMATCH") (\(eio) eio, \(sio) sio)"
        )
        if !baselineTimes.isEmpty {
            let b = median(baselineTimes)
            print(
                "  baseline           \(pad(format(b, 3), 9)) \(pad(format(bytes / 1e6 / b), 8)) \(pad(format(packets / b / 1000, 0), 7)) \(pad(format(Double(baselineRSS) / 1024, 1), 13))   this build takes \(format(t / b * 100, 1)) % of the baseline's time"
            )
        }
    }
default:
    fail("unknown command \(command)")
}

func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
