#ifndef SWIFTLB_CPCRE2_SHIM_H
#define SWIFTLB_CPCRE2_SHIM_H
/* pcre2.h requires the code unit width before inclusion; SwiftLB matches bytes (UTF-8). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
