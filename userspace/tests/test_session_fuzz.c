// SPDX-License-Identifier: GPL-2.0
/*
 * test_session_fuzz - the real endpoints against hostile peers, on the
 * host: a fake source that speaks the wire protocol to the real
 * destination, and a fake destination for the real source, over
 * socketpairs, with fake devices (fakes/fake_device.h) under them.  The
 * peers send floods, records out of order, duplicated, oversized,
 * truncated, in the wrong direction and with hostile errnos.  Every
 * session must end with a clean error (or succeed), within a bounded
 * time and memory, its devices back in RUNNING; the ASan/UBSan and TSan
 * builds make memory errors, undefined behaviour and races fail it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* From the sanitizer runtime (GCC ships no allocator_interface.h). */
size_t __sanitizer_get_current_allocated_bytes(void);
#define SANITIZER_ALLOCATOR 1
#endif

#include "fakes/fake_device.h"
#include "../lib/session_internal.h"

#define FLAGS_ALL (VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_P2P | VFIOMIG_FLAG_PRE_COPY)

/* Bytes the process has allocated now (the sanitizer's count when built with one). */
static size_t allocated_bytes(void)
{
#ifdef SANITIZER_ALLOCATOR
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/* ---- a raw wire end -------------------------------------------------- */

struct wire {
	int fd;
	uint32_t tx_seq, rx_seq;
};

/* Write all of @buf within @ms; the bytes written (less: the peer stopped reading). */
static size_t write_within(int fd, const void *buf, size_t len, int ms)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, ms) <= 0)
			break;
	}
	return done;
}

static bool read_within(int fd, void *buf, size_t len, int ms)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, ms) <= 0)
			return false;
		ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One record as bytes: header claiming @claim payload bytes, @len of them sent. */
static size_t record(uint8_t *out, unsigned type, unsigned dev, const void *payload,
		     uint32_t len, uint32_t seq)
{
	vfiomig_wire_encode_hdr(out, type, dev, len, seq, payload);
	if (len)
		memcpy(out + VFIOMIG_WIRE_HDR_LEN, payload, len);
	return VFIOMIG_WIRE_HDR_LEN + len;
}

static bool wire_send(struct wire *w, unsigned type, unsigned dev, const void *payload,
		      uint32_t len)
{
	static uint8_t buf[VFIOMIG_WIRE_HDR_LEN + VFIOMIG_WIRE_MAX_CTRL];
	size_t n = record(buf, type, dev, payload, len, w->tx_seq++);

	return write_within(w->fd, buf, n, 2000) == n;
}

/* Receive one record of at most @cap payload bytes; false on anything else. */
static bool wire_recv(struct wire *w, struct vfiomig_wire_hdr *h, uint8_t *payload,
		      size_t cap)
{
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];

	if (!read_within(w->fd, hdr, sizeof(hdr), 3000) ||
	    vfiomig_wire_decode_hdr(hdr, w->rx_seq++, h) || h->len > cap)
		return false;
	return !h->len || read_within(w->fd, payload, h->len, 3000);
}

static struct vfiomig_wire_hello hello_for(uint64_t flags, uint32_t caps)
{
	struct vfiomig_wire_hello h;

	memset(&h, 0, sizeof(h));
	h.ver_min = h.ver_max = VFIOMIG_WIRE_VERSION_MIN;
	h.caps = caps;
	h.token = 0x1234;
	h.nchan = 1;
	h.ndev = 1;
	h.flags[0] = flags;
	snprintf(h.names[0], sizeof(h.names[0]), "hostile");
	return h;
}

static bool send_hello(struct wire *w, unsigned type, const struct vfiomig_wire_hello *h)
{
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	int len = vfiomig_wire_encode_hello(h, buf, sizeof(buf));

	return len > 0 && wire_send(w, type, VFIOMIG_WIRE_NODEV, buf, (uint32_t)len);
}

