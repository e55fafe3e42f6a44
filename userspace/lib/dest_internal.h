/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dest_internal.h - the destination endpoint's state and its steps, one
 * file each: the bounded queue of received records (dest_queue.c), the
 * receivers that validate records (dest_receive.c), the handshake
 * (dest_handshake.c), loading and the resume phase (dest_resume.c), and
 * the session that runs them in order (dest_session.c).
 */
#ifndef VFIOMIG_DEST_INTERNAL_H
#define VFIOMIG_DEST_INTERNAL_H

#include "session_internal.h"

enum { ITEM_DATA, ITEM_INIT_SENT, ITEM_END };

struct item {
	struct item *next;
	int kind;
	bool stopcopy;
	uint32_t len;		/* DATA: payload bytes; INIT_SENT: request id */
	/* DATA: the record's checksum, channel and sequence number. */
	uint32_t psum, seq;
	unsigned chan;
	uint64_t total;		/* END: stop-copy bytes the source sent */
	size_t charge;		/* bytes counted against max_queued */
	uint8_t *data;		/* DATA: inline[], or the payload of @msg */
	struct vm_msg *msg;	/* in-memory channel: the record's own buffer */
	uint8_t inline_data[];
};

struct dst_dev {
	struct vfiomig_device *dev;
	struct vm_obs_arg obs;
	struct item *head, *tail;
	unsigned chan;
	bool end_received;
	bool legacy_done;
	uint64_t stopcopy_loaded;
};

struct dst {
	struct vm_session ss;	/* lock, abort, first error, barrier */
	struct vfiomig_opts o;
	unsigned n, nchan;
	struct dst_dev *d;
	struct vm_chan ch[VFIOMIG_WIRE_MAX_CHANNELS];
	unsigned nch_init;
	struct vfiomig_report *r;
	struct vm_pool pool;
	uint64_t queued, peak;
	struct item *spare;	/* recycled full-size data items */
	unsigned nspare;
	bool switchover;
	int ack_mode;
	unsigned legacy_pending;
	bool peer_failed;
	bool touched;		/* devices left RUNNING: reset on failure */
	uint32_t caps;		/* negotiated in the handshake */
	pthread_t rx[VFIOMIG_WIRE_MAX_CHANNELS];
	struct rx_arg {
		struct dst *s;
		unsigned c;
	} rxa[VFIOMIG_WIRE_MAX_CHANNELS];
	bool rx_started[VFIOMIG_WIRE_MAX_CHANNELS];
	uint64_t token;
};


/*
 * Large data records get a buffer of the maximal record size, charged as
 * such, and those buffers are recycled: fresh pages cost a page fault
 * each, which under emulation (TCG) costs more than the copy into them.
 * At most SPARE_MAX spare buffers are kept, outside --max-queued.
 */
#define FULL_ITEM (sizeof(struct item) + VFIOMIG_WIRE_MAX_DATA)
/*
 * On an in-memory channel a data item keeps the record's buffer instead
 * of a copy; it is charged the same (FULL_ITEM or header + payload), so
 * --max-queued bounds both transports alike.
 */
struct item *dst_item_adopt(struct dst *s, size_t charge, uint8_t *data,
			    struct vm_msg *msg);
#define SPARE_MAX 4

/* ---- dest_queue.c: item buffers and the queue bounded by --max-queued */
struct item *dst_item_alloc(struct dst *s, size_t charge);
void dst_item_free(struct dst *s, struct item *it);
void dst_free_spares(struct dst *s);
/* Wait until @bytes fit under the cap; -ECANCELED on abort. */
int dst_reserve(struct dst *s, size_t bytes);
void dst_release(struct dst *s, size_t bytes);
void dst_enqueue(struct dst *s, unsigned i, struct item *it);
/* The next item for device @i; NULL once the session aborted. */
struct item *dst_dequeue(struct dst *s, unsigned i);
/* A charged, zeroed item for a control record; NULL on abort or ENOMEM. */
struct item *dst_control_item(struct dst *s);

/* ---- dest_receive.c: validating and queueing what the source sends */
int dst_wire_fail(struct dst *s, unsigned c, int ret);
bool dst_channel_finished(struct dst *s, unsigned c);
/* One record from channel @c: 0 or the session's -errno. */
int dst_rx_one(struct dst *s, unsigned c);
/* A side channel's receiver (channels >= 1). */
void *dst_rx_thread(void *arg);

/* ---- dest_stream_fail.c: a broken channel's reason (device, phase, errno) */
int dst_stream_fail(struct dst *s, unsigned c, int ret);

/* ---- dest_handshake.c */
int dst_check_hello(struct dst *s, struct vfiomig_link *link);
int dst_send_welcome(struct dst *s, struct vfiomig_link *link);

/* ---- dest_resume.c: loaders and the resume phase */
int dst_job_load(void *arg, unsigned i);
int dst_job_resuming(void *arg, unsigned i);
int dst_job_p2p(void *arg, unsigned i);
int dst_job_run(void *arg, unsigned i);
int dst_job_resume_parallel(void *arg, unsigned i);
int dst_enter_resuming(struct dst *s);

#endif /* VFIOMIG_DEST_INTERNAL_H */
