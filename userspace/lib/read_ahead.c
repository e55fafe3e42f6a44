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
 * So is the first chunk of every other stream, because the estimate can
 * be far too high (mlx5 and mockvf's cx7 profile report a whole image as
 * the stop-copy size of a device with a few pages left): a stream that
 * ends within its first chunk never starts the reader.  With 16 such
 * devices in one switchover, starting, naming and joining 16 threads cost
 * the downtime about 10 ms of CPU on the rig's two emulated vCPUs.
 * A sink may keep the buffer it was given (an in-memory channel queues
 * it as the record itself); the reader then gets a fresh one from the
 * buffer provider, so the chunk is never copied again.
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
	const struct vm_buf_ops *bufs;
	struct slot s[NBUF];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;		/* the sink failed: read no further */
	uint64_t read_ns;
};

/*
 * Read until @buf holds @chunk bytes or the stream ends.  A device returns
 * what it has queued (mlx5 one firmware buffer, mockvf up to 1 MiB), so a
 * single read often brings a fraction of a chunk; every chunk becomes a
 * record that is handed to a sender, a receiver and a loader thread, and
 * under emulation those wake-ups cost more than the reads.  Bytes read
 * before an error are dropped with the stream: the error ends the drain.
 */
static int fill(struct vfiomig_device *dev, uint8_t *buf, size_t chunk,
		size_t *got)
{
	*got = 0;
	while (*got < chunk) {
		size_t n = 0;
		int ret = vfiomig_device_read(dev, buf + *got, chunk - *got, &n);

		if (ret)
			return ret;
		if (!n)
			break;
		*got += n;
	}
	return 0;
}

static void *reader(void *arg)
{
	struct read_ahead *ra = arg;

	/* By itself: naming another thread opens a file under /proc. */
	vm_thread_name(pthread_self(), "src-read");
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
		ret = fill(ra->dev, sl->buf, ra->chunk, &got);
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

/*
 * A stream of about one chunk: a helper thread would only add latency.
 * Without a provider the caller's @buf is reused; with one, each chunk
 * is read into the provider's buffer so that the sink may keep it.
 */
static int read_inline(struct vfiomig_device *dev, uint8_t *buf, size_t chunk,
		       const struct vm_buf_ops *bufs, vm_sink_fn sink,
		       void *arg, uint64_t *read_ns, uint64_t *total)
{
	uint8_t *b = bufs ? NULL : buf;
	int ret;

	for (;;) {
		uint64_t t0;
		size_t got = 0;

		if (!b && (ret = bufs->get(bufs->arg, &b)))
			return ret;
		t0 = vfiomig_now_ns();
		ret = vfiomig_device_read(dev, b, chunk, &got);
		*read_ns += vfiomig_now_ns() - t0;
		if (ret || !got)
			break;
		ret = sink(arg, b, got);
		if (ret < 0)
			break;
		*total += got;
		if (ret == VM_SINK_TOOK) {
			if (!bufs) {
				ret = -EINVAL;	/* not the sink's to keep */
				break;
			}
			b = NULL;
		}
		ret = 0;
	}
	if (bufs && b)
		bufs->put(bufs->arg, b);
	return ret;
}

/*
 * The first chunk of a stream estimated at more than one, read on the
 * caller's thread.  Returns 1 when more may follow (a whole chunk came),
 * 0 at the end of the stream, or the read's or the sink's error.
 */
static int read_first(struct vfiomig_device *dev, uint8_t *buf, size_t chunk,
		      const struct vm_buf_ops *bufs, vm_sink_fn sink,
		      void *arg, uint64_t *read_ns, uint64_t *total)
{
	uint8_t *b = buf;
	uint64_t t0;
	size_t got = 0;
	int ret;

	if (bufs && (ret = bufs->get(bufs->arg, &b)))
		return ret;
	t0 = vfiomig_now_ns();
	ret = fill(dev, b, chunk, &got);
	*read_ns += vfiomig_now_ns() - t0;
	if (!ret && got) {
		ret = sink(arg, b, got);
		if (ret >= 0)
			*total += got;
		if (ret == VM_SINK_TOOK) {
			if (!bufs)
				return -EINVAL;	/* not the sink's to keep */
			b = NULL;
			ret = 0;
		}
	}
	if (bufs && b)
		bufs->put(bufs->arg, b);
	/* fill() stops short of a chunk only at the end of the stream. */
	return ret ? ret : got == chunk;
}

static int malloc_get(void *arg, uint8_t **buf)
{
	*buf = malloc(*(size_t *)arg);
	return *buf ? 0 : -ENOMEM;
}

static void malloc_put(void *arg, uint8_t *buf)
{
	(void)arg;
	free(buf);
}

int vm_read_ahead(struct vfiomig_device *dev, void *buf, size_t chunk,
		  uint64_t expect, const struct vm_buf_ops *bufs,
		  vm_sink_fn sink, void *arg, uint64_t *read_ns,
		  uint64_t *total)
{
	const struct vm_buf_ops heap = { malloc_get, malloc_put, &chunk };
	struct read_ahead ra = { .dev = dev, .chunk = chunk,
				 .bufs = bufs ? bufs : &heap };
	pthread_t th;
	int ret = 0;

	*total = 0;
	if (expect <= chunk)
		return read_inline(dev, buf, chunk, bufs, sink, arg, read_ns,
				   total);
	ret = read_first(dev, buf, chunk, bufs, sink, arg, read_ns, total);
	if (ret <= 0)
		return ret;
	ret = 0;
	for (unsigned k = 0; k < NBUF && !ret; k++)
		ret = ra.bufs->get(ra.bufs->arg, &ra.s[k].buf);
	pthread_mutex_init(&ra.lock, NULL);
	pthread_cond_init(&ra.cond, NULL);
	if (!ret)
		ret = -pthread_create(&th, NULL, reader, &ra);
	if (ret)
		goto out;

	for (unsigned k = 0;; k = (k + 1) % NBUF) {
		struct slot *sl = &ra.s[k];
		uint8_t *fresh = NULL;

		pthread_mutex_lock(&ra.lock);
		while (!sl->full)
			pthread_cond_wait(&ra.cond, &ra.lock);
		pthread_mutex_unlock(&ra.lock);
		ret = sl->ret;
		if (ret || !sl->len)
			break;
		ret = sink(arg, sl->buf, sl->len);
		if (ret >= 0)
			*total += sl->len;
		if (ret == VM_SINK_TOOK) {
			/* The sink's now, whatever happens next. */
			ret = ra.bufs->get(ra.bufs->arg, &fresh);
			pthread_mutex_lock(&ra.lock);
			sl->buf = ret ? NULL : fresh;
			pthread_mutex_unlock(&ra.lock);
		}
		if (ret < 0)
			break;
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
		if (ra.s[k].buf)
			ra.bufs->put(ra.bufs->arg, ra.s[k].buf);
	return ret;
}