static int raw_fd(struct vfiomig_link *l)
{
	struct vm_conn conn;
	int fd;

	assert_int_equal(0, vm_link_channel(l, 0, 1000, &conn));
	fd = conn.fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* ---- the real endpoint on a thread ------------------------------------ */

struct endpoint {
	bool source;
	struct fake_device fd;
	struct vfiomig_device *devs[1];
	struct vfiomig_link *link;
	struct vfiomig_opts o;
	struct vfiomig_report *rep;
	pthread_t th;
	int ret;
	char err[512];
};

static void *endpoint_main(void *arg)
{
	struct endpoint *e = arg;

	e->ret = (e->source ? vfiomig_migrate_source : vfiomig_migrate_dest)
		(e->devs, 1, e->link, &e->o, &e->rep, e->err, sizeof(e->err));
	return NULL;
}

/*
 * Start the real endpoint with an I/O timeout of @timeout_ms; returns the
 * hostile peer's raw fd.
 */
static int start_timeout(struct endpoint *e, bool source, size_t image,
			 struct vfiomig_link **peer, unsigned timeout_ms)
{
	struct vfiomig_link *ls, *ld;

	memset(e, 0, sizeof(*e));
	e->source = source;
	fake_device_init(&e->fd, source ? "src0" : "dst0", FLAGS_ALL, image);
	e->devs[0] = &e->fd.dev;
	vfiomig_opts_init(&e->o);
	e->o.io_timeout_ms = timeout_ms;
	e->o.max_queued = 2 << 20;
	assert_int_equal(0, vfiomig_link_pair(&ls, &ld));
	e->link = source ? ls : ld;
	*peer = source ? ld : ls;
	int fd = raw_fd(*peer);
	assert_int_equal(0, pthread_create(&e->th, NULL, endpoint_main, e));
	return fd;
}

static int start(struct endpoint *e, bool source, size_t image,
		 struct vfiomig_link **peer)
{
	return start_timeout(e, source, image, peer, 300);
}

/* End the session from the peer's side, wait for the endpoint, check it ended cleanly. */
static void finish(struct endpoint *e, struct vfiomig_link *peer, int fd)
{
	uint64_t t0 = vfiomig_now_ns();

	shutdown(fd, SHUT_RDWR);
	pthread_join(e->th, NULL);
	/* Bounded: a few I/O timeouts, not a hang. */
	assert_true(vfiomig_now_ns() - t0 < 10000000000ULL);
	if (e->ret) {
		assert_true(e->err[0] != '\0');
		assert_true(e->ret < 0 && e->ret >= -(int)VFIOMIG_WIRE_ERRNO_MAX);
	}
	assert_true(vfiomig_report_nevents(e->rep) <= VM_REPORT_MAX_EVENTS);
	assert_true(e->rep->peak_queued <= e->rep->max_queued);
	/* Nothing is left stopped: failed sessions reset or recover. */
	int st = fake_device_state(&e->fd);
	if (e->ret || !e->source)
		assert_int_equal(VFIOMIG_RUNNING, st);
	vfiomig_report_free(e->rep);
	vfiomig_link_free(peer);
	vfiomig_link_free(e->link);
	fake_device_destroy(&e->fd);
}

/* The fake source's handshake with the real destination. */
static void source_handshake(struct wire *w, uint32_t caps)
{
	struct vfiomig_wire_hello h = hello_for(FLAGS_ALL, caps);
	struct vfiomig_wire_hdr rh;
	static uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];

	assert_true(send_hello(w, VFIOMIG_REC_HELLO, &h));
	assert_true(wire_recv(w, &rh, buf, sizeof(buf)));
	assert_int_equal(VFIOMIG_REC_WELCOME, rh.type);
}

/* ---- hostile sources ------------------------------------------------- */

/* Reads and drops whatever the endpoint sends, until the stream ends. */
static void *discard(void *arg)
{
	int fd = *(int *)arg;
	uint8_t sink[65536];

	while (read_within(fd, sink, 1, 5000))
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) < 0 && errno != EAGAIN)
			break;
	return NULL;
}

/*
 * 28-byte ack requests behind a megabyte of data that a slow device takes
 * seconds to load: every request used to cost a queue item outside
 * --max-queued and two report events (request, ack), so memory grew with
 * the flood.  It must stay near the cap, the flood stalled by
 * backpressure, and the event list bounded.
 */
