#ifndef IMSCOPE_BYTESCAN_H
#define IMSCOPE_BYTESCAN_H

#include <stddef.h>
#include <stdint.h>

/// The offset of the first byte of `p[0..<n]` that a JSON string cannot hold as it is (a quote, a backslash or a
/// control character below 0x20), or `n` when there is none.
size_t imscope_find_json_string_special(const void *p, size_t n);

/// Copies `src[0..<n]` to `dst` (which must not overlap it) and tells whether the bytes held a line feed or a
/// carriage return: one pass where a copy and a scan for line breaks were two.
int imscope_copy_line_break(void *dst, const void *src, size_t n);

/// The same scans with a given instruction set: 2 for AVX2 (when the CPU has it), 1 for SSE2, 0 byte by byte. For
/// the tests, which check every variant the machine can run against the others.
size_t imscope_find_json_string_special_level(const void *p, size_t n, int level);
int imscope_copy_line_break_level(void *dst, const void *src, size_t n, int level);
/// WebSocket unmasking (RFC 6455 section 5.3): `dst[i] = src[i] ^ (pattern >> (8 * (i % 4)))`, the low byte of
/// `pattern` first (the masking key already turned to where `src` starts in the payload). `dst` may be `src`.
void imscope_unmask(void *dst, const void *src, size_t n, uint32_t pattern);
void imscope_unmask_level(void *dst, const void *src, size_t n, uint32_t pattern, int level);
/// For threads that wait a moment by spinning before they sleep (`--jobs`): a count read without a lock by one
/// thread and written under one by another, and the CPU's hint that a loop is spinning.
static inline long imscope_load_acquire(const long *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void imscope_store_release(long *p, long v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void imscope_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
/// Asks for the cache line at `p` to be loaded ahead of its use: a hint, which does nothing where `p` is not
/// mapped.
static inline void imscope_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
/// The highest level this CPU runs.
int imscope_bytescan_level(void);

#endif
