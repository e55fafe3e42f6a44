// SPDX-License-Identifier: GPL-2.0
/*
 * test_channel - framed records over in-process links, socketpairs and
 * in-memory channels alike: round trip, sequence numbers, corruption and
 * truncation detection (sockets), the abort flag unblocking a blocked
 * receiver, the receive timeout; for memory channels also flow control
 * (a full queue blocks the sender until its timeout), shutdown order and
 * payload buffers handed over without a copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

struct pairc {
	struct vfiomig_link *a, *b;
	struct vm_chan ca, cb;
	atomic_bool abort;
};

/* The transport of the test running now (cmocka's state): see main(). */
static bool in_memory(void **state)
{
	return *state != NULL;
}

static int use_memory(void **state)
{
	static int yes = 1;

	*state = &yes;
	return 0;
}

static void open_pair_on(struct pairc *p, unsigned timeout_ms, bool memory)
{
	struct vm_conn fa, fb;

	atomic_init(&p->abort, false);
	assert_int_equal(0, memory ? vfiomig_link_memory(&p->a, &p->b) :
				     vfiomig_link_pair(&p->a, &p->b));
	assert_int_equal(0, vm_link_channel(p->a, 0, 1000, &fa));
	assert_int_equal(0, vm_link_channel(p->b, 0, 1000, &fb));
	assert_true(memory ? fa.fd < 0 && fa.mem : fa.fd >= 0 && !fa.mem);
	vm_chan_init(&p->ca, &fa, 0, &p->abort, timeout_ms);
	vm_chan_init(&p->cb, &fb, 0, &p->abort, timeout_ms);
}

#define open_pair(p, ms) open_pair_on(p, ms, in_memory(state))

static void close_pair(struct pairc *p)
{
	vm_chan_destroy(&p->ca);
	vm_chan_destroy(&p->cb);
	vfiomig_link_free(p->a);
	vfiomig_link_free(p->b);
}

static void round_trip(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;
	char buf[64];

	open_pair(&p, 1000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(0, vm_chan_send(&p.ca, VFIOMIG_REC_PRECOPY_DATA, 2, "hello", 5));
		assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
		assert_int_equal(VFIOMIG_REC_PRECOPY_DATA, h.type);
		assert_int_equal(2, h.dev);
		assert_int_equal(i, h.seq);
		assert_int_equal(0, vm_chan_recv_payload(&p.cb, &h, buf));
		assert_memory_equal("hello", buf, 5);
	}
	close_pair(&p);
}

static void corruption_and_truncation(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];
	char buf[16];

	open_pair(&p, 1000);
	vfiomig_wire_encode_hdr(hdr, VFIOMIG_REC_PRECOPY_DATA, 0, 4, 0, "abcd");
	assert_int_equal(sizeof(hdr), write(p.ca.fd, hdr, sizeof(hdr)));
	assert_int_equal(4, write(p.ca.fd, "abce", 4));
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(-EBADMSG, vm_chan_recv_payload(&p.cb, &h, buf));
	/* Half a header, then the peer is gone. */
	vfiomig_wire_encode_hdr(hdr, VFIOMIG_REC_SWITCHOVER, 0, 0, 1, NULL);
	assert_int_equal(10, write(p.ca.fd, hdr, 10));
	shutdown(p.ca.fd, SHUT_WR);
	assert_int_equal(-ECONNRESET, vm_chan_recv_hdr(&p.cb, &h));
	close_pair(&p);
}

static void *set_abort_later(void *arg)
{
	struct pairc *p = arg;

	usleep(150000);
	atomic_store(&p->abort, true);
	return NULL;
}

static void abort_unblocks(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;
	pthread_t th;

	open_pair(&p, 60000);
	assert_int_equal(0, pthread_create(&th, NULL, set_abort_later, &p));
	uint64_t t0 = vfiomig_now_ns();
	assert_int_equal(-ECANCELED, vm_chan_recv_hdr(&p.cb, &h));
	assert_true(vfiomig_now_ns() - t0 < 2000000000ULL);
	pthread_join(th, NULL);
	close_pair(&p);
}

static void receive_timeout(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;

	open_pair(&p, 300);
	assert_int_equal(-ETIMEDOUT, vm_chan_recv_hdr(&p.cb, &h));
	close_pair(&p);
}

