/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session_internal.h - pieces shared by the source and destination
 * endpoints: channels, links, workers, the barrier, the switchover
 * decision, ack accounting and the report builder.
 */
#ifndef VFIOMIG_SESSION_INTERNAL_H
#define VFIOMIG_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vfiomig_session.h"
#include "vfiomig_wire.h"

/* ---- in-memory channels (mem_chan.c) --------------------------------- */

struct vm_mem_end;	/* one end of an in-process channel */
struct vm_msg;		/* one record in it: header, then payload */

/*
 * Full-size payload buffers alive per direction of an in-memory channel,
 * queued, held by the receiver or being filled (vm_chan_tx_buffer()
 * waits for one beyond that).  Why 8: mem_chan.c.
 */
#define VM_MEM_FULL_MAX 8

/* A connected pair of ends; each is freed by vm_mem_end_close(). */
int vm_mem_chan_new(struct vm_mem_end *ends[2]);
void vm_mem_end_shutdown(struct vm_mem_end *e);
void vm_mem_end_close(struct vm_mem_end *e);
/*
 * vm_mem_end_prefault() - allocate and touch now every full-size buffer
 * @e may send (VM_MEM_FULL_MAX), so that the first stop-copy does not
 * take a page fault per 4 KiB inside the downtime: 0 or -ENOMEM.
 */
int vm_mem_end_prefault(struct vm_mem_end *e);
/*
 * vm_mem_send() - queue a record (@hdr, then @len bytes of @payload,
 * copied), waiting at most @slice_ms for room: 0, -EAGAIN when the slice
 * passed, -ECONNRESET once either end shut down.
 */
int vm_mem_send(struct vm_mem_end *e, const uint8_t *hdr, const void *payload,
		uint32_t len, unsigned slice_ms);
/*
 * vm_mem_recv() - the next record, waiting at most @slice_ms: 0 with
 * *@msg (the caller frees it), -EAGAIN when the slice passed, -ECONNRESET
 * at the end (the peer shut down and everything was read, or this end
 * shut down).
 */
int vm_mem_recv(struct vm_mem_end *e, struct vm_msg **msg, unsigned slice_ms);
/*
 * vm_mem_msg_new() - a full-size message for the sender to fill in place
 * (vm_msg_payload(), up to VFIOMIG_WIRE_MAX_DATA bytes) and queue with
 * vm_mem_send_msg(), waiting at most @slice_ms while the direction has
 * all the full-size buffers it may: 0, -EAGAIN, -ECONNRESET, -ENOMEM.
 */
int vm_mem_msg_new(struct vm_mem_end *e, struct vm_msg **msg,
		   unsigned slice_ms);
/*
 * vm_mem_send_msg() - queue @m with header @hdr and @len payload bytes,
 * as vm_mem_send() without the copy.  On 0 the channel owns @m; on any
 * error the caller still does.
 */
int vm_mem_send_msg(struct vm_mem_end *e, const uint8_t *hdr,
		    struct vm_msg *m, uint32_t len, unsigned slice_ms);
struct vm_msg *vm_msg_of_payload(uint8_t *payload);
const uint8_t *vm_msg_bytes(const struct vm_msg *m);
uint8_t *vm_msg_payload(struct vm_msg *m);
/* Free (or recycle) a message; valid after both ends were closed. */
void vm_msg_free(struct vm_msg *m);

/* ---- channels (channel.c) ------------------------------------------- */

/* What a link hands out for one channel: a socket or an in-memory end. */
struct vm_conn {
	int fd;			/* -1 for an in-memory channel */
	struct vm_mem_end *mem;
};

/*
 * One byte stream of a session, over a socket or in memory; sends are
 * serialised by tx_lock.
 */
struct vm_chan {
	int fd;
	struct vm_mem_end *mem;
	struct vm_msg *rx_msg;	/* in memory: the record whose header was read */
	unsigned idx;
	uint32_t tx_seq, rx_seq;
	pthread_mutex_t tx_lock;
	const atomic_bool *abort;	/* polled while blocked */
	unsigned timeout_ms;
	atomic_bool rx_no_timeout;	/* receive waits only end on data, EOF or abort */
	bool timed;		/* blocking socket with 100 ms SO_*TIMEO slices */
	_Atomic uint64_t last_tx_ns;	/* when the last record went out */
};

void vm_chan_init(struct vm_chan *c, const struct vm_conn *conn, unsigned idx,
		  const atomic_bool *abort, unsigned timeout_ms);
