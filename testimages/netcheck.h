/* What the network test images share: results printed as "0", "3" or
 * "-1 ECONNREFUSED", so that golden output names the error a call gave. */
#ifndef NETCHECK_H
#define NETCHECK_H

#include <aurora.h>
#include <errno.h>
#include <stdio.h>

#define LOCALHOST IP(127, 0, 0, 1)

static inline const char *ename(int e)
{
	switch (e) {
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case EPIPE: return "EPIPE";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	}
	static char other[24];
	snprintf(other, sizeof other, "errno %d", e);
	return other;
}

/* res formats a call's result, with errno's name when it failed. Four
 * results can be in use at once (in one printf). */
static inline const char *res(long r)
{
	static char buf[4][48];
	static int next;
	char *b = buf[next++ % 4];
	if (r < 0)
		snprintf(b, sizeof buf[0], "%ld %s", r, ename(errno));
	else
		snprintf(b, sizeof buf[0], "%ld", r);
	return b;
}

#endif