static void error_record(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;
	uint8_t buf[600];

	open_pair(&p, 1000);
	/* Sent even while aborting. */
	atomic_store(&p.abort, true);
	vm_chan_send_error(&p.ca, -EIO, "device exploded");
	atomic_store(&p.abort, false);
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(VFIOMIG_REC_ERROR, h.type);
	assert_int_equal(0, vm_chan_recv_payload(&p.cb, &h, buf));
	assert_int_equal(EIO, vfiomig_get_be32(buf));
	assert_memory_equal("device exploded", buf + 4, 15);
	close_pair(&p);
}

struct receiver {
	struct vm_chan *c;
	int ret;
	struct vfiomig_wire_hdr h;
};

static void *receive_one(void *arg)
{
	struct receiver *r = arg;

	r->ret = vm_chan_recv_hdr(r->c, &r->h);
	return NULL;
}

/*
 * One thread blocked receiving on a channel while another sends ERROR on
 * it (the source's return path and its main thread share channel 0):
 * the send must not touch what the receiver polls (a data race, which
 * the ThreadSanitizer build reports), and the receiver must still see
 * the abort flag afterwards.
 */
static void error_send_while_receiving(void **state)
{
	struct pairc p;
	struct receiver r = { 0 };
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];
	pthread_t th;

	open_pair(&p, 60000);
	r.c = &p.ca;
	assert_int_equal(0, pthread_create(&th, NULL, receive_one, &r));
	usleep(250000);
	vm_chan_send_error(&p.ca, -ENOSPC, "no room");
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(0, vm_chan_recv_payload(&p.cb, &h, buf));
	usleep(250000);
	uint64_t t0 = vfiomig_now_ns();
	atomic_store(&p.abort, true);
	pthread_join(th, NULL);
	assert_int_equal(-ECANCELED, r.ret);
	assert_true(vfiomig_now_ns() - t0 < 2000000000ULL);
	close_pair(&p);
}

static void channels_independent(void **state)
{
	struct vfiomig_link *a, *b;
	struct vm_conn fa[3], fb[3];

	(void)state;
	assert_int_equal(0, vfiomig_link_pair(&a, &b));
	/* Either end may ask first; each index is one pair. */
	assert_int_equal(0, vm_link_channel(b, 2, 1000, &fb[2]));
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(0, vm_link_channel(a, i, 1000, &fa[i]));
	assert_int_equal(0, vm_link_channel(a, 2, 1000, &fa[2]));
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(0, vm_link_channel(b, i, 1000, &fb[i]));
	for (unsigned i = 0; i < 3; i++) {
		char c = (char)('0' + i), r = 0;
		assert_int_equal(1, write(fa[i].fd, &c, 1));
		assert_int_equal(1, read(fb[i].fd, &r, 1));
		assert_int_equal(c, r);
	}
	assert_int_equal(-EINVAL, vm_link_channel(a, VFIOMIG_WIRE_MAX_CHANNELS, 0, &fa[0]));
	vfiomig_link_free(a);
	vfiomig_link_free(b);
}

/* ---- in-memory channels only ------------------------------------------ */

/*
 * A receiver that never reads: the queue fills (two maximal records), the
 * next send waits and fails after the channel's timeout, as on a socket
 * whose buffer is full; once the receiver drains, sending works again.
 */
static void memory_flow_control(void **state)
{
	static uint8_t big[VFIOMIG_WIRE_MAX_DATA];
	struct vfiomig_wire_hdr h;
	struct pairc p;
	int sent = 0, ret;

	(void)state;
	open_pair_on(&p, 300, true);
	memset(big, 0x5a, sizeof(big));
	uint64_t t0 = vfiomig_now_ns();
	while (!(ret = vm_chan_send(&p.ca, VFIOMIG_REC_STOPCOPY_DATA, 0, big,
				    sizeof(big))))
		assert_true(++sent < 8);
	uint64_t ms = (vfiomig_now_ns() - t0) / 1000000;
	assert_int_equal(-ETIMEDOUT, ret);
	assert_int_equal(2, sent);
	assert_true(ms >= 250 && ms < 5000);
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(0, vm_chan_recv_payload(&p.cb, &h, big));
	assert_int_equal(0, vm_chan_send(&p.ca, VFIOMIG_REC_STOPCOPY_DATA, 0,
					 big, sizeof(big)));
	close_pair(&p);
}

/*
 * Shutdown is ordered as on a socket: the peer still reads what was sent
 * before it, then gets the end (-ECONNRESET); sending to a shut-down end
 * fails at once, and a shut-down end's own receiver wakes up.
 */
