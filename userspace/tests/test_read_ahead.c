// SPDX-License-Identifier: GPL-2.0
/*
 * test_read_ahead - the stop-copy drain (lib/read_ahead.c) on a device
 * whose data fd is a pipe: every byte arrives once and in order through
 * both the helper-thread and the inline path, a failing sink stops the
 * drain (and its reader) without a hang, and a read error is returned;
 * a sink that keeps the buffers it is given (as an in-memory channel
 * does) gets fresh ones from the provider, and no buffer is lost; a
 * stream that ends within its first chunk starts no thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/internal.h"
#include "../lib/session_internal.h"

#define CHUNK 4096

struct feeder {
	int fd;
	size_t bytes;
	bool close_after;
	unsigned pace_us;	/* pause between writes: reads come back short */
};

/* Writes a counting byte pattern into the pipe, then closes it (EOF). */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	uint8_t buf[1000];
	size_t off = 0;

	while (off < f->bytes) {
		size_t n = f->bytes - off < sizeof(buf) ? f->bytes - off :
							 sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((off + i) * 7);
		if (write(f->fd, buf, n) != (ssize_t)n)
			break;
		off += n;
		if (f->pace_us)
			usleep(f->pace_us);
	}
	if (f->close_after)
		close(f->fd);
	return NULL;
}

struct checker {
	size_t seen;
	size_t fail_after;	/* 0: never fail */
	int calls;
	bool bad;
};

static int check_sink(void *arg, uint8_t *buf, size_t len)
{
	struct checker *c = arg;
	const uint8_t *p = buf;

	c->calls++;
	if (len > CHUNK)
		c->bad = true;
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((c->seen + i) * 7))
			c->bad = true;
	c->seen += len;
	if (c->fail_after && c->seen >= c->fail_after)
		return -EPIPE;
	return 0;
}

static void fake_device(struct vfiomig_device *dev, int data_fd)
{
	memset(dev, 0, sizeof(*dev));
	strcpy(dev->name, "fake");
	dev->fd = -1;
	dev->data_fd = data_fd;
	dev->state = VFIOMIG_STOP_COPY;
}

/* A fake device whose data fd is a pipe that @f feeds on thread @th. */
static void start_feeder(struct feeder *f, struct vfiomig_device *dev,
			 pthread_t *th)
{
	int p[2];

	assert_int_equal(0, pipe(p));
	f->fd = p[1];
	fake_device(dev, p[0]);
	assert_int_equal(0, pthread_create(th, NULL, feed, f));
}

/*
 * Threads started, counted by wrapping pthread_create() at link time
 * (-Wl,--wrap=pthread_create in the Makefile).
 */
static atomic_int threads_started;

int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	atomic_fetch_add(&threads_started, 1);
	return __real_pthread_create(th, attr, fn, arg);
}

/* Drains @bytes through a pipe; returns the threads the drain started. */
static int drain(size_t bytes, uint64_t expect)
{
	struct vfiomig_device dev;
	struct feeder f = { .bytes = bytes, .close_after = true };
	struct checker c = { 0 };
	uint8_t buf[CHUNK];
	uint64_t read_ns = 0, total = 0;
	pthread_t th;
	int before;

	start_feeder(&f, &dev, &th);
	before = atomic_load(&threads_started);
	assert_int_equal(0, vm_read_ahead(&dev, buf, CHUNK, expect, NULL, check_sink,
					  &c, &read_ns, &total));
	pthread_join(th, NULL);
	close(dev.data_fd);
	assert_false(c.bad);
	assert_int_equal(bytes, c.seen);
	assert_int_equal(bytes, total);
	assert_true(read_ns > 0);
	return atomic_load(&threads_started) - before;
}

static void every_byte_in_order(void **state)
{
	(void)state;
	drain(1 << 20, UINT64_MAX);	/* helper thread */
	drain(1 << 20, 0);		/* inline, estimate too low */
	drain(10, 10);			/* inline */
	drain(0, UINT64_MAX);		/* empty stream */
}

/*
 * The feeder writes 1000 bytes at a time and pauses, so single pipe reads
 * come back short; the helper thread still hands the sink whole chunks (fewer records
 * downstream), and only the last one may be short.
 */