/* The channel has a transport (it was initialised from a link). */
bool vm_chan_open(const struct vm_chan *c);
void vm_chan_destroy(struct vm_chan *c);
/*
 * vm_chan_prefault() - for a sender, before precopy: an in-memory channel
 * gets its payload buffers now (vm_mem_end_prefault()); a socket has
 * nothing to prepare.  0 or -ENOMEM.
 */
int vm_chan_prefault(struct vm_chan *c);
int vm_chan_send(struct vm_chan *c, unsigned type, unsigned dev,
		 const void *payload, uint32_t len);
/* Receive and validate a header (decode errors as in vfiomig_wire.h). */
int vm_chan_recv_hdr(struct vm_chan *c, struct vfiomig_wire_hdr *h);
/* Receive h->len payload bytes into @buf and check their checksum. */
int vm_chan_recv_payload(struct vm_chan *c, const struct vfiomig_wire_hdr *h,
			 void *buf);
/*
 * vm_chan_recv_payload_unchecked() - vm_chan_recv_payload() without the
 * checksum: for device data, which the destination checks right before
 * it writes it to the device (vfiomig_wire_check_payload()).
 */
int vm_chan_recv_payload_unchecked(struct vm_chan *c,
				   const struct vfiomig_wire_hdr *h, void *buf);
/*
 * vm_chan_take_payload_unchecked() - in memory only: hand over the buffer
 * of the record whose header was just received instead of copying it:
 * *@data (h->len bytes) stays valid until vm_msg_free(*@msg).  Its
 * checksum is not checked: the caller does, before it uses the bytes.
 * -EOPNOTSUPP on a socket (use vm_chan_recv_payload_unchecked()).
 */
int vm_chan_take_payload_unchecked(struct vm_chan *c, uint8_t **data,
				   struct vm_msg **msg);
/*
 * vm_chan_tx_buffer() - in memory only: a payload buffer of
 * VFIOMIG_WIRE_MAX_DATA bytes to fill and send with vm_chan_send_buffer(),
 * so the bytes are not copied again.  Waits like a send (timeout, abort)
 * while the channel has no buffer to spare.  -EOPNOTSUPP on a socket.
 */
int vm_chan_tx_buffer(struct vm_chan *c, uint8_t **buf);
/* Send a record whose payload is @buf (from vm_chan_tx_buffer()); @buf is consumed either way. */
int vm_chan_send_buffer(struct vm_chan *c, unsigned type, unsigned dev,
			uint8_t *buf, uint32_t len);
/* A vm_chan_tx_buffer() buffer that is not sent after all. */
void vm_chan_buffer_free(uint8_t *buf);
/* Send an ERROR record (best effort, short timeout). */
void vm_chan_send_error(struct vm_chan *c, int err, const char *msg);
void vm_chan_shutdown(struct vm_chan *c);

/* ---- links (link.c) -------------------------------------------------- */

/* Channel @idx of the link (connect/accept/socketpair as the kind says). */
int vm_link_channel(struct vfiomig_link *l, unsigned idx, unsigned timeout_ms,
		    struct vm_conn *conn);

/* ---- workers (worker.c) --------------------------------------------- */

typedef int (*vm_job_fn)(void *arg, unsigned idx);

/* One thread per device, reused for every phase of the session. */
struct vm_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	vm_job_fn fn;
	void *arg;
	unsigned idx;
	bool busy, quit, started;
	int ret;
};

struct vm_pool {
	unsigned n;
	struct vm_worker *w;
};

/*
 * vm_pool_start() - start @n workers, named "@role-dev<i>" (at most 15
 * characters, as top and perf show them).
 */
