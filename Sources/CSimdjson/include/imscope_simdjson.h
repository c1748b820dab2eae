// A C face for the one simdjson function imscope uses, so Swift calls it without C++ interop.
#ifndef IMSCOPE_SIMDJSON_H
#define IMSCOPE_SIMDJSON_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether `buf[0..<len]` is valid UTF-8 (RFC 3629: no overlong forms, surrogates or code points above
/// U+10FFFF), checked with SIMD instructions chosen at run time for the CPU.
int imscope_validate_utf8(const char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
