#ifndef SWIFTLB_CZLIB_SHIM_H
#define SWIFTLB_CZLIB_SHIM_H
/* System zlib (apt: zlib1g-dev). deflateInit2 is a macro Swift cannot import. */
#include <zlib.h>

static inline int swiftlb_deflate_init(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
#endif