static void ack_request_flood_is_bounded(void **state)
{
	static uint8_t data[VFIOMIG_WIRE_MAX_DATA];
	struct endpoint e;
	struct vfiomig_link *peer;
	struct wire w = { 0 };
	size_t peak = 0, base;
	unsigned sent = 0;
	pthread_t rd;

	(void)state;
	w.fd = start(&e, false, 0, &peer);
	pthread_mutex_lock(&e.fd.lock);
	e.fd.resume_delay_us = 10000;	/* 400 KiB/s */
	pthread_mutex_unlock(&e.fd.lock);
	source_handshake(&w, VFIOMIG_CAP_ACK_PER_DEVICE | VFIOMIG_CAP_REINIT);
	assert_int_equal(0, pthread_create(&rd, NULL, discard, &w.fd));
	base = allocated_bytes();
	uint8_t *big = malloc(VFIOMIG_WIRE_HDR_LEN + sizeof(data));
	assert_non_null(big);
	size_t n = record(big, VFIOMIG_REC_PRECOPY_DATA, 0, data, sizeof(data), w.tx_seq++);
	assert_int_equal(n, write_within(w.fd, big, n, 3000));
	free(big);
	for (; sent < 300000; sent++) {
		uint8_t p[4], buf[VFIOMIG_WIRE_HDR_LEN + 4];

		vfiomig_put_be32(p, sent + 1);
		n = record(buf, VFIOMIG_REC_INIT_DATA_SENT, 0, p, 4, w.tx_seq++);
		if (write_within(w.fd, buf, n, 1000) != n)
			break;	/* backpressure: the destination stopped reading */
		if (sent % 1024 == 0) {
			size_t now = allocated_bytes();
			if (now > peak)
				peak = now;
		}
	}
	size_t now = allocated_bytes();
	if (now > peak)
		peak = now;
	size_t grown = peak > base ? peak - base : 0;
	print_message("sent %u ack requests; allocated +%zu KiB (cap %llu KiB)\n", sent,
		      grown >> 10, (unsigned long long)(e.o.max_queued >> 10));
	assert_true(sent < 300000);
	assert_true(grown < e.o.max_queued + (4u << 20));
	shutdown(w.fd, SHUT_RDWR);
	pthread_join(rd, NULL);	/* before the fd is closed under it */
	finish(&e, peer, w.fd);
	assert_int_not_equal(0, e.ret);
}

/*
 * A source that negotiates keep-alives and then goes silent is timed out
 * by the destination (keep-alives do not make the destination wait
 * forever); one that keeps sending KEEPALIVE is not.
 */
static void silent_source_times_out(void **state)
{
	for (int alive = 0; alive < 2; alive++) {
		struct endpoint e;
		struct vfiomig_link *peer;
		struct wire w = { 0 };

		(void)state;
		w.fd = start(&e, false, 0, &peer);
		source_handshake(&w, VFIOMIG_CAP_ACK_LEGACY | VFIOMIG_CAP_KEEPALIVE);
		uint64_t t0 = vfiomig_now_ns();
		/* 1.2 s of precopy silence against a 300 ms timeout. */
		for (int k = 0; alive && k < 12; k++) {
			usleep(100000);
			assert_true(wire_send(&w, VFIOMIG_REC_KEEPALIVE, VFIOMIG_WIRE_NODEV, NULL, 0));
		}
		if (alive) {
			/* Still waiting: no ERROR arrived, and it has not returned. */
			uint8_t b;
			assert_int_equal(-1, recv(w.fd, &b, 1, MSG_DONTWAIT));
			assert_int_equal(EAGAIN, errno);
			finish(&e, peer, w.fd);
			assert_int_equal(-ECONNRESET, e.ret);
			continue;
		}
		pthread_join(e.th, NULL);
		uint64_t ms = (vfiomig_now_ns() - t0) / 1000000;
		e.th = pthread_self();
		assert_int_equal(-ETIMEDOUT, e.ret);
		assert_true(ms >= 250 && ms < 3000);
		assert_int_equal(VFIOMIG_RUNNING, fake_device_state(&e.fd));
		vfiomig_report_free(e.rep);
		vfiomig_link_free(peer);
		vfiomig_link_free(e.link);
		fake_device_destroy(&e.fd);
	}
}