static void helper_thread_passes_whole_chunks(void **state)
{
	struct vfiomig_device dev;
	struct feeder f = { .bytes = 64 * CHUNK + 100, .close_after = true,
			    .pace_us = 200 };
	struct checker c = { 0 };
	uint8_t buf[CHUNK];
	uint64_t read_ns = 0, total = 0;
	pthread_t th;

	(void)state;
	start_feeder(&f, &dev, &th);
	assert_int_equal(0, vm_read_ahead(&dev, buf, CHUNK, UINT64_MAX, NULL,
					  check_sink, &c, &read_ns, &total));
	pthread_join(th, NULL);
	close(dev.data_fd);
	assert_false(c.bad);
	assert_int_equal(f.bytes, c.seen);
	assert_int_equal(65, c.calls);
}

static void sink_error_stops_the_drain(void **state)
{
	struct vfiomig_device dev;
	struct feeder f = { .bytes = 1 << 20, .close_after = false };
	struct checker c = { .fail_after = 3 * CHUNK };
	uint8_t buf[CHUNK];
	uint64_t read_ns = 0, total = 0;
	pthread_t th;

	(void)state;
	start_feeder(&f, &dev, &th);
	assert_int_equal(-EPIPE, vm_read_ahead(&dev, buf, CHUNK, UINT64_MAX, NULL,
					       check_sink, &c, &read_ns,
					       &total));
	assert_false(c.bad);
	assert_true(total < c.seen);	/* the failed chunk is not counted */
	/* the reader was joined: nothing reads the pipe any more */
	close(dev.data_fd);
	pthread_join(th, NULL);	/* the feeder ends on EPIPE */
	close(f.fd);
}

static void read_error_is_returned(void **state)
{
	struct vfiomig_device dev;
	struct checker c = { 0 };
	uint8_t buf[CHUNK];
	uint64_t read_ns = 0, total = 0;

	(void)state;
	fake_device(&dev, -1);	/* no data fd: the read fails with EBADF */
	assert_int_equal(-EBADF, vm_read_ahead(&dev, buf, CHUNK, UINT64_MAX, NULL,
					       check_sink, &c, &read_ns,
					       &total));
	assert_int_equal(0, c.calls);
	assert_int_equal(-EBADF, vm_read_ahead(&dev, buf, CHUNK, 0, NULL,
					       check_sink, &c, &read_ns,
					       &total));
	assert_int_equal(0, total);
}

struct canceller {
	atomic_bool flag;
	unsigned after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;

	usleep(k->after_ms * 1000);
	atomic_store(&k->flag, true);
	return NULL;
}

/*
 * A device that stops producing data mid-image (a slow or stuck firmware)
 * blocks the read of its data fd: a session abort must still end the
 * drain and its reader within a bounded time, on both paths.
 */
static void abort_ends_a_blocked_read(void **state)
{
	for (int inline_path = 0; inline_path < 2; inline_path++) {
		struct vfiomig_device dev;
		struct checker c = { 0 };
		struct canceller k = { .after_ms = 200 };
		uint8_t buf[CHUNK], first[CHUNK] = { 0 };
		uint64_t read_ns = 0, total = 0;
		pthread_t th;
		int p[2];

		(void)state;
		assert_int_equal(0, pipe(p));
		for (size_t i = 0; i < CHUNK; i++)
			first[i] = (uint8_t)(i * 7);
		assert_int_equal(CHUNK, write(p[1], first, CHUNK));
		fake_device(&dev, p[0]);
		atomic_init(&k.flag, false);
		vm_device_set_cancel(&dev, &k.flag);
		assert_int_equal(0, pthread_create(&th, NULL, cancel_later, &k));
		alarm(10);	/* a hang fails the test instead of blocking the suite */
		uint64_t t0 = vfiomig_now_ns();
		assert_int_equal(-ECANCELED,
				 vm_read_ahead(&dev, buf, CHUNK, inline_path ? 0 : UINT64_MAX,
					       NULL, check_sink, &c, &read_ns, &total));
		uint64_t ms = (vfiomig_now_ns() - t0) / 1000000;
		alarm(0);
		pthread_join(th, NULL);
		assert_true(ms >= 150 && ms < 2000);
		assert_int_equal(CHUNK, total);	/* what came before is delivered */
		assert_false(c.bad);
		assert_non_null(strstr(vfiomig_device_errmsg(&dev), "aborted"));
		close(p[0]);
		close(p[1]);
	}
}

