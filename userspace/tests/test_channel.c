// SPDX-License-Identifier: GPL-2.0
/*
 * test_channel - framed records over in-process socketpair links: round
 * trip, sequence numbers, corruption and truncation detection, the abort
 * flag unblocking a blocked receiver, and the receive timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

struct pairc {
	struct vfiomig_link *a, *b;
	struct vm_chan ca, cb;
	atomic_bool abort;
};

static void open_pair(struct pairc *p, unsigned timeout_ms)
{
	int fa, fb;

	atomic_init(&p->abort, false);
	assert_int_equal(0, vfiomig_link_pair(&p->a, &p->b));
	assert_int_equal(0, vm_link_channel(p->a, 0, 1000, &fa));
	assert_int_equal(0, vm_link_channel(p->b, 0, 1000, &fb));
	vm_chan_init(&p->ca, fa, 0, &p->abort, timeout_ms);
	vm_chan_init(&p->cb, fb, 0, &p->abort, timeout_ms);
}

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

	(void)state;
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

	(void)state;
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

	(void)state;
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

	(void)state;
	open_pair(&p, 300);
	assert_int_equal(-ETIMEDOUT, vm_chan_recv_hdr(&p.cb, &h));
	close_pair(&p);
}

static void error_record(void **state)
{
	struct pairc p;
	struct vfiomig_wire_hdr h;
	uint8_t buf[600];

	(void)state;
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

	(void)state;
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
	int fa[3], fb[3];

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
		assert_int_equal(1, write(fa[i], &c, 1));
		assert_int_equal(1, read(fb[i], &r, 1));
		assert_int_equal(c, r);
	}
	assert_int_equal(-EINVAL, vm_link_channel(a, VFIOMIG_WIRE_MAX_CHANNELS, 0, &fa[0]));
	vfiomig_link_free(a);
	vfiomig_link_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(corruption_and_truncation),
		cmocka_unit_test(abort_unblocks),
		cmocka_unit_test(receive_timeout),
		cmocka_unit_test(error_record),
		cmocka_unit_test(channels_independent),
		cmocka_unit_test(error_send_while_receiving),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
