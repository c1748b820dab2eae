#ifndef IMSCOPE_CZLIB_SHIM_H
#define IMSCOPE_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro; Swift sees only the function behind it. */
static inline int imscope_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -15);
}
/* gzip or zlib header, detected (HTTP Content-Encoding). */
static inline int imscope_inflate_init_auto(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
/* Raw DEFLATE compression (the benchmark's permessage-deflate traffic). */
static inline int imscope_deflate_init_raw(z_stream *stream) {
    return deflateInit2(stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}
#endif