/*
 * A stream cut short between the ends (here on a whole record boundary,
 * where no half record gives it away) and a DEV_END whose count disagrees
 * with what arrived.  A destination device like mlx5's accepts any
 * stream, so the engine must refuse to resume by itself and say which
 * device was owed data, in which phase, with the errno.
 */
enum cut { CUT_IN_PRECOPY, CUT_BEFORE_DEV_END, END_COUNT_WRONG };

static void cut_stream(enum cut how, int want, const char *phase)
{
	static uint8_t data[4096];
	struct endpoint e;
	struct vfiomig_link *peer;
	struct wire w = { 0 };
	uint8_t end[8];

	w.fd = start(&e, false, 0, &peer);
	source_handshake(&w, 0);
	memset(data, 0x5a, sizeof(data));
	assert_true(wire_send(&w, VFIOMIG_REC_PRECOPY_DATA, 0, data, sizeof(data)));
	if (how != CUT_IN_PRECOPY) {
		assert_true(wire_send(&w, VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV, NULL, 0));
		assert_true(wire_send(&w, VFIOMIG_REC_STOPCOPY_DATA, 0, data, sizeof(data)));
	}
	if (how == END_COUNT_WRONG) {
		vfiomig_put_be64(end, 2 * sizeof(data));	/* one chunk never arrived */
		assert_true(wire_send(&w, VFIOMIG_REC_DEV_END, 0, end, sizeof(end)));
	}
	shutdown(w.fd, SHUT_RDWR);	/* the cut */
	pthread_join(e.th, NULL);
	print_message("%s\n", e.err);
	assert_int_equal(want, e.ret);
	assert_non_null(strstr(e.err, "dev dst0"));
	assert_non_null(strstr(e.err, phase));
	char num[16];
	snprintf(num, sizeof(num), "(%d)", want);
	assert_non_null(strstr(e.err, num));
	/* Nothing resumed: no arc out of RESUMING (the reset is not one). */
	bool resuming = false;
	for (unsigned k = 0; k < e.fd.nlog; k++) {
		assert_false(resuming && e.fd.log_to[k] != VFIOMIG_RESUMING);
		resuming |= e.fd.log_to[k] == VFIOMIG_RESUMING;
	}
	assert_true(resuming);
	assert_int_equal(VFIOMIG_RUNNING, fake_device_state(&e.fd));
	vfiomig_report_free(e.rep);
	vfiomig_link_free(peer);
	vfiomig_link_free(e.link);
	fake_device_destroy(&e.fd);
}

static void stream_cut_in_transit(void **state)
{
	(void)state;
	cut_stream(CUT_IN_PRECOPY, -ECONNRESET, "precopy");
	cut_stream(CUT_BEFORE_DEV_END, -ECONNRESET, "stop-copy");
	cut_stream(END_COUNT_WRONG, -EPROTO, "stop-copy");
}

/*
 * Device data is checked by its loader, just before the device write,
 * not on receipt: a record whose payload changed in transit must still
 * never reach the device, and the error names the device, the phase, the
 * record and the errno.  The good record before it is loaded.
 */
