// simdjson's UTF-8 validator (Keiser and Lemire's algorithm, several GB/s) behind a C function.
#include "imscope_simdjson.h"
#include <simdjson.h>

extern "C" int imscope_validate_utf8(const char *buf, size_t len) {
    return simdjson::validate_utf8(buf, len) ? 1 : 0;
}
