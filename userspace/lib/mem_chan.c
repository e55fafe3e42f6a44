// SPDX-License-Identifier: GPL-2.0
/*
 * mem_chan.c - an in-process channel: two bounded queues of whole wire
 * records, one per direction, for a source and a destination in the
 * same process (vfio-migrate local).
 *
 * A socketpair costs two kernel copies per byte (send and receive) plus a
 * system call per record; under emulation that alone ran slower than the
 * device's own save and load.  Here a record is copied once, into a
 * message buffer, and the receiver may keep that buffer as its own
 * (vm_msg_payload()), so the data path copies no more than the device
 * fds do.  Everything above this file - record headers, sequence
 * numbers, CRCs, payload checksums, timeouts and the abort flag - is the
 * socket path's code (channel.c), so only the copies differ.
 *
 * Each direction holds at most QUEUE_CAP bytes of queued records, and
 * at most VM_MEM_FULL_MAX full-size message buffers exist per direction,
 * queued or not: a sender waits for room as it waits for a full socket buffer,
 * so the destination's --max-queued (or this smaller bound) still slows
 * the source.  Full-size buffers are recycled: fresh pages cost a page
 * fault each, which under emulation costs more than the copy itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session_internal.h"

#define FULL_LEN (VFIOMIG_WIRE_HDR_LEN + VFIOMIG_WIRE_MAX_DATA)
/* Room for two maximal records, so one is filled while one is drained. */
#define QUEUE_CAP (2 * FULL_LEN + 65536)
/*
 * Full-size buffers alive per direction (VM_MEM_FULL_MAX): all of them
 * fit the spare list, so after the first few records no buffer is ever
 * fresh memory.  The reader's two slots, two queued records and the
 * loader's one left no slack at 4: a loader that fell a few records
 * behind stalled the reader, and the device's save with it.  8 measured
 * 9% faster (Table 3, 7 repetitions each, 452 against 416 MB/s); the
 * destination's --max-queued still bounds what it holds.
 */
#define SPARE_MAX VM_MEM_FULL_MAX

struct vm_pipe;

struct vm_msg {
	struct vm_msg *next;
	struct vm_pipe *pipe;	/* where a full-size buffer is recycled */
	size_t len;		/* header + payload bytes */
	size_t cap;
	uint8_t bytes[];
};

/* One direction of a channel. */
struct vm_pipe {
	struct vm_mem_chan *mc;
	struct vm_msg *head, *tail;
	size_t queued;		/* bytes of the queued records */
	bool eof;		/* the writer shut down: EOF once drained */
	bool reset;		/* the reader shut down: nothing more is taken */
	struct vm_msg *spare;
	unsigned nspare;
	unsigned nfull;		/* full-size buffers alive, spares aside */
	/*
	 * Its reader waits on @readable, its writers on @writable: a record
	 * wakes only the side that can go on, not the other direction's.
	 */
	pthread_cond_t readable, writable;
};

/*
 * Both directions share one lock: a channel carries at most a few records
 * a millisecond, and one lock keeps shutdown (which touches both) simple.
 * Each direction has one reader, woken by a signal; writers (devices
 * sharing a channel, loaders freeing buffers) are woken by a broadcast.
 * @refs counts the two ends plus every message held by a sender before
 * it is queued or handed to a receiver and not yet freed, so a receiver may keep message buffers after the link is
 * gone; queued messages go with the channel.
 */
struct vm_mem_chan {
	pthread_mutex_t lock;
	struct vm_pipe dir[2];	/* dir[k]: what end k sends */
	unsigned refs;
};

struct vm_mem_end {
	struct vm_mem_chan *mc;
	int side;
};

static void chan_put_locked(struct vm_mem_chan *mc, bool *last)
{
	*last = --mc->refs == 0;
}

static void chan_free(struct vm_mem_chan *mc)
{
	for (int k = 0; k < 2; k++) {
		struct vm_pipe *p = &mc->dir[k];

		while (p->head) {
			struct vm_msg *m = p->head;

			p->head = m->next;
			free(m);
		}
		while (p->spare) {
			struct vm_msg *m = p->spare;

			p->spare = m->next;
			free(m);
		}
	}
	for (int k = 0; k < 2; k++) {
		pthread_cond_destroy(&mc->dir[k].readable);
		pthread_cond_destroy(&mc->dir[k].writable);
	}
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

int vm_mem_chan_new(struct vm_mem_end *ends[2])
{
	struct vm_mem_chan *mc = calloc(1, sizeof(*mc));
	struct vm_mem_end *a = calloc(1, sizeof(*a));
	struct vm_mem_end *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!mc || !a || !b) {
		free(mc);
		free(a);
		free(b);
		return -ENOMEM;
	}
	pthread_mutex_init(&mc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int k = 0; k < 2; k++) {
		mc->dir[k].mc = mc;
		pthread_cond_init(&mc->dir[k].readable, &ca);
		pthread_cond_init(&mc->dir[k].writable, &ca);
	}
	pthread_condattr_destroy(&ca);
	mc->refs = 2;
	*a = (struct vm_mem_end){ .mc = mc, .side = 0 };
	*b = (struct vm_mem_end){ .mc = mc, .side = 1 };
	ends[0] = a;
	ends[1] = b;
	return 0;
}

