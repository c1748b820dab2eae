// Byte scans over long runs of text (base64 images and files inside JSON strings), 16 or 32 bytes at a time: the
// search for bytes a JSON string cannot hold, and a copy that notes line breaks; and WebSocket unmasking the same
// way. No library offers these two scans (simdjson keeps its string scanner internal) or the unmasking outside a
// network stack (SwiftNIO's works on its own buffers); they are a few lines of SSE2, which every x86-64 has, with an
// AVX2 variant chosen at run time, and a portable loop elsewhere.
#include "bytescan.h"

#include <stdint.h>

static size_t special_bytes(const uint8_t *p, size_t i, size_t n) {
    for (; i < n; i++) {
        uint8_t b = p[i];
        if (b == '"' || b == '\\' || b < 0x20) return i;
    }
    return n;
}

static int copy_line_break_bytes(uint8_t *d, const uint8_t *s, size_t i, size_t n) {
    int found = 0;
    for (; i < n; i++) {
        d[i] = s[i];
        found |= s[i] == '\n' || s[i] == '\r';
    }
    return found;
}

// Eight bytes at once in a word (little-endian): the high bit of each byte that is special. A bit can be set
// wrongly only above a byte that really is (a borrow carries upwards), so the lowest set bit is exact.
static inline uint64_t load64(const uint8_t *p) {
    uint64_t w;
    __builtin_memcpy(&w, p, 8);
    return w;
}
static inline uint64_t word_equal(uint64_t w, uint8_t b) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x = w ^ (ones * b);
    return (x - ones) & ~x & highs;
}
static inline uint64_t word_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    return word_equal(w, '"') | word_equal(w, '\\') | ((w - ones * 0x20) & ~w & highs);
}

// Short runs, 8 <= n: the first word, then the last one (overlapping what was checked, which holds nothing
// special, so its first hit is a new one); the words between one at a time. Shorter runs byte by byte.
static size_t special_short(const uint8_t *p, size_t i, size_t n) {
    if (n - i < 8) return special_bytes(p, i, n);
    for (; i + 8 <= n; i += 8) {
        uint64_t m = word_special(load64(p + i));
        if (m) return i + (size_t)(__builtin_ctzll(m) >> 3);
    }
    if (i == n) return n;
    uint64_t m = word_special(load64(p + n - 8));
    return m ? n - 8 + (size_t)(__builtin_ctzll(m) >> 3) : n;
}

// Copies 8 <= n bytes a word at a time, the last word overlapping the one before; whether any was a line break.
static int copy_line_break_words(uint8_t *d, const uint8_t *s, size_t n) {
    uint64_t found = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = load64(s + i);
        __builtin_memcpy(d + i, &w, 8);
        found |= word_equal(w, '\n') | word_equal(w, '\r');
    }
    if (i < n) {
        uint64_t w = load64(s + n - 8);
        __builtin_memcpy(d + n - 8, &w, 8);
        found |= word_equal(w, '\n') | word_equal(w, '\r');
    }
    return found != 0;
}

static int copy_line_break_short(uint8_t *d, const uint8_t *s, size_t n) {
    return n < 8 ? copy_line_break_bytes(d, s, 0, n) : copy_line_break_words(d, s, n);
}

static void unmask_bytes(uint8_t *d, const uint8_t *s, size_t i, size_t n, uint32_t pattern) {
    for (; i < n; i++) d[i] = s[i] ^ (uint8_t)(pattern >> (8 * (i & 3)));
}

// A word at a time; `i` stays a multiple of 4, so the pattern stays in step. The word of key bytes is laid out byte
// by byte, so it is right on a host of either byte order.
static void unmask_words(uint8_t *d, const uint8_t *s, size_t n, uint32_t pattern) {
    uint8_t bytes[8];
    for (int j = 0; j < 8; j++) bytes[j] = (uint8_t)(pattern >> (8 * (j & 3)));
    const uint64_t key = load64(bytes);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = load64(s + i) ^ key;
        __builtin_memcpy(d + i, &w, 8);
    }
    unmask_bytes(d, s, i, n, pattern);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static void unmask_avx2(uint8_t *d, const uint8_t *s, size_t n, uint32_t pattern) {
    const __m256i key = _mm256_set1_epi32((int)pattern);
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(s + i)), key));
    unmask_words(d + i, s + i, n - i, pattern);
}

static void unmask_sse2(uint8_t *d, const uint8_t *s, size_t n, uint32_t pattern) {
    const __m128i key = _mm_set1_epi32((int)pattern);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(d + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), key));
    unmask_words(d + i, s + i, n - i, pattern);
}

// The special bytes among the 32 at `p`, one bit each.
__attribute__((target("avx2"))) static inline unsigned special_mask_avx2(const uint8_t *p) {
    const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'), low = _mm256_set1_epi8(0x1F);
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    // x <= 0x1F (unsigned): the minimum of x and 0x1F is x.
    __m256i hit = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, quote), _mm256_cmpeq_epi8(x, backslash)),
                                  _mm256_cmpeq_epi8(_mm256_min_epu8(x, low), x));
    return (unsigned)_mm256_movemask_epi8(hit);
}