int vm_pool_start(struct vm_pool *p, unsigned n, const char *role);
void vm_pool_stop(struct vm_pool *p);
/* Name @th for top, perf and gdb, from a printf format. */
void vm_thread_name(pthread_t th, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vm_pool_submit(struct vm_pool *p, unsigned idx, vm_job_fn fn, void *arg);
int vm_pool_wait(struct vm_pool *p, unsigned idx);
/*
 * Run fn on every worker: parallel = all at once, then wait for all;
 * sequential = one after the other.  Returns the first error by index.
 */
int vm_pool_run(struct vm_pool *p, vm_job_fn fn, void *arg, bool parallel);

/*
 * read_ahead.c: a consumer of device data chunks: 0 (done with @buf),
 * VM_SINK_TOOK (it keeps @buf: the reader needs a new one) or -errno.
 */
#define VM_SINK_TOOK 1
typedef int (*vm_sink_fn)(void *arg, uint8_t *buf, size_t len);

/*
 * Where the reader's chunk buffers come from, so a sink can pass them on
 * instead of copying them (an in-memory channel's message buffers).
 * @get gives a buffer of at least the chunk size (0 or -errno); @put
 * takes back one that no sink took.
 */
struct vm_buf_ops {
	int (*get)(void *arg, uint8_t **buf);
	void (*put)(void *arg, uint8_t *buf);
	void *arg;
};

/*
 * vm_read_ahead() - read @dev's data fd to its end in @chunk-sized reads on
 * a helper thread, passing each chunk to @sink while the next one is read;
 * when @expect (the device's own estimate) is at most one chunk, read
 * inline into @buf instead.  The first chunk is always read inline, and
 * the helper starts only if the stream is longer.  Chunk buffers come
 * from @bufs (NULL: malloc, or @buf on the inline paths).
 * Adds the time spent in read() to *@read_ns and sets *@total to the bytes
 * sunk.  Returns 0 at the end of the stream, the read's error (-ENOMSG
 * included) or the sink's.
 */
int vm_read_ahead(struct vfiomig_device *dev, void *buf, size_t chunk,
		  uint64_t expect, const struct vm_buf_ops *bufs,
		  vm_sink_fn sink, void *arg, uint64_t *read_ns,
		  uint64_t *total);

/* ---- barrier (barrier.c) ---------------------------------------------- */

/*
 * Atomic arrival counter plus a one-shot event: the last of @total
 * arrivals sets the event, everybody waits for it.  Breakable so that a
 * failing device releases the others instead of deadlocking them.
 */
struct vm_barrier {
	atomic_uint arrived;
	unsigned total;
	atomic_int event;	/* VM_BARRIER_SET | VM_BARRIER_BROKEN; a futex */
};

void vm_barrier_init(struct vm_barrier *b, unsigned total);
void vm_barrier_destroy(struct vm_barrier *b);
/* 0 once all arrived; -ECANCELED if broken. */
int vm_barrier_arrive_wait(struct vm_barrier *b);
void vm_barrier_break(struct vm_barrier *b);
/*
 * vm_barrier_phases() - one device's part of a two-phase transition: run
 * @first(@arg, @idx), wait until every device finished its first phase,
 * then run @second.  A failed first phase breaks the barrier so nobody
 * waits for it.  Adds the time spent waiting to *@wait_ns.
 */
int vm_barrier_phases(struct vm_barrier *b, vm_job_fn first,
		      vm_job_fn second, void *arg, unsigned idx,
		      uint64_t *wait_ns);

/* ---- what both endpoints share (session_common.c) --------------------- */

/*
 * The part of a source or destination session that failure handling
 * needs: the first error wins, and every blocked thread gives up.
 */
struct vm_session {
	pthread_mutex_t lock;	/* guards everything else of the endpoint */
	pthread_cond_t cond;
	/*
	 * For a waiter that needs only its own device's events (a loader and
	 * its queue), so that an event wakes one thread rather than all of
	 * them; under @lock like @cond, and broadcast with it on abort.
	 */
	pthread_cond_t dev_cond[VFIOMIG_WIRE_MAX_DEVICES];
	unsigned ndev;
	atomic_bool abort;	/* polled by channels and loops */
	int err;		/* first failure, -errno */
	char msg[512];		/* and what it was */
	struct vm_barrier barrier;	/* the P2P barrier of the stop/resume */
};

/* Everything, the barrier for @ndev devices included, before any thread. */
void vm_session_init(struct vm_session *ss, unsigned ndev);
/* Set abort and wake every waiter of @ss (cond and dev_cond); lock not held. */
void vm_session_abort_wake(struct vm_session *ss);
void vm_session_destroy(struct vm_session *ss);
/* The first failure's -errno, or @fallback when nothing failed yet. */
int vm_session_err(struct vm_session *ss, int fallback);
/* The first failure's -errno (0: none) and its message, copied to @msg. */
int vm_session_failure(struct vm_session *ss, char *msg, size_t len);
/* Append @what to the failure message (recovery results). */
void vm_session_note(struct vm_session *ss, const char *what);
/*
 * If the session failed: its message into @err and the report, and its
 * -errno returned; otherwise @ret.
 */
int vm_session_report_failure(struct vm_session *ss, struct vfiomig_report *r,
			      int ret, char *err, size_t errlen);
/*
 * vm_peer_error() - the peer sent ERROR (payload @buf, @len bytes): it
 * needs no answer (*@peer_failed, under the lock), the report logs it, and
 * the session fails with the peer's errno and "@what: its message".
 */
int vm_peer_error(struct vm_session *ss, struct vfiomig_report *r,
		  bool *peer_failed, const uint8_t *buf, uint32_t len,
		  const char *what);
/* Tell the peer on @c why this side failed (the first failure). */
void vm_session_send_error(struct vm_session *ss, struct vm_chan *c);
/*
 * vm_fail() - record the first failure (@err, or -EIO for 0; the message),
 * set abort, wake every waiter and break the barrier.  Returns the -errno.
 */
int vm_fail(struct vm_session *ss, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * vm_session_halt() - the first half of an abort, on either end: every
 * waiter wakes, the barrier breaks, the peer is told why (unless
 * *@peer_failed: it failed first) and the @nch channels shut down, so
 * blocked receives end.  The caller then joins its threads.
 */
void vm_session_halt(struct vm_session *ss, const bool *peer_failed,
		     struct vm_chan *ch, unsigned nch);
/* The report's "abort" event, with the first failure. */
void vm_session_log_abort(struct vm_session *ss, struct vfiomig_report *r);
/*
 * vm_session_recover_dev() - bring device @i back to RUNNING after an
 * abort (reset first with @reset_first: a RESUMING device can only be
 * abandoned that way); a failure is appended to the session's message.
 */
void vm_session_recover_dev(struct vm_session *ss, struct vfiomig_report *r,
			    unsigned i, struct vfiomig_device *dev,
			    bool reset_first);

/* The wire capabilities an endpoint with options @o offers (or accepts). */
uint32_t vm_caps_for(const struct vfiomig_opts *o);

static inline bool vm_aborted(struct vm_session *ss)
{
	return atomic_load(&ss->abort);
}


/* ---- switchover decision (switchover.c) ----------------------------- */

struct vm_sw_dev {
	bool precopy;		/* device is in a precopy state */
	uint64_t initial;	/* initial_bytes still unread */
	uint64_t dirty;
	uint64_t stopcopy_est;	/* MIG_DATA_SIZE (a large bound when unknown) */
};

struct vm_sw_input {
	unsigned ndev;
	const struct vm_sw_dev *devs;
	unsigned round, max_rounds;
	uint64_t threshold;
	bool acks_ok;		/* no outstanding ack */
	bool min_time_ok;	/* --min-precopy-ms elapsed */
	uint64_t ack_stall_ms;	/* acks outstanding and none arrived for this long */
	uint64_t ack_stall_limit_ms;	/* 0: no bound */
};

/* FAIL: precopy cannot end (an ack that never comes); abort cleanly. */
enum vm_sw_verdict { VM_SW_CONTINUE = 0, VM_SW_SWITCH = 1, VM_SW_FAIL = 2 };

/* Decide; *reason names the rule that decided (static string). */
int vm_switchover_decide(const struct vm_sw_input *in, const char **reason);
/* Bytes still to move, as the threshold sees them (saturating). */
uint64_t vm_switchover_pending(const struct vm_sw_input *in);

/* ---- ack accounting (ack_account.c) ---------------------------------- */

struct vm_acks {
	int mode;		/* VFIOMIG_ACK_OFF/LEGACY/PER_DEVICE */
	unsigned ndev;
	unsigned outstanding;	/* per-device: requests not yet acked */
	unsigned pending[VFIOMIG_WIRE_MAX_DEVICES];
	unsigned owed;		/* per-device: REINITs with no request yet */
	bool owe[VFIOMIG_WIRE_MAX_DEVICES];
	bool legacy_needed, legacy_acked;
	bool frozen;		/* switchover decided: no new requests */
	unsigned requests, acks;
};

void vm_acks_init(struct vm_acks *a, int mode, unsigned ndev,
		  bool any_precopy);
/* A device asks for an ack: -EBUSY after freeze (fail the migration). */
int vm_acks_request(struct vm_acks *a, unsigned dev);
/* An ack arrives: -EPROTO for an ack nobody asked for. */
int vm_acks_receive(struct vm_acks *a, unsigned dev);
/*
 * A device reported REINIT: in per-device mode it owes a new request (and
 * then an ack) before the source may switch over, whatever its earlier
 * requests' acks say.  -EINVAL for a bad index.
 */
int vm_acks_reinit(struct vm_acks *a, unsigned dev);
bool vm_acks_ok(const struct vm_acks *a);
void vm_acks_freeze(struct vm_acks *a);

/* ---- report builder (report.c) --------------------------------------- */

#define VM_PHASE_LEN 16
/* Events kept per endpoint report; the rest are only counted. */
#define VM_REPORT_MAX_EVENTS 4096

struct vm_dev_stats {
	char name[64];
	uint64_t flags;
	bool precopy_v2;
	unsigned precopy_rounds;
	uint64_t precopy_bytes, stopcopy_bytes;
	uint64_t read_ns, send_ns, load_ns, loaded_bytes;
	uint64_t barrier_wait_ns;
	uint64_t reinits, ack_requests, acks;
	uint64_t running_ns;	/* destination: reached RUNNING */
	char reset_from[VM_PHASE_LEN];	/* not RUNNING at start: the state reset */
	char phase[VM_PHASE_LEN];	/* current phase, tags transitions */
};

struct vm_trans_rec {
	unsigned dev;
	char phase[VM_PHASE_LEN];
	struct vfiomig_transition t;
};

struct vm_event {
	uint64_t ts;
	char type[24];
	int dev;
	uint64_t value;
	char detail[64];
};

struct vfiomig_report {
	char role[12];
	int ok;
	char error[512];
	int transitions;
	unsigned channels;
	char ack_mode[16];
	uint64_t max_queued, peak_queued;
	uint64_t t_start, t_end;
	uint64_t t_first_leave;		/* source: first arc out of RUNNING/PRE_COPY */
	uint64_t t_switchover;		/* source: decision; dest: SWITCHOVER seen */
	uint64_t t_stopcopy_done;
	uint64_t t_done;		/* source: DONE received */
	uint64_t t_last_running;	/* dest, or source via DONE */
	uint64_t t_resume_start;
	bool clocks_comparable;
	unsigned ndev;
	struct vm_dev_stats *dev;
	pthread_mutex_t lock;
	struct vm_trans_rec *trans;
	size_t ntrans, cap_trans;
	struct vm_event *ev;
	size_t nev, cap_ev;
	uint64_t events_dropped;	/* past VM_REPORT_MAX_EVENTS */
	struct vfiomig_report *peer;	/* merged destination report */
};

struct vfiomig_report *vm_report_new(const char *role, unsigned ndev,
				     struct vfiomig_device **devs);
void vm_report_event(struct vfiomig_report *r, const char *type, int dev,
		     uint64_t value, const char *detail);
/* Transition observer: tags with the device's current phase. */
void vm_report_observer(struct vfiomig_device *dev,
			const struct vfiomig_transition *t, void *arg);
void vm_report_set_phase(struct vfiomig_report *r, unsigned dev,
			 const char *phase);
void vm_report_fail(struct vfiomig_report *r, const char *msg);

/* Each device's observer argument: the report plus the device index. */
struct vm_obs_arg {
	struct vfiomig_report *r;
	unsigned idx;
};

/* Helpers shared by both endpoints (session_common.c). */

/*
 * vm_devices_ready() - every device must be RUNNING before a session
 * starts.  One that is not is reset (VFIO_DEVICE_RESET, as QEMU resets its
 * devices at machine start) when o->reset_stopped, and the report says
 * so; otherwise, or if the reset does not give RUNNING, it is refused with
 * "dev NAME: not RUNNING (STATE), refusing to @verb" in @why.
 */
int vm_devices_ready(struct vfiomig_device **devs, unsigned n,
		     const struct vfiomig_opts *o, struct vfiomig_report *r,
		     const char *verb, char *why, size_t len);
/*
 * vm_refuse_peer() - an endpoint that refuses before its handshake still
 * tells the peer, as an ERROR record on channel 0, instead of leaving it
 * to wait out its timeout.  Best effort.
 */
void vm_refuse_peer(struct vfiomig_link *link, unsigned timeout_ms, int err,
		    const char *msg);
void vm_read_boot_id(uint8_t id[16]);
unsigned vm_effective_channels(const struct vfiomig_opts *o, unsigned ndev);

#endif /* VFIOMIG_SESSION_INTERNAL_H */
