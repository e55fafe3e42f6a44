/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiomig_session.h - migrating a set of devices over a byte stream.
 *
 * A source endpoint and a destination endpoint run the flow described in
 * docs/engine.md over a link (TCP, unix socket, or in-process socketpairs)
 * using the protocol of docs/wire-protocol.md.
 */
#ifndef VFIOMIG_SESSION_H
#define VFIOMIG_SESSION_H

#include "vfiomig.h"
#include "vfiomig_report.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vfiomig_transitions {
	VFIOMIG_TRANSITIONS_PARALLEL = 0,	/* one worker per device + barrier */
	VFIOMIG_TRANSITIONS_SEQUENTIAL = 1,	/* one device after the other */
};

enum vfiomig_ack_mode {
	VFIOMIG_ACK_AUTO = 0,		/* per-device if both ends can, else legacy */
	VFIOMIG_ACK_OFF = 1,
	VFIOMIG_ACK_LEGACY = 2,
	VFIOMIG_ACK_PER_DEVICE = 3,
};

/** vfiomig_ack_mode_name() - "auto", "off", "legacy", "per-device". */
const char *vfiomig_ack_mode_name(int mode);

/* Test hooks (fault injection in the engine itself). */
#define VFIOMIG_INJECT_ACK_AFTER_STOP (1u << 0)	/* request an ack after stopping */
#define VFIOMIG_INJECT_REINIT_AT_FINAL (1u << 1)	/* treat final check as REINIT once */

struct vfiomig_opts {
	int transitions;		/* enum vfiomig_transitions */
	unsigned channels;		/* 0: one per device, at most 8 */
	uint64_t max_queued;		/* destination: bytes queued for loading */
	unsigned max_rounds;		/* precopy round limit */
	uint64_t threshold;		/* switch when pending bytes <= this (docs/engine.md) */
	int ack_mode;			/* enum vfiomig_ack_mode */
	bool reinit;			/* opt in to PRECOPY_INFOv2 when offered */
	unsigned final_retries;		/* REINIT at final check: rounds retried */
	unsigned io_timeout_ms;		/* peer silence that aborts the session */
	size_t chunk;			/* data fd read size */
	unsigned min_precopy_ms;	/* keep precopy running at least this long */
	unsigned inject;		/* VFIOMIG_INJECT_* */
	bool reset_stopped;		/* reset a device not RUNNING at start (else refuse) */
};

/**
 * vfiomig_opts_init() - defaults: parallel, channels 0 (auto), max_queued
 * 64 MiB, 64 rounds, no size threshold, ack auto, reinit on, 3 final
 * retries, 30 s I/O timeout, 1 MiB chunks, no minimum precopy time,
 * devices that are not RUNNING at start are reset (as QEMU resets its
 * devices at machine start).
 */
void vfiomig_opts_init(struct vfiomig_opts *o);

/* A transport that yields the byte-stream channels of a session. */
struct vfiomig_link;

/**
 * vfiomig_link_connect() - source side link to "HOST:PORT", "[V6]:PORT" or
 * "unix:PATH".  Connects the first channel now, more channels on demand.
 */
int vfiomig_link_connect(const char *addr, struct vfiomig_link **out);

/**
 * vfiomig_link_listen() - destination side: bind and listen on @addr
 * (port 0 picks a free port, see vfiomig_link_port()).  Channels are
 * accepted during vfiomig_migrate_dest().
 */
int vfiomig_link_listen(const char *addr, struct vfiomig_link **out);

/** vfiomig_link_port() - the bound TCP port of a listening link, or 0. */
int vfiomig_link_port(const struct vfiomig_link *link);

/**
 * vfiomig_link_pair() - two in-process link ends joined by socketpairs, for
 * the local mode (source and destination in one process, two threads).
 */
int vfiomig_link_pair(struct vfiomig_link **src, struct vfiomig_link **dst);

/**
 * vfiomig_link_memory() - two in-process link ends whose channels hand
 * whole records over in memory instead of through a socket: the same
 * records, checksums, flow control and timeouts, one copy fewer per side
 * and no system call per record.  The default of the local mode.
 */
int vfiomig_link_memory(struct vfiomig_link **src, struct vfiomig_link **dst);

/** vfiomig_link_free() - close every channel and the listening socket. */
void vfiomig_link_free(struct vfiomig_link *link);

/**
 * vfiomig_migrate_source() - migrate @n open devices (all RUNNING) to the
 * destination at the other end of @link.
 * @rep: if non-NULL, receives a report (also on failure); free it with
 *	 vfiomig_report_free().
 * @err: one-line reason on failure.
 *
 * On success the source devices end in STOP (after the destination said
 * every device is RUNNING).  On failure every device is back in RUNNING
 * (reset if a state change failed).
 */
int vfiomig_migrate_source(struct vfiomig_device **devs, unsigned n,
			   struct vfiomig_link *link,
			   const struct vfiomig_opts *o,
			   struct vfiomig_report **rep, char *err,
			   size_t errlen);

/**
 * vfiomig_migrate_dest() - receive a migration into @n open devices (all
 * RUNNING, same count and migration flags as the source).  On success the
 * devices are RUNNING with the source's state; on failure they are reset.
 */
int vfiomig_migrate_dest(struct vfiomig_device **devs, unsigned n,
			 struct vfiomig_link *link,
			 const struct vfiomig_opts *o,
			 struct vfiomig_report **rep, char *err,
			 size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* VFIOMIG_SESSION_H */