static void corrupt_data_never_written(void **state)
{
	static uint8_t data[4096], rec[VFIOMIG_WIRE_HDR_LEN + sizeof(data)];
	struct endpoint e;
	struct vfiomig_link *peer;
	struct wire w = { 0 };

	(void)state;
	/*
	 * The peer then goes silent: a timeout long enough that only the
	 * loader's check can end the session, however slow the host (valgrind).
	 */
	w.fd = start_timeout(&e, false, 0, &peer, 20000);
	source_handshake(&w, 0);
	memset(data, 0x5a, sizeof(data));
	assert_true(wire_send(&w, VFIOMIG_REC_PRECOPY_DATA, 0, data, sizeof(data)));
	size_t n = record(rec, VFIOMIG_REC_PRECOPY_DATA, 0, data, sizeof(data),
			  w.tx_seq++);
	rec[VFIOMIG_WIRE_HDR_LEN + 1000] ^= 0x10;	/* flipped in transit */
	assert_int_equal(n, write_within(w.fd, rec, n, 2000));
	uint64_t t0 = vfiomig_now_ns();

	pthread_join(e.th, NULL);	/* the destination ends by itself */
	assert_true(vfiomig_now_ns() - t0 < 10000000000ULL);
	print_message("%s\n", e.err);
	assert_int_equal(-EBADMSG, e.ret);
	assert_non_null(strstr(e.err, "dev dst0 (RESUMING, precopy)"));
	assert_non_null(strstr(e.err, "record 2"));
	assert_non_null(strstr(e.err, "(-74)"));
	assert_int_equal(VFIOMIG_RUNNING, fake_device_state(&e.fd));
	vfiomig_report_free(e.rep);
	shutdown(w.fd, SHUT_RDWR);
	vfiomig_link_free(peer);
	vfiomig_link_free(e.link);
	fake_device_destroy(&e.fd);	/* joins the pumps: counts are final */
	assert_int_equal(sizeof(data), e.fd.resumed);
}

static void hostile_errno(uint32_t errno_on_wire, bool source_side)
{
	struct endpoint e;
	struct vfiomig_link *peer;
	struct wire w = { 0 };
	uint8_t p[8];

	w.fd = start(&e, source_side, 4096, &peer);
	if (source_side) {
		/* Fake destination: answer HELLO with WELCOME, then ERROR. */
		struct vfiomig_wire_hdr h;
		static uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
		struct vfiomig_wire_hello hello;

		assert_true(wire_recv(&w, &h, buf, sizeof(buf)));
		assert_int_equal(VFIOMIG_REC_HELLO, h.type);
		assert_int_equal(0, vfiomig_wire_decode_hello(buf, h.len, &hello));
		hello.nchan = 1;
		assert_true(send_hello(&w, VFIOMIG_REC_WELCOME, &hello));
	} else {
		source_handshake(&w, 0);
	}
	vfiomig_put_be32(p, errno_on_wire);
	memcpy(p + 4, "boom", 4);
	assert_true(wire_send(&w, VFIOMIG_REC_ERROR, VFIOMIG_WIRE_NODEV, p, 8));
	/* Drain what the endpoint sends until it ends the session. */
	uint8_t sink[65536];
	while (read_within(w.fd, sink, 1, 3000))
		(void)!recv(w.fd, sink, sizeof(sink), MSG_DONTWAIT);
	pthread_join(e.th, NULL);
	e.th = pthread_self();	/* joined */
	assert_non_null(strstr(e.err, "boom"));
	int want = errno_on_wire >= 1 && errno_on_wire <= VFIOMIG_WIRE_ERRNO_MAX ?
		   -(int)errno_on_wire : -EPROTO;
	assert_int_equal(want, e.ret);
	assert_int_equal(VFIOMIG_RUNNING, fake_device_state(&e.fd));
	vfiomig_report_free(e.rep);
	vfiomig_link_free(peer);
	vfiomig_link_free(e.link);
	fake_device_destroy(&e.fd);
}

/* A peer-chosen errno is never negated unchecked (0x80000000 was UB). */
static void hostile_errnos(void **state)
{
	static const uint32_t errnos[] = { 0x80000000u, 0, 0xffffffffu, 4096, EIO };

	(void)state;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		hostile_errno(errnos[i], false);
		hostile_errno(errnos[i], true);
	}
}

static void *dest_main(void *arg)
{
	struct endpoint *e = arg;

	e->ret = vfiomig_migrate_dest(e->devs, 1, e->link, &e->o, &e->rep, e->err,
				      sizeof(e->err));
	return NULL;
}