/*
 * A device whose estimate is far above what is left (mlx5 and cx7 report
 * a whole image for an idle, pre-copied device) must not cost a thread in
 * the downtime: a stream that ends within its first chunk is read on the
 * caller's thread.  A longer one still gets the helper.
 */
static void short_stream_starts_no_thread(void **state)
{
	(void)state;
	assert_int_equal(0, drain(0, UINT64_MAX));
	assert_int_equal(0, drain(100, UINT64_MAX));
	assert_int_equal(0, drain(CHUNK - 1, UINT64_MAX));
	assert_int_equal(1, drain(CHUNK + 1, UINT64_MAX));
	assert_int_equal(1, drain(64 * CHUNK, UINT64_MAX));
}

/* A buffer provider that counts, and fails after @limit buffers. */
struct provider {
	unsigned gets, puts, limit;
};

static int prov_get(void *arg, uint8_t **buf)
{
	struct provider *p = arg;

	if (p->limit && p->gets == p->limit)
		return -ENOMEM;
	p->gets++;
	*buf = malloc(CHUNK);
	return 0;
}

static void prov_put(void *arg, uint8_t *buf)
{
	struct provider *p = arg;

	p->puts++;
	free(buf);
}

/* Checks like check_sink, then keeps every buffer it was given. */
struct keeper {
	struct checker c;
	unsigned kept;
};

static int keep_sink(void *arg, uint8_t *buf, size_t len)
{
	struct keeper *k = arg;
	int ret = check_sink(&k->c, buf, len);

	if (ret)
		return ret;
	free(buf);		/* "sent": the record owns it now */
	k->kept++;
	return VM_SINK_TOOK;
}

static void keep(size_t bytes, uint64_t expect, unsigned limit, int want)
{
	struct vfiomig_device dev;
	struct feeder f = { .bytes = bytes, .close_after = true };
	struct provider pv = { .limit = limit };
	struct vm_buf_ops ops = { prov_get, prov_put, &pv };
	struct keeper k = { 0 };
	uint8_t buf[CHUNK];
	uint64_t read_ns = 0, total = 0;
	pthread_t th;

	start_feeder(&f, &dev, &th);
	assert_int_equal(want, vm_read_ahead(&dev, buf, CHUNK, expect, &ops,
					     keep_sink, &k, &read_ns, &total));
	close(dev.data_fd);		/* a stopped drain leaves the feeder blocked */
	pthread_join(th, NULL);
	assert_false(k.c.bad);
	assert_int_equal(total, k.c.seen);
	if (!want)
		assert_int_equal(bytes, total);
	/* Every buffer was either kept by the sink or given back. */
	assert_int_equal(pv.gets, pv.puts + k.kept);
}

static void sink_keeps_buffers(void **state)
{
	(void)state;
	keep(1 << 20, UINT64_MAX, 0, 0);	/* helper thread */
	keep(1 << 20, 0, 0, 0);			/* inline */
	keep(0, UINT64_MAX, 0, 0);
	keep(1 << 20, UINT64_MAX, 5, -ENOMEM);	/* provider runs dry */
	keep(1 << 20, 0, 5, -ENOMEM);
}

/*
 * Without a provider the caller's buffer is not the sink's to keep: the
 * drain fails instead of reading into a buffer somebody else now owns.
 */
static void keeping_the_callers_buffer_fails(void **state)
{
	struct vfiomig_device dev;
	struct feeder f = { .bytes = 100, .close_after = true };
	struct keeper k = { 0 };
	uint64_t read_ns = 0, total = 0;
	uint8_t *heap = malloc(CHUNK);	/* keep_sink frees what it keeps */
	pthread_t th;

	(void)state;
	start_feeder(&f, &dev, &th);
	assert_int_equal(-EINVAL, vm_read_ahead(&dev, heap, CHUNK, 0, NULL,
						keep_sink, &k, &read_ns, &total));
	close(dev.data_fd);
	pthread_join(th, NULL);
	assert_int_equal(1, k.kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_byte_in_order),
		cmocka_unit_test(helper_thread_passes_whole_chunks),
		cmocka_unit_test(sink_error_stops_the_drain),
		cmocka_unit_test(read_error_is_returned),
		cmocka_unit_test(abort_ends_a_blocked_read),
		cmocka_unit_test(sink_keeps_buffers),
		cmocka_unit_test(keeping_the_callers_buffer_fails),
		cmocka_unit_test(short_stream_starts_no_thread),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
