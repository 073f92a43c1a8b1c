/* gcc's own <stdint.h> defers to the C library's when compiling hosted
 * code (the default for programs), so the guest supplies this one, built on
 * gcc's freestanding definitions. */
#ifndef _STDINT_H
#define _STDINT_H
#include <stdint-gcc.h>
#endif