/*
 * The reference for everything above: both real endpoints, in one
 * process, migrate a 3 MiB image between fake devices without PRE_COPY (a
 * pipe cannot say "no more precopy data for now"), in both transition
 * modes, over socketpairs and over in-memory channels; a source left in
 * STOP is reset first.  Every byte reaches the destination device, which
 * ends RUNNING; the source ends in STOP.
 */
static void real_endpoints_migrate(void **state)
{
	const size_t image = 3u << 20;

	(void)state;
	for (int run = 0; run < 4; run++) {
		int mode = run & 1;
		bool memory = run >> 1;
		struct endpoint src = { .source = true }, dst = { 0 };
		struct vfiomig_link *ls, *ld;

		const uint64_t flags = VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_P2P;

		fake_device_init(&src.fd, "src0", flags, image);
		fake_device_init(&dst.fd, "dst0", flags, 0);
		src.fd.state = mode ? VFIOMIG_STOP : VFIOMIG_RUNNING;
		src.devs[0] = &src.fd.dev;
		dst.devs[0] = &dst.fd.dev;
		vfiomig_opts_init(&src.o);
		src.o.transitions = mode ? VFIOMIG_TRANSITIONS_SEQUENTIAL :
					   VFIOMIG_TRANSITIONS_PARALLEL;
		src.o.chunk = 256 << 10;
		dst.o = src.o;
		assert_int_equal(0, memory ? vfiomig_link_memory(&ls, &ld) :
					     vfiomig_link_pair(&ls, &ld));
		src.link = ls;
		dst.link = ld;
		assert_int_equal(0, pthread_create(&dst.th, NULL, dest_main, &dst));
		src.ret = vfiomig_migrate_source(src.devs, 1, ls, &src.o, &src.rep, src.err,
						 sizeof(src.err));
		pthread_join(dst.th, NULL);
		if (src.ret || dst.ret)
			fail_msg("%s: source %d (%s), destination %d (%s)",
				 memory ? "memory" : "socket", src.ret, src.err,
				 dst.ret, dst.err);
		assert_int_equal(VFIOMIG_STOP, fake_device_state(&src.fd));
		assert_int_equal(VFIOMIG_RUNNING, fake_device_state(&dst.fd));
		vfiomig_link_free(ls);
		vfiomig_link_free(ld);
		fake_device_destroy(&src.fd);	/* joins the pumps: counts are final */
		fake_device_destroy(&dst.fd);
		assert_int_equal(image, dst.fd.resumed);
		assert_int_equal(0, vfiomig_report_events_dropped(src.rep));
		assert_int_equal(mode, !strcmp(src.rep->dev[0].reset_from, "STOP"));
		vfiomig_report_free(src.rep);
		vfiomig_report_free(dst.rep);
	}
}

