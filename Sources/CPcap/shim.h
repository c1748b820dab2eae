#ifndef IMSCOPE_CPCAP_SHIM_H
#define IMSCOPE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __linux__
#include <stdio_ext.h> /* __fsetlocking */
/* glibc's fopencookie, declared here because Swift's Glibc module is built without _GNU_SOURCE.
   The struct has the layout of glibc's cookie_io_functions_t. imscope uses it to hand libpcap a stream that
   replays the bytes it read from standard input to learn the capture's timestamp precision. */
typedef struct {
    ssize_t (*read)(void *cookie, char *buf, size_t size);
    ssize_t (*write)(void *cookie, const char *buf, size_t size);
    int (*seek)(void *cookie, long long *offset, int whence);
    int (*close)(void *cookie);
} imscope_cookie_io_functions;
extern FILE *fopencookie(void *cookie, const char *mode, imscope_cookie_io_functions functions);
#endif
#endif