static void memory_shutdown(void **state)
{
	struct vfiomig_wire_hdr h;
	struct pairc p;
	char buf[8];

	(void)state;
	open_pair_on(&p, 1000, true);
	assert_int_equal(0, vm_chan_send(&p.ca, VFIOMIG_REC_KEEPALIVE, 0, NULL, 0));
	assert_int_equal(0, vm_chan_send(&p.ca, VFIOMIG_REC_PRECOPY_DATA, 1, "tail", 4));
	vm_chan_shutdown(&p.ca);
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(VFIOMIG_REC_KEEPALIVE, h.type);
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(0, vm_chan_recv_payload(&p.cb, &h, buf));
	assert_memory_equal("tail", buf, 4);
	uint64_t t0 = vfiomig_now_ns();
	assert_int_equal(-ECONNRESET, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(-ECONNRESET, vm_chan_send(&p.cb, VFIOMIG_REC_ACK, 0, "abcd", 4));
	assert_int_equal(-ECONNRESET, vm_chan_recv_hdr(&p.ca, &h));
	assert_true(vfiomig_now_ns() - t0 < 1000000000ULL);
	close_pair(&p);
}

/*
 * A data payload handed over without a copy: it is checked like a copied
 * one, and the buffer outlives both link ends (the destination frees its
 * queue after the session, whenever the link goes).  A socket has no such
 * buffer to hand over.
 */
static void memory_take_payload(void **state)
{
	struct vfiomig_wire_hdr h;
	struct vm_msg *msg;
	uint8_t *data;
	struct pairc p;

	(void)state;
	open_pair_on(&p, 1000, true);
	assert_int_equal(0, vm_chan_send(&p.ca, VFIOMIG_REC_STOPCOPY_DATA, 3,
					 "0123456789", 10));
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(0, vm_chan_take_payload_unchecked(&p.cb, &data, &msg));
	assert_int_equal(0, vfiomig_wire_check_payload(&h, data));
	/* Nothing left to take for this header. */
	uint8_t *d2;
	struct vm_msg *m2;

	assert_int_equal(-EPROTO, vm_chan_take_payload_unchecked(&p.cb, &d2, &m2));
	close_pair(&p);
	assert_memory_equal("0123456789", data, 10);
	vm_msg_free(msg);

	struct pairc q;

	open_pair_on(&q, 1000, false);
	assert_int_equal(0, vm_chan_send(&q.ca, VFIOMIG_REC_STOPCOPY_DATA, 3, "ab", 2));
	assert_int_equal(0, vm_chan_recv_hdr(&q.cb, &h));
	assert_int_equal(-EOPNOTSUPP, vm_chan_take_payload_unchecked(&q.cb, &data, &msg));
	close_pair(&q);
}

/*
 * Full-size buffers are bounded per direction whether queued or held: a
 * sender that asks for one more waits out its timeout; a buffer freed
 * (the destination wrote it to its device) lets it go on.  A buffer sent
 * arrives with its payload in place, checksum checked.
 */
static void memory_buffer_bound(void **state)
{
	uint8_t *held[VM_MEM_FULL_MAX + 1], *extra = NULL;
	struct vfiomig_wire_hdr h;
	struct vm_msg *msg;
	uint8_t *data;
	struct pairc p;
	int n = 0, ret;

	(void)state;
	open_pair_on(&p, 300, true);
	while (!(ret = vm_chan_tx_buffer(&p.ca, &held[n])))
		assert_true(++n <= VM_MEM_FULL_MAX);
	assert_int_equal(-ETIMEDOUT, ret);
	assert_int_equal(VM_MEM_FULL_MAX, n);
	memset(held[0], 0xa5, 4096);
	assert_int_equal(0, vm_chan_send_buffer(&p.ca, VFIOMIG_REC_STOPCOPY_DATA,
						1, held[0], 4096));
	/* Queued, it still counts: nothing to spare until it is freed. */
	assert_int_equal(-ETIMEDOUT, vm_chan_tx_buffer(&p.ca, &extra));
	assert_int_equal(0, vm_chan_recv_hdr(&p.cb, &h));
	assert_int_equal(4096, h.len);
	assert_int_equal(0, vm_chan_take_payload_unchecked(&p.cb, &data, &msg));
	assert_int_equal(0, vfiomig_wire_check_payload(&h, data));
	assert_int_equal(0xa5, data[4095]);
	vm_msg_free(msg);
	assert_int_equal(0, vm_chan_tx_buffer(&p.ca, &extra));
	vm_chan_buffer_free(extra);
	for (int i = 1; i < n; i++)
		vm_chan_buffer_free(held[i]);
	/* A socket lends no buffers. */
	struct pairc q;

	open_pair_on(&q, 300, false);
	assert_int_equal(-EOPNOTSUPP, vm_chan_tx_buffer(&q.ca, &extra));
	close_pair(&q);
	close_pair(&p);
}

/* Every page of [@p, @p + @len) is backed by memory now (mincore). */
static bool resident(const void *p, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(pg - 1), e = (uintptr_t)p + len;
	size_t n = (e - a + pg - 1) / pg;
	unsigned char *v = malloc(n);
	bool all = v && !mincore((void *)a, e - a, v);

	for (size_t i = 0; all && i < n; i++)
		all = v[i] & 1;
	free(v);
	return all;
}

/*
 * A sender's buffers are backed by memory once prefaulted: the first
 * stop-copy must not fault in 8 MiB, one page at a time, in the downtime.
 * A socket has nothing to prepare.
 */
static void memory_prefault(void **state)
{
	uint8_t *held[VM_MEM_FULL_MAX], *extra = NULL;
	struct pairc p, q;

	(void)state;
	open_pair_on(&p, 300, true);
	assert_int_equal(0, vm_chan_prefault(&p.ca));
	for (int i = 0; i < VM_MEM_FULL_MAX; i++) {
		assert_int_equal(0, vm_chan_tx_buffer(&p.ca, &held[i]));
		assert_true(resident(held[i], VFIOMIG_WIRE_MAX_DATA));
	}
	for (int i = 0; i < VM_MEM_FULL_MAX; i++)
		vm_chan_buffer_free(held[i]);
	/* Twice is harmless: the bound stays VM_MEM_FULL_MAX. */
	assert_int_equal(0, vm_chan_prefault(&p.ca));
	for (int i = 0; i < VM_MEM_FULL_MAX; i++)
		assert_int_equal(0, vm_chan_tx_buffer(&p.ca, &held[i]));
	assert_int_equal(-ETIMEDOUT, vm_chan_tx_buffer(&p.ca, &extra));
	for (int i = 0; i < VM_MEM_FULL_MAX; i++)
		vm_chan_buffer_free(held[i]);
	close_pair(&p);
	open_pair_on(&q, 300, false);
	assert_int_equal(0, vm_chan_prefault(&q.ca));
	close_pair(&q);
}

/* Every channel index is its own memory channel, whichever end asks first. */
static void memory_channels_independent(void **state)
{
	struct vfiomig_link *a, *b;
	struct vm_chan ca[3], cb[3];
	struct vm_conn fa[3], fb[3];
	atomic_bool never = false;

	(void)state;
	assert_int_equal(0, vfiomig_link_memory(&a, &b));
	assert_int_equal(0, vm_link_channel(b, 2, 1000, &fb[2]));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(0, vm_link_channel(a, i, 1000, &fa[i]));
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(0, vm_link_channel(b, i, 1000, &fb[i]));
	for (unsigned i = 0; i < 3; i++) {
		vm_chan_init(&ca[i], &fa[i], i, &never, 1000);
		vm_chan_init(&cb[i], &fb[i], i, &never, 1000);
	}
	for (unsigned i = 0; i < 3; i++) {
		char c = (char)('0' + i), r = 0;
		struct vfiomig_wire_hdr h;

		assert_int_equal(0, vm_chan_send(&ca[2 - i], VFIOMIG_REC_ACK, i, &c, 1));
		assert_int_equal(0, vm_chan_recv_hdr(&cb[2 - i], &h));
		assert_int_equal(i, h.dev);
		assert_int_equal(0, vm_chan_recv_payload(&cb[2 - i], &h, &r));
		assert_int_equal(c, r);
	}
	for (unsigned i = 0; i < 3; i++) {
		vm_chan_destroy(&ca[i]);
		vm_chan_destroy(&cb[i]);
	}
	vfiomig_link_free(a);
	vfiomig_link_free(b);
}

#define BOTH(t) { #t " (socket)", t, NULL, NULL, NULL }, \
		{ #t " (memory)", t, use_memory, NULL, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(round_trip),
		cmocka_unit_test(corruption_and_truncation),
		BOTH(abort_unblocks),
		BOTH(receive_timeout),
		BOTH(error_record),
		cmocka_unit_test(channels_independent),
		BOTH(error_send_while_receiving),
		cmocka_unit_test(memory_flow_control),
		cmocka_unit_test(memory_shutdown),
		cmocka_unit_test(memory_take_payload),
		cmocka_unit_test(memory_buffer_bound),
		cmocka_unit_test(memory_prefault),
		cmocka_unit_test(memory_channels_independent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