/* xorshift64*: reproducible streams from a seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* One random record, possibly malformed, appended at @out; its length. */
static size_t hostile_record(uint64_t *seed, uint8_t *out, struct wire *w, bool from_source)
{
	static const unsigned devs[] = { 0, 0, 0, 1, 63, VFIOMIG_WIRE_NODEV };
	static uint8_t payload[8192];
	unsigned type = 1 + (unsigned)(rnd(seed) % (VFIOMIG_REC_TYPE_MAX + 1));
	unsigned dev = devs[rnd(seed) % 6];
	uint32_t cap = vfiomig_wire_max_len(type), len;
	unsigned how = (unsigned)(rnd(seed) % 10);

	if (from_source && rnd(seed) % 3 == 0)	/* bias towards valid source records */
		type = (unsigned[]){ VFIOMIG_REC_PRECOPY_DATA, VFIOMIG_REC_INIT_DATA_SENT,
				     VFIOMIG_REC_SWITCHOVER, VFIOMIG_REC_STOPCOPY_DATA,
				     VFIOMIG_REC_DEV_END }[rnd(seed) % 5];
	cap = vfiomig_wire_max_len(type);
	len = cap ? (uint32_t)(rnd(seed) % (cap < sizeof(payload) ? cap + 1 : sizeof(payload))) : 0;
	if (type == VFIOMIG_REC_INIT_DATA_SENT || type == VFIOMIG_REC_ACK)
		len = rnd(seed) % 4 ? 4 : len;
	if (type == VFIOMIG_REC_DEV_END)
		len = rnd(seed) % 4 ? 8 : len;
	for (uint32_t i = 0; i < len; i++)
		payload[i] = (uint8_t)rnd(seed);
	if (type == VFIOMIG_REC_DEV_END && len == 8)
		vfiomig_put_be64(payload, rnd(seed) % 3 ? 0 : rnd(seed));
	uint32_t seq = w->tx_seq++;
	switch (how) {
	case 0:		/* replayed sequence number */
		seq = seq ? seq - 1 : 5;
		break;
	case 1: {	/* header claims more than the cap */
		size_t n = record(out, type, dev, NULL, 0, seq);
		vfiomig_put_be32(out + 8, cap + 1 + (uint32_t)(rnd(seed) % 1000));
		vfiomig_put_be32(out + 20, vfiomig_crc32c(0, out, 20));
		return n;
	}
	case 2: {	/* a flipped header bit */
		size_t n = record(out, type, dev, payload, len, seq);
		out[rnd(seed) % VFIOMIG_WIRE_HDR_LEN] ^= (uint8_t)(1u << (rnd(seed) % 8));
		return n;
	}
	case 3: {	/* truncated payload: the peer closes mid-record */
		size_t n = record(out, type, dev, payload, len, seq);
		return len ? n - 1 - (size_t)(rnd(seed) % len) : n;
	}
	default:
		break;
	}
	return record(out, type, dev, payload, len, seq);
}

static void random_streams(bool against_source, unsigned iterations, uint64_t seed0)
{
	static uint8_t buf[VFIOMIG_WIRE_HDR_LEN + 8192];

	for (unsigned it = 0; it < iterations; it++) {
		struct endpoint e;
		struct vfiomig_link *peer;
		struct wire w = { 0 };
		uint64_t seed = seed0 + it * 0x9e3779b97f4a7c15ULL;

		w.fd = start(&e, against_source, 2 << 20, &peer);
		if (against_source) {
			struct vfiomig_wire_hdr h;
			static uint8_t ctl[VFIOMIG_WIRE_MAX_CTRL];
			struct vfiomig_wire_hello hello;

			if (!wire_recv(&w, &h, ctl, sizeof(ctl)) ||
			    vfiomig_wire_decode_hello(ctl, h.len, &hello))
				fail_msg("iteration %u: no HELLO", it);
			hello.nchan = 1;
			hello.caps &= rnd(&seed);
			if (hello.caps & VFIOMIG_CAP_ACK_PER_DEVICE)
				hello.caps &= ~VFIOMIG_CAP_ACK_LEGACY;
			send_hello(&w, VFIOMIG_REC_WELCOME, &hello);
		} else {
			source_handshake(&w, rnd(&seed) % 2 ? VFIOMIG_CAP_ACK_LEGACY :
					 VFIOMIG_CAP_ACK_PER_DEVICE | VFIOMIG_CAP_REINIT);
		}
		unsigned nrec = 1 + (unsigned)(rnd(&seed) % 24);
		for (unsigned k = 0; k < nrec; k++) {
			size_t n = hostile_record(&seed, buf, &w, !against_source);
			if (write_within(w.fd, buf, n, 200) != n)
				break;
			/* Keep the endpoint's sends flowing. */
			uint8_t sink[65536];
			while (recv(w.fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
				;
		}
		finish(&e, peer, w.fd);
	}
}

static void hostile_sources(void **state)
{
	(void)state;
	random_streams(false, 150, 4);
}

static void hostile_destinations(void **state)
{
	(void)state;
	random_streams(true, 60, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_endpoints_migrate),
		cmocka_unit_test(ack_request_flood_is_bounded),
		cmocka_unit_test(hostile_errnos),
		cmocka_unit_test(stream_cut_in_transit),
		cmocka_unit_test(corrupt_data_never_written),
		cmocka_unit_test(silent_source_times_out),
		cmocka_unit_test(hostile_sources),
		cmocka_unit_test(hostile_destinations),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
