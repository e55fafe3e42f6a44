// SPDX-License-Identifier: GPL-2.0
/*
 * read_ahead.c - drain a device's data fd while the previous chunk is sent.
 *
 * Reading a chunk from the data fd and sending it are both copies; done in
 * turn by one thread, a device's stop-copy takes their sum.  Here a reader
 * thread fills one buffer while the caller's sink consumes the other, so it
 * takes about the longer of the two.  The reader is started per drain (not
 * per transition) and always runs to a chunk boundary before it is joined:
 * a STOP_COPY read returns once the device produced the data.  A device
 * that expects no more than a chunk (an idle, pre-copied one) is read
 * inline: starting and waking a thread would only add to its downtime.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "session_internal.h"

#define NBUF 2

struct slot {
	uint8_t *buf;
	size_t len;
	int ret;		/* the read's result */
	bool full;
};

struct read_ahead {
	struct vfiomig_device *dev;
	size_t chunk;
	struct slot s[NBUF];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;		/* the sink failed: read no further */
	uint64_t read_ns;
};

static void *reader(void *arg)
{
	struct read_ahead *ra = arg;

	for (unsigned k = 0;; k = (k + 1) % NBUF) {
		struct slot *sl = &ra->s[k];
		uint64_t t0;
		size_t got = 0;
		bool stop;
		int ret;

		pthread_mutex_lock(&ra->lock);
		while (sl->full && !ra->stop)
			pthread_cond_wait(&ra->cond, &ra->lock);
		stop = ra->stop;
		pthread_mutex_unlock(&ra->lock);
		if (stop)
			return NULL;
		t0 = vfiomig_now_ns();
		ret = vfiomig_device_read(ra->dev, sl->buf, ra->chunk, &got);
		pthread_mutex_lock(&ra->lock);
		ra->read_ns += vfiomig_now_ns() - t0;
		sl->len = got;
		sl->ret = ret;
		sl->full = true;
		pthread_cond_broadcast(&ra->cond);
		pthread_mutex_unlock(&ra->lock);
		if (ret || !got)
			return NULL;	/* error or end of stream: reported */
	}
}

/* A stream of about one chunk: a helper thread would only add latency. */
static int read_inline(struct vfiomig_device *dev, void *buf, size_t chunk,
		       vm_sink_fn sink, void *arg, uint64_t *read_ns,
		       uint64_t *total)
{
	for (;;) {
		uint64_t t0 = vfiomig_now_ns();
		size_t got = 0;
		int ret = vfiomig_device_read(dev, buf, chunk, &got);

		*read_ns += vfiomig_now_ns() - t0;
		if (ret || !got)
			return ret;
		ret = sink(arg, buf, got);
		if (ret)
			return ret;
		*total += got;
	}
}

int vm_read_ahead(struct vfiomig_device *dev, void *buf, size_t chunk,
		  uint64_t expect, vm_sink_fn sink, void *arg,
		  uint64_t *read_ns, uint64_t *total)
{
	struct read_ahead ra = { .dev = dev, .chunk = chunk };
	pthread_t th;
	int ret = 0;

	*total = 0;
	if (expect <= chunk)
		return read_inline(dev, buf, chunk, sink, arg, read_ns, total);
	for (unsigned k = 0; k < NBUF; k++) {
		ra.s[k].buf = malloc(chunk);
		if (!ra.s[k].buf)
			ret = -ENOMEM;
	}
	pthread_mutex_init(&ra.lock, NULL);
	pthread_cond_init(&ra.cond, NULL);
	if (!ret)
		ret = -pthread_create(&th, NULL, reader, &ra);
	if (ret)
		goto out;

	for (unsigned k = 0;; k = (k + 1) % NBUF) {
		struct slot *sl = &ra.s[k];

		pthread_mutex_lock(&ra.lock);
		while (!sl->full)
			pthread_cond_wait(&ra.cond, &ra.lock);
		pthread_mutex_unlock(&ra.lock);
		ret = sl->ret;
		if (ret || !sl->len)
			break;
		ret = sink(arg, sl->buf, sl->len);
		if (ret)
			break;
		*total += sl->len;
		pthread_mutex_lock(&ra.lock);
		sl->full = false;
		pthread_cond_broadcast(&ra.cond);
		pthread_mutex_unlock(&ra.lock);
	}
	pthread_mutex_lock(&ra.lock);
	ra.stop = true;
	pthread_cond_broadcast(&ra.cond);
	pthread_mutex_unlock(&ra.lock);
	pthread_join(th, NULL);
out:
	*read_ns += ra.read_ns;
	pthread_cond_destroy(&ra.cond);
	pthread_mutex_destroy(&ra.lock);
	for (unsigned k = 0; k < NBUF; k++)
		free(ra.s[k].buf);
	return ret;
}
