/* SPDX-License-Identifier: GPL-2.0 */
/*
 * source_internal.h - the source endpoint's state and its steps, one file
 * each: records on the wire (source_wire.c), precopy rounds and the
 * switchover decision (source_precopy.c), the stop phase (source_stop.c),
 * and the session that runs them in order (source_session.c).
 */
#ifndef VFIOMIG_SOURCE_INTERNAL_H
#define VFIOMIG_SOURCE_INTERNAL_H

#include "internal.h"
#include "session_internal.h"

struct src_dev {
	struct vfiomig_device *dev;
	struct vm_obs_arg obs;
	bool precopy;		/* entered PRE_COPY */
	bool init_sent;		/* INIT_DATA_SENT sent for the current initial data */
	uint64_t initial, dirty, est;
	uint32_t reqid;
	unsigned chan;
	uint8_t *buf;
};

struct src {
	struct vm_session ss;	/* lock, abort, first error, barrier */
	struct vfiomig_opts o;
	unsigned n, nchan;
	struct src_dev *d;
	struct vm_chan ch[VFIOMIG_WIRE_MAX_CHANNELS];
	unsigned nch_init;
	struct vfiomig_report *r;
	struct vm_pool pool;
	struct vm_acks acks;
	int ack_mode;
	uint32_t caps;
	bool done;
	uint64_t done_last_running, done_resume_start;
	bool peer_failed;	/* failure came from the peer: do not answer */
	pthread_t rp;
	bool rp_started;
	bool comparable;
};


/* A device's failure, unless it only gave up because the session aborted. */
int src_dev_fail(struct src *s, unsigned i, int ret);
/* A channel's send failure, likewise. */
int src_chan_fail(struct src *s, unsigned c, int ret);

/* Versions, capabilities, devices; then the side channels (source_wire.c). */
int src_handshake(struct src *s, struct vfiomig_link *link);
/* The return-path thread: ACK, DONE and ERROR from the destination. */
void *src_return_path(void *arg);

/* Every PRE_COPY device opts in to PRECOPY_INFOv2 and enters PRE_COPY. */
int src_enter_precopy(struct src *s);
/* Precopy rounds until the switchover decision (or a failure). */
int src_precopy(struct src *s);
/* Send INIT_DATA_SENT for device @i (-EBUSY after the switchover decision). */
int src_request_ack(struct src *s, unsigned i);

/* SWITCHOVER, P2P barrier, STOP_COPY and drain, then wait for DONE. */
int src_stop_phase(struct src *s);

#endif /* VFIOMIG_SOURCE_INTERNAL_H */