static struct vm_pipe *tx_pipe(struct vm_mem_end *e)
{
	return &e->mc->dir[e->side];
}

static struct vm_pipe *rx_pipe(struct vm_mem_end *e)
{
	return &e->mc->dir[!e->side];
}

int vm_mem_end_prefault(struct vm_mem_end *e)
{
	struct vm_mem_chan *mc = e->mc;
	struct vm_pipe *p = tx_pipe(e);
	struct vm_msg *fresh = NULL;
	unsigned n;
	int ret = 0;

	pthread_mutex_lock(&mc->lock);
	n = VM_MEM_FULL_MAX - p->nfull - p->nspare;
	pthread_mutex_unlock(&mc->lock);
	/* Outside the lock: touching 8 MiB takes milliseconds here. */
	for (unsigned i = 0; i < n; i++) {
		struct vm_msg *m = malloc(sizeof(*m) + FULL_LEN);

		if (!m) {
			ret = -ENOMEM;
			break;
		}
		m->cap = FULL_LEN;
		memset(m->bytes, 0, FULL_LEN);
		m->next = fresh;
		fresh = m;
	}
	pthread_mutex_lock(&mc->lock);
	while (fresh) {
		struct vm_msg *m = fresh;

		fresh = m->next;
		if (p->nspare + p->nfull >= VM_MEM_FULL_MAX) {
			free(m);
			continue;
		}
		m->next = p->spare;
		p->spare = m;
		p->nspare++;
	}
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

/* Like shutdown(SHUT_RDWR): the peer reads what was queued, then EOF. */
void vm_mem_end_shutdown(struct vm_mem_end *e)
{
	struct vm_mem_chan *mc = e->mc;

	pthread_mutex_lock(&mc->lock);
	tx_pipe(e)->eof = true;
	rx_pipe(e)->reset = true;
	for (int k = 0; k < 2; k++) {
		pthread_cond_broadcast(&mc->dir[k].readable);
		pthread_cond_broadcast(&mc->dir[k].writable);
	}
	pthread_mutex_unlock(&mc->lock);
}

/* Like close(): shut down, and the end is gone. */
void vm_mem_end_close(struct vm_mem_end *e)
{
	struct vm_mem_chan *mc;
	bool last;

	if (!e)
		return;
	mc = e->mc;
	vm_mem_end_shutdown(e);
	pthread_mutex_lock(&mc->lock);
	chan_put_locked(mc, &last);
	pthread_mutex_unlock(&mc->lock);
	if (last)
		chan_free(mc);
	free(e);
}

/* Wait on @cond until @until; false once it passed. */
static bool wait_slice(struct vm_mem_chan *mc, pthread_cond_t *cond,
		       const struct timespec *until)
{
	return pthread_cond_timedwait(cond, &mc->lock, until) != ETIMEDOUT;
}

static struct timespec deadline(unsigned slice_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += slice_ms / 1000;
	ts.tv_nsec += (long)(slice_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool is_full_size(size_t len)
{
	return len > FULL_LEN / 2;
}

/* A buffer for @len bytes: a recycled full-size one when it is that big. */
static struct vm_msg *msg_get(struct vm_pipe *p, size_t len)
{
	struct vm_msg *m = NULL;
	size_t cap = is_full_size(len) ? FULL_LEN : len;

	if (cap == FULL_LEN && p->spare) {
		m = p->spare;
		p->spare = m->next;
		p->nspare--;
	}
	if (!m) {
		m = malloc(sizeof(*m) + cap);
		if (!m)
			return NULL;
		m->cap = cap;
	}
	m->next = NULL;
	m->pipe = p;
	m->len = len;
	if (cap == FULL_LEN)
		p->nfull++;
	return m;
}

/*
 * Wait until @total more bytes fit the queue and, with @new_full, one more
 * full-size buffer may exist: 0 (the bytes are taken), -EAGAIN once
 * @slice_ms passed, -ECONNRESET when either end shut down.
 */
static int wait_room(struct vm_pipe *p, size_t total, bool new_full,
		     unsigned slice_ms)
{
	struct timespec until = deadline(slice_ms);

	for (;;) {
		if (p->eof || p->reset)
			return -ECONNRESET;
		/* An empty queue takes any record, as a socket takes a byte. */
		if ((!p->queued || p->queued + total <= QUEUE_CAP) &&
		    (!new_full || p->nfull < VM_MEM_FULL_MAX))
			break;
		if (!wait_slice(p->mc, &p->writable, &until))
			return -EAGAIN;
	}
	p->queued += total;
	return 0;
}

static void enqueue(struct vm_pipe *p, struct vm_msg *m)
{
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	pthread_cond_signal(&p->readable);
}

int vm_mem_send(struct vm_mem_end *e, const uint8_t *hdr, const void *payload,
		uint32_t len, unsigned slice_ms)
{
	struct vm_mem_chan *mc = e->mc;
	struct vm_pipe *p = tx_pipe(e);
	size_t total = VFIOMIG_WIRE_HDR_LEN + len;
	struct vm_msg *m;
	int ret;

	if (len > VFIOMIG_WIRE_MAX_DATA)
		return -EMSGSIZE;
	pthread_mutex_lock(&mc->lock);
	ret = wait_room(p, total, is_full_size(total), slice_ms);
	if (ret)
		goto out;
	m = msg_get(p, total);
	if (!m) {
		p->queued -= total;
		ret = -ENOMEM;
		goto out;
	}
	/* The room is taken; the copy runs without the lock. */
	pthread_mutex_unlock(&mc->lock);
	memcpy(m->bytes, hdr, VFIOMIG_WIRE_HDR_LEN);
	if (len)
		memcpy(m->bytes + VFIOMIG_WIRE_HDR_LEN, payload, len);
	pthread_mutex_lock(&mc->lock);
	enqueue(p, m);
out:
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

int vm_mem_msg_new(struct vm_mem_end *e, struct vm_msg **out,
		   unsigned slice_ms)
{
	struct vm_mem_chan *mc = e->mc;
	struct vm_pipe *p = tx_pipe(e);
	int ret;

	pthread_mutex_lock(&mc->lock);
	ret = wait_room(p, 0, true, slice_ms);
	if (!ret) {
		*out = msg_get(p, FULL_LEN);
		if (*out)
			mc->refs++;	/* the sender's until it is queued */
		else
			ret = -ENOMEM;
	}
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

int vm_mem_send_msg(struct vm_mem_end *e, const uint8_t *hdr,
		    struct vm_msg *m, uint32_t len, unsigned slice_ms)
{
	struct vm_mem_chan *mc = e->mc;
	struct vm_pipe *p = tx_pipe(e);
	size_t total = VFIOMIG_WIRE_HDR_LEN + len;
	int ret;

	if (len > VFIOMIG_WIRE_MAX_DATA || m->pipe != p)
		return -EINVAL;
	pthread_mutex_lock(&mc->lock);
	ret = wait_room(p, total, false, slice_ms);
	if (!ret) {
		memcpy(m->bytes, hdr, VFIOMIG_WIRE_HDR_LEN);
		m->len = total;
		m->next = NULL;
		mc->refs--;	/* queued: it goes with the channel now */
		enqueue(p, m);
	}
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

struct vm_msg *vm_msg_of_payload(uint8_t *payload)
{
	return (struct vm_msg *)(payload - VFIOMIG_WIRE_HDR_LEN -
				 offsetof(struct vm_msg, bytes));
}

int vm_mem_recv(struct vm_mem_end *e, struct vm_msg **out, unsigned slice_ms)
{
	struct vm_mem_chan *mc = e->mc;
	struct vm_pipe *p = rx_pipe(e);
	struct timespec until = deadline(slice_ms);
	int ret = 0;

	pthread_mutex_lock(&mc->lock);
	for (;;) {
		if (p->reset) {		/* this end shut down */
			ret = -ECONNRESET;
			break;
		}
		if (p->head) {
			struct vm_msg *m = p->head;

			p->head = m->next;
			if (!p->head)
				p->tail = NULL;
			p->queued -= m->len;
			m->next = NULL;
			mc->refs++;	/* the receiver's now */
			*out = m;
			pthread_cond_broadcast(&p->writable);
			break;
		}
		if (p->eof) {
			ret = -ECONNRESET;
			break;
		}
		if (!wait_slice(mc, &p->readable, &until)) {
			ret = -EAGAIN;
			break;
		}
	}
	pthread_mutex_unlock(&mc->lock);
	return ret;
}

const uint8_t *vm_msg_bytes(const struct vm_msg *m)
{
	return m->bytes;
}

uint8_t *vm_msg_payload(struct vm_msg *m)
{
	return m->bytes + VFIOMIG_WIRE_HDR_LEN;
}

void vm_msg_free(struct vm_msg *m)
{
	struct vm_mem_chan *mc;
	struct vm_pipe *p;
	bool last;

	if (!m)
		return;
	p = m->pipe;
	mc = p->mc;
	pthread_mutex_lock(&mc->lock);
	if (m->cap == FULL_LEN) {
		p->nfull--;
		pthread_cond_broadcast(&p->writable);
	}
	if (m->cap == FULL_LEN && p->nspare < SPARE_MAX) {
		m->next = p->spare;
		p->spare = m;
		p->nspare++;
		m = NULL;
	}
	chan_put_locked(mc, &last);
	pthread_mutex_unlock(&mc->lock);
	free(m);
	if (last)
		chan_free(mc);
}
