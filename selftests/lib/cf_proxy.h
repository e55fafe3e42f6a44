/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cf_proxy.h - a unix-socket relay between a migration source and its
 * destination that forwards the source's bytes untouched, or flips one
 * byte, or cuts the stream, at a chosen offset.  It lets the suite hand a
 * destination a truncated or corrupt stream without knowing the wire
 * format, so any engine version is judged the same way.
 */
#ifndef VFIO_MIGTEST_CF_PROXY_H
#define VFIO_MIGTEST_CF_PROXY_H

#include <pthread.h>
#include <stdint.h>

enum cf_proxy_mode { CF_PROXY_CLEAN, CF_PROXY_CORRUPT, CF_PROXY_TRUNCATE };

struct cf_proxy {
	char front[108];		/* the source connects here */
	char back[108];			/* the destination listens here */
	int mode;
	uint64_t at;			/* offset of the flip or the cut */
	uint64_t forwarded;		/* source -> destination bytes */
	int lfd;
	pthread_t th;
};

/* Listen on @p->front and relay to @p->back until both sides close. */
int cf_proxy_start(struct cf_proxy *p);
/* Wait for the relay to end (the sessions are over) and clean up. */
void cf_proxy_stop(struct cf_proxy *p);

#endif /* VFIO_MIGTEST_CF_PROXY_H */