__attribute__((target("avx2"))) static size_t special_avx2(const uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        unsigned mask = special_mask_avx2(p + i);
        if (mask) return i + (size_t)__builtin_ctz(mask);
    }
    if (i == n) return n;
    if (n < 32) return special_short(p, i, n);
    // The last 32 bytes, overlapping bytes found clean: a hit is past them.
    unsigned mask = special_mask_avx2(p + n - 32);
    return mask ? n - 32 + (size_t)__builtin_ctz(mask) : n;
}

static inline unsigned special_mask_sse2(const uint8_t *p) {
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), low = _mm_set1_epi8(0x1F);
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(x, low), x));
    return (unsigned)_mm_movemask_epi8(hit);
}

static size_t special_sse2(const uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        unsigned mask = special_mask_sse2(p + i);
        if (mask) return i + (size_t)__builtin_ctz(mask);
    }
    if (i == n) return n;
    if (n < 16) return special_short(p, i, n);
    unsigned mask = special_mask_sse2(p + n - 16);
    return mask ? n - 16 + (size_t)__builtin_ctz(mask) : n;
}

// Copy and line-break test in one pass: 32 bytes at a time, the last block overlapping the one before.
__attribute__((target("avx2"))) static int copy_line_break_avx2(uint8_t *d, const uint8_t *s, size_t n) {
    if (n < 32) return copy_line_break_short(d, s, n);
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    __m256i found = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        _mm256_storeu_si256((__m256i *)(d + i), x);
        found = _mm256_or_si256(found, _mm256_or_si256(_mm256_cmpeq_epi8(x, lf), _mm256_cmpeq_epi8(x, cr)));
    }
    if (i < n) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + n - 32));
        _mm256_storeu_si256((__m256i *)(d + n - 32), x);
        found = _mm256_or_si256(found, _mm256_or_si256(_mm256_cmpeq_epi8(x, lf), _mm256_cmpeq_epi8(x, cr)));
    }
    return _mm256_movemask_epi8(found) != 0;
}

static int copy_line_break_sse2(uint8_t *d, const uint8_t *s, size_t n) {
    if (n < 16) return copy_line_break_short(d, s, n);
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    __m128i found = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        _mm_storeu_si128((__m128i *)(d + i), x);
        found = _mm_or_si128(found, _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
    }
    if (i < n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + n - 16));
        _mm_storeu_si128((__m128i *)(d + n - 16), x);
        found = _mm_or_si128(found, _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
    }
    return _mm_movemask_epi8(found) != 0;
}

int imscope_bytescan_level(void) { return __builtin_cpu_supports("avx2") ? 2 : 1; }

int imscope_copy_line_break_level(void *dst, const void *src, size_t n, int level) {
    return level >= 2 ? copy_line_break_avx2(dst, src, n)
        : level == 1  ? copy_line_break_sse2(dst, src, n)
                      : copy_line_break_bytes(dst, src, 0, n);
}

size_t imscope_find_json_string_special_level(const void *p, size_t n, int level) {
    return level >= 2 ? special_avx2(p, n) : level == 1 ? special_sse2(p, n) : special_bytes(p, 0, n);
}

void imscope_unmask_level(void *dst, const void *src, size_t n, uint32_t pattern, int level) {
    if (level >= 2) unmask_avx2(dst, src, n, pattern);
    else if (level == 1) unmask_sse2(dst, src, n, pattern);
    else unmask_bytes(dst, src, 0, n, pattern);
}

#else

int imscope_bytescan_level(void) { return 1; }  // the word-at-a-time scans

int imscope_copy_line_break_level(void *dst, const void *src, size_t n, int level) {
    return level >= 1 ? copy_line_break_short(dst, src, n) : copy_line_break_bytes(dst, src, 0, n);
}

size_t imscope_find_json_string_special_level(const void *p, size_t n, int level) {
    return level >= 1 ? special_short(p, 0, n) : special_bytes(p, 0, n);
}

void imscope_unmask_level(void *dst, const void *src, size_t n, uint32_t pattern, int level) {
    if (level >= 1) unmask_words(dst, src, n, pattern);
    else unmask_bytes(dst, src, 0, n, pattern);
}

#endif

size_t imscope_find_json_string_special(const void *p, size_t n) {
    return imscope_find_json_string_special_level(p, n, imscope_bytescan_level());
}

void imscope_unmask(void *dst, const void *src, size_t n, uint32_t pattern) {
    imscope_unmask_level(dst, src, n, pattern, imscope_bytescan_level());
}

int imscope_copy_line_break(void *dst, const void *src, size_t n) {
    return imscope_copy_line_break_level(dst, src, n, imscope_bytescan_level());
}
