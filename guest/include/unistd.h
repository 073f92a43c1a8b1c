/* unistd.h: Aurora has no POSIX layer; this names the Aurora interface. */
#ifndef _UNISTD_H
#define _UNISTD_H
#include <aurora.h>
#endif
