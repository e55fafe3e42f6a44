// SPDX-License-Identifier: GPL-2.0
/*
 * session_source.c - the source endpoint: handshake, precopy rounds, the
 * switchover decision, the stop phase (P2P barrier, STOP_COPY, parallel
 * drain over several channels) and clean abort.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

static int dev_fail(struct src *s, unsigned i, int ret)
{
	if (ret == -ECANCELED && vm_aborted(&s->ss))
		return ret;
	return vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(s->d[i].dev));
}

static int chan_fail(struct src *s, unsigned c, int ret)
{
	if (ret == -ECANCELED && vm_aborted(&s->ss))
		return ret;
	return vm_fail(&s->ss, ret, "channel %u: send: %s", c, vfiomig_wire_strerror(ret));
}

/* ---- return path ----------------------------------------------------- */

static void *return_path(void *arg)
{
	struct src *s = arg;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];	/* the largest return-path record */

	for (;;) {
		int ret = vm_chan_recv_hdr(&s->ch[0], &h);
		if (ret) {
			if (ret == -ECANCELED && vm_aborted(&s->ss))
				break;
			pthread_mutex_lock(&s->ss.lock);
			bool done = s->done;
			if (!done)
				s->peer_failed = true;
			pthread_mutex_unlock(&s->ss.lock);
			if (!done)
				vm_fail(&s->ss, ret, "return path: %s", vfiomig_wire_strerror(ret));
			break;
		}
		if (h.type != VFIOMIG_REC_ACK && h.type != VFIOMIG_REC_ERROR &&
		    h.type != VFIOMIG_REC_DONE) {
			vm_fail(&s->ss, -EPROTO, "return path: unexpected %s record",
			     vfiomig_wire_type_name(h.type));
			break;
		}
		ret = vm_chan_recv_payload(&s->ch[0], &h, buf);
		if (ret) {
			vm_fail(&s->ss, ret, "return path: %s", vfiomig_wire_strerror(ret));
			break;
		}
		if (h.type == VFIOMIG_REC_ERROR) {
			char m[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];
			int e = vfiomig_wire_decode_error(buf, h.len, m, sizeof(m));

			pthread_mutex_lock(&s->ss.lock);
			s->peer_failed = true;
			pthread_mutex_unlock(&s->ss.lock);
			vm_report_event(s->r, "peer-error", -1, (uint64_t)-e, m);
			vm_fail(&s->ss, e, "destination: %s", m);
			break;
		}
		if (h.type == VFIOMIG_REC_DONE) {
			if (h.len != 16) {
				vm_fail(&s->ss, -EPROTO, "return path: short DONE");
				break;
			}
			pthread_mutex_lock(&s->ss.lock);
			s->done = true;
			s->done_last_running = vfiomig_get_be64(buf);
			s->done_resume_start = vfiomig_get_be64(buf + 8);
			pthread_cond_broadcast(&s->ss.cond);
			pthread_mutex_unlock(&s->ss.lock);
			vm_report_event(s->r, "done", -1, 0, NULL);
			break;
		}
		/* ACK: logged under the lock so the event order matches the accounting. */
		pthread_mutex_lock(&s->ss.lock);
		ret = vm_acks_receive(&s->acks, h.dev);
		if (!ret && h.dev < s->n)
			s->r->dev[h.dev].acks++;
		vm_report_event(s->r, ret ? "ack-unsolicited" : "ack",
				h.dev == VFIOMIG_WIRE_NODEV ? -1 : h.dev,
				h.len == 4 ? vfiomig_get_be32(buf) : 0,
				s->ack_mode == VFIOMIG_ACK_LEGACY ? "legacy" : "per-device");
		pthread_cond_broadcast(&s->ss.cond);
		pthread_mutex_unlock(&s->ss.lock);
		if (ret) {
			vm_fail(&s->ss, ret, "destination sent an ack nobody asked for (dev %u)",
			     h.dev);
			break;
		}
	}
	return NULL;
}

/* ---- handshake ------------------------------------------------------- */

static int handshake(struct src *s, struct vfiomig_link *link)
{
	struct vfiomig_wire_hello hello, welcome;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	int fd, ret, len;

	memset(&hello, 0, sizeof(hello));
	hello.ver_min = VFIOMIG_WIRE_VERSION_MIN;
	hello.ver_max = VFIOMIG_WIRE_VERSION_MAX;
	hello.caps = vm_caps_for(&s->o);
	if (getrandom(&hello.token, sizeof(hello.token), 0) != sizeof(hello.token))
		hello.token = vfiomig_now_ns();
	vm_read_boot_id(hello.boot_id);
	hello.nchan = (uint16_t)s->nchan;
	hello.ndev = (uint16_t)s->n;
	for (unsigned i = 0; i < s->n; i++) {
		hello.flags[i] = vfiomig_device_flags(s->d[i].dev);
		snprintf(hello.names[i], sizeof(hello.names[i]), "%s",
			 vfiomig_device_name(s->d[i].dev));
	}

	ret = vm_link_channel(link, 0, s->o.io_timeout_ms, &fd);
	if (ret)
		return vm_fail(&s->ss, ret, "channel 0: %s", strerror(-ret));
	vm_chan_init(&s->ch[0], fd, 0, &s->ss.abort, s->o.io_timeout_ms);
	s->nch_init = 1;

	len = vfiomig_wire_encode_hello(&hello, buf, sizeof(buf));
	if (len < 0)
		return vm_fail(&s->ss, len, "cannot encode HELLO");
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_HELLO, VFIOMIG_WIRE_NODEV, buf,
			   (uint32_t)len);
	/* A destination that refused at once may have closed already: its ERROR says why. */
	if (ret && ret != -ECONNRESET)
		return chan_fail(s, 0, ret);

	ret = vm_chan_recv_hdr(&s->ch[0], &h);
	if (!ret && h.type != VFIOMIG_REC_WELCOME && h.type != VFIOMIG_REC_ERROR)
		ret = -EPROTO;
	if (!ret)
		ret = vm_chan_recv_payload(&s->ch[0], &h, buf);
	if (ret)
		return vm_fail(&s->ss, ret, "handshake: %s", vfiomig_wire_strerror(ret));
	if (h.type == VFIOMIG_REC_ERROR) {
		char m[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];
		int e = vfiomig_wire_decode_error(buf, h.len, m, sizeof(m));

		s->peer_failed = true;
		return vm_fail(&s->ss, e, "destination refused: %s", m);
	}
	ret = vfiomig_wire_decode_hello(buf, h.len, &welcome);
	if (ret)
		return vm_fail(&s->ss, ret, "handshake: malformed WELCOME");
	if (welcome.ver_min != VFIOMIG_WIRE_VERSION_MIN || welcome.ndev != s->n ||
	    welcome.nchan > s->nchan || (welcome.caps & ~hello.caps))
		return vm_fail(&s->ss, -EPROTO, "handshake: WELCOME does not match HELLO");
	for (unsigned i = 0; i < s->n; i++)
		if (welcome.flags[i] != hello.flags[i])
			return vm_fail(&s->ss, -EPROTO, "handshake: device %u flags differ", i);

	s->nchan = welcome.nchan;
	s->caps = welcome.caps;
	s->comparable = !memcmp(hello.boot_id, welcome.boot_id, 16) &&
			memcmp(hello.boot_id, (uint8_t[16]){ 0 }, 16);
	if (s->caps & VFIOMIG_CAP_ACK_PER_DEVICE)
		s->ack_mode = VFIOMIG_ACK_PER_DEVICE;
	else if (s->caps & VFIOMIG_CAP_ACK_LEGACY)
		s->ack_mode = VFIOMIG_ACK_LEGACY;
	else
		s->ack_mode = VFIOMIG_ACK_OFF;
	/* A forced mode the peer cannot do is an error, auto falls back. */
	if (s->o.ack_mode != VFIOMIG_ACK_AUTO && s->o.ack_mode != s->ack_mode)
		return vm_fail(&s->ss, -EOPNOTSUPP, "destination does not support switchover-ack %s",
			    vfiomig_ack_mode_name(s->o.ack_mode));

	for (unsigned c = 1; c < s->nchan; c++) {
		uint8_t ch[10];

		ret = vm_link_channel(link, c, s->o.io_timeout_ms, &fd);
		if (ret)
			return vm_fail(&s->ss, ret, "channel %u: %s", c, strerror(-ret));
		vm_chan_init(&s->ch[c], fd, c, &s->ss.abort, s->o.io_timeout_ms);
		s->nch_init = c + 1;
		vfiomig_put_be64(ch, hello.token);
		vfiomig_put_be16(ch + 8, (uint16_t)c);
		ret = vm_chan_send(&s->ch[c], VFIOMIG_REC_CHAN_HELLO,
				   VFIOMIG_WIRE_NODEV, ch, sizeof(ch));
		if (ret)
			return chan_fail(s, c, ret);
	}
	return 0;
}

/* ---- precopy --------------------------------------------------------- */

static int request_ack(struct src *s, unsigned i)
{
	struct src_dev *d = &s->d[i];
	uint8_t p[4];
	int ret;

	pthread_mutex_lock(&s->ss.lock);
	ret = vm_acks_request(&s->acks, i);
	vm_report_event(s->r, ret ? "ack-request-refused" : "ack-request", (int)i,
			d->reqid + 1, vfiomig_ack_mode_name(s->ack_mode));
	pthread_mutex_unlock(&s->ss.lock);
	if (ret == -EBUSY)
		return vm_fail(&s->ss, ret, "dev %s: switchover-ack requested after switchover decision",
			    vfiomig_device_name(d->dev));
	d->reqid++;
	vfiomig_put_be32(p, d->reqid);
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_INIT_DATA_SENT, i, p, 4);
	if (ret)
		return chan_fail(s, 0, ret);
	d->init_sent = true;
	s->r->dev[i].ack_requests++;
	return 0;
}

static int query(struct src *s, unsigned i, struct vfiomig_precopy_info *pi)
{
	struct src_dev *d = &s->d[i];
	int ret = vfiomig_device_precopy_info(d->dev, pi);

	if (ret)
		return dev_fail(s, i, ret);
	if (pi->reinit) {
		/* New initial data: the old ack no longer covers this device. */
		s->r->dev[i].reinits++;
		d->init_sent = false;
		pthread_mutex_lock(&s->ss.lock);
		vm_acks_reinit(&s->acks, i);
		pthread_mutex_unlock(&s->ss.lock);
		vm_report_event(s->r, "reinit", (int)i, pi->initial_bytes, NULL);
	}
	d->initial = pi->initial_bytes;
	d->dirty = pi->dirty_bytes;
	return 0;
}

#define PRECOPY_SLICE_NS (50 * 1000000ULL)

static int precopy_device(struct src *s, unsigned i, uint64_t *moved)
{
	struct src_dev *d = &s->d[i];
	struct vfiomig_precopy_info pi;
	uint64_t budget, sent = 0;
	int ret;

	ret = query(s, i, &pi);
	if (ret)
		return ret;
	/*
	 * Read what was announced at round start, so a busy device cannot
	 * starve the rest, and for at most one time slice, so the switchover
	 * decision is taken again while a large image is still streaming
	 * (QEMU's iterations are bounded the same way).
	 */
	budget = pi.initial_bytes + pi.dirty_bytes;
	if (budget < s->o.chunk)
		budget = s->o.chunk;
	uint64_t round_end = vfiomig_now_ns() + PRECOPY_SLICE_NS;

	while (sent < budget && (!sent || vfiomig_now_ns() < round_end)) {
		size_t got;
		uint64_t t0 = vfiomig_now_ns();

		ret = vfiomig_device_read(d->dev, d->buf, s->o.chunk, &got);
		s->r->dev[i].read_ns += vfiomig_now_ns() - t0;
		if (ret == -ENOMSG || ret == -EAGAIN || (!ret && !got))
			break;
		if (ret)
			return dev_fail(s, i, ret);
		t0 = vfiomig_now_ns();
		ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_PRECOPY_DATA, i, d->buf,
				   (uint32_t)got);
		s->r->dev[i].send_ns += vfiomig_now_ns() - t0;
		if (ret)
			return chan_fail(s, 0, ret);
		sent += got;
	}
	s->r->dev[i].precopy_bytes += sent;
	s->r->dev[i].precopy_rounds++;
	*moved += sent;

	ret = query(s, i, &pi);
	if (ret)
		return ret;
	if (s->ack_mode != VFIOMIG_ACK_OFF && !d->init_sent && !d->initial) {
		ret = request_ack(s, i);
		if (ret)
			return ret;
	}
	uint64_t est;
	if (vfiomig_device_data_size(d->dev, &est))
		est = d->initial + d->dirty;
	d->est = est;
	return 0;
}

/* Issue 5: one last look at every device before stopping anything. */
static int final_check(struct src *s, bool *again)
{
	*again = false;
	for (unsigned i = 0; i < s->n; i++) {
		struct src_dev *d = &s->d[i];
		struct vfiomig_precopy_info pi;

		if (!d->precopy)
			continue;
		int ret = query(s, i, &pi);
		if (ret)
			return ret;
		if ((s->o.inject & VFIOMIG_INJECT_REINIT_AT_FINAL) && !i) {
			s->o.inject &= ~VFIOMIG_INJECT_REINIT_AT_FINAL;
			d->init_sent = false;
			pi.reinit = true;
			vm_report_event(s->r, "reinit", (int)i, pi.initial_bytes,
					"injected at final check");
		}
		if (pi.reinit) {
			vm_report_event(s->r, "final-check-reinit", (int)i,
					pi.initial_bytes, NULL);
			*again = true;
		}
	}
	return 0;
}

static int precopy(struct src *s)
{
	struct vm_sw_dev sw[VFIOMIG_WIRE_MAX_DEVICES];
	unsigned round = 0, retries = 0, acks_seen = 0;
	uint64_t wait_since = 0, stall_since = 0, t0 = vfiomig_now_ns();
	int ret;

	for (;;) {
		uint64_t moved = 0;

		if (vm_aborted(&s->ss))
			return vm_session_err(&s->ss, -ECANCELED);
		for (unsigned i = 0; i < s->n; i++) {
			if (!s->d[i].precopy)
				continue;
			ret = precopy_device(s, i, &moved);
			if (ret)
				return ret;
		}
		round++;

		struct vm_sw_input in = { .ndev = s->n, .devs = sw, .round = round,
					  .max_rounds = s->o.max_rounds,
					  .threshold = s->o.threshold,
					  .min_time_ok = vfiomig_now_ns() - t0 >=
							 (uint64_t)s->o.min_precopy_ms * 1000000ULL };
		for (unsigned i = 0; i < s->n; i++)
			sw[i] = (struct vm_sw_dev){ .precopy = s->d[i].precopy,
						    .initial = s->d[i].initial,
						    .dirty = s->d[i].dirty,
						    .stopcopy_est = s->d[i].est };
		pthread_mutex_lock(&s->ss.lock);
		in.acks_ok = vm_acks_ok(&s->acks);
		unsigned acks_now = s->acks.acks, outstanding = s->acks.outstanding;
		pthread_mutex_unlock(&s->ss.lock);
		/* The stall clock restarts whenever an ack arrives. */
		uint64_t now = vfiomig_now_ns();
		if (in.acks_ok || acks_now != acks_seen || !stall_since)
			stall_since = now;
		acks_seen = acks_now;
		in.ack_stall_ms = (now - stall_since) / 1000000ULL;
		in.ack_stall_limit_ms = s->o.io_timeout_ms;
		const char *why;
		int v = vm_switchover_decide(&in, &why);

		if (v == VM_SW_FAIL) {
			vm_report_event(s->r, "ack-timeout", -1, outstanding, why);
			return vm_fail(&s->ss, -ETIMEDOUT,
				       "precopy: no switchover ack from the destination for %u ms (%u outstanding, round %u)",
				       s->o.io_timeout_ms, outstanding, round);
		}

		if (v == VM_SW_SWITCH) {
			bool again;

			ret = final_check(s, &again);
			if (ret)
				return ret;
			if (!again) {
				pthread_mutex_lock(&s->ss.lock);
				bool ok = vm_acks_ok(&s->acks);
				if (ok) {
					vm_acks_freeze(&s->acks);
					vm_report_event(s->r, "switchover", -1, round, why);
				}
				pthread_mutex_unlock(&s->ss.lock);
				if (ok)
					return 0;
			} else if (++retries > s->o.final_retries) {
				return vm_fail(&s->ss, -EAGAIN,
					    "new initial precopy data at switchover %u times, giving up",
					    retries);
			} else {
				/*
				 * A fresh round budget to drain and re-ack the new
				 * initial data; bounded: rounds x final_retries.
				 */
				round = 0;
				vm_report_event(s->r, "back-to-precopy", -1, retries, NULL);
			}
		}
		if (moved)
			wait_since = 0;
		else {
			/* Idle round: sleep on the ack condition instead of spinning. */
			uint64_t now = vfiomig_now_ns();
			if (!wait_since)
				wait_since = now;
			if (in.min_time_ok &&
			    now - wait_since > (uint64_t)s->o.io_timeout_ms * 1000000ULL)
				return vm_fail(&s->ss, -ETIMEDOUT,
					    "no progress and no switchover ack for %u ms (%s)",
					    s->o.io_timeout_ms, why);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 2000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&s->ss.lock);
			pthread_cond_timedwait(&s->ss.cond, &s->ss.lock, &ts);
			pthread_mutex_unlock(&s->ss.lock);
		}
	}
}

/* ---- stop phase ------------------------------------------------------ */

static int p2p_step(struct src *s, unsigned i)
{
	struct src_dev *d = &s->d[i];
	int ret;

	/* A peer ERROR may land at any moment: stop no device after it. */
	if (vm_aborted(&s->ss))
		return vm_session_err(&s->ss, -ECANCELED);
	vm_report_set_phase(s->r, i, "p2p");
	/* Without P2P there is no quiescent state: the device stops in STOP_COPY. */
	if (!(vfiomig_device_flags(d->dev) & VFIOMIG_FLAG_P2P))
		return 0;
	ret = vfiomig_device_goto(d->dev, d->precopy ? VFIOMIG_PRE_COPY_P2P :
						       VFIOMIG_RUNNING_P2P);
	return ret ? dev_fail(s, i, ret) : 0;
}

struct stopcopy_sink {
	struct src *s;
	unsigned i;
	int chan_err;		/* the channel failed, not the device */
};

static int send_stopcopy_chunk(void *arg, const void *buf, size_t len)
{
	struct stopcopy_sink *k = arg;
	struct src *s = k->s;
	uint64_t t0 = vfiomig_now_ns();
	int ret = vm_chan_send(&s->ch[s->d[k->i].chan],
			       VFIOMIG_REC_STOPCOPY_DATA, k->i, buf,
			       (uint32_t)len);

	s->r->dev[k->i].send_ns += vfiomig_now_ns() - t0;
	k->chan_err = ret;
	return ret;
}

static int stopcopy_step(struct src *s, unsigned i)
{
	struct src_dev *d = &s->d[i];
	struct stopcopy_sink k = { .s = s, .i = i };
	uint64_t total = 0;
	uint8_t p[8];
	int ret;

	if (vm_aborted(&s->ss))
		return vm_session_err(&s->ss, -ECANCELED);
	vm_report_set_phase(s->r, i, "stop-copy");
	ret = vfiomig_device_goto(d->dev, VFIOMIG_STOP_COPY);
	if (ret)
		return dev_fail(s, i, ret);
	if ((s->o.inject & VFIOMIG_INJECT_ACK_AFTER_STOP) && i == 0) {
		ret = request_ack(s, i);
		if (ret)
			return ret;
	}
	/* Read the next chunk while this one is sent (when there is one). */
	uint64_t expect;

	if (vfiomig_device_data_size(d->dev, &expect))
		expect = UINT64_MAX;	/* no estimate: assume a large image */
	ret = vm_read_ahead(d->dev, d->buf, s->o.chunk, expect,
			    send_stopcopy_chunk, &k, &s->r->dev[i].read_ns,
			    &total);
	if (ret && k.chan_err)
		return chan_fail(s, d->chan, ret);
	if (ret == -ENOMSG)
		return vm_fail(&s->ss, -EPROTO, "dev %s: ENOMSG in STOP_COPY (uAPI forbids it)",
			    vfiomig_device_name(d->dev));
	if (ret)
		return dev_fail(s, i, ret);
	s->r->dev[i].stopcopy_bytes = total;
	vfiomig_put_be64(p, total);
	ret = vm_chan_send(&s->ch[d->chan], VFIOMIG_REC_DEV_END, i, p, 8);
	return ret ? chan_fail(s, d->chan, ret) : 0;
}

static int job_p2p(void *arg, unsigned i)
{
	return p2p_step(arg, i);
}

static int job_stopcopy(void *arg, unsigned i)
{
	return stopcopy_step(arg, i);
}

/* Parallel: P2P, wait until every device is in P2P, then STOP_COPY + drain. */
static int job_stop_parallel(void *arg, unsigned i)
{
	struct src *s = arg;

	return vm_barrier_phases(&s->ss.barrier, job_p2p, job_stopcopy, s, i,
				 &s->r->dev[i].barrier_wait_ns);
}

static int stop_phase(struct src *s)
{
	int ret;

	/* An ERROR from the destination during the final check ends it here. */
	if (vm_aborted(&s->ss))
		return vm_session_err(&s->ss, -ECANCELED);
	s->r->t_switchover = vfiomig_now_ns();
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV,
			   NULL, 0);
	if (ret)
		return chan_fail(s, 0, ret);
	if (s->o.transitions == VFIOMIG_TRANSITIONS_PARALLEL) {
		ret = vm_pool_run(&s->pool, job_stop_parallel, s, true);
	} else {
		ret = vm_pool_run(&s->pool, job_p2p, s, false);
		if (!ret)
			ret = vm_pool_run(&s->pool, job_stopcopy, s, false);
	}
	if (ret)
		return vm_session_err(&s->ss, ret);
	s->r->t_stopcopy_done = vfiomig_now_ns();

	/* The destination loads and resumes; wait for its verdict. */
	uint64_t limit = vfiomig_now_ns() + (uint64_t)s->o.io_timeout_ms * 4000000ULL;
	pthread_mutex_lock(&s->ss.lock);
	while (!s->done && !vm_aborted(&s->ss) && vfiomig_now_ns() < limit) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->ss.cond, &s->ss.lock, &ts);
	}
	bool done = s->done;
	pthread_mutex_unlock(&s->ss.lock);
	if (!done)
		return vm_session_err(&s->ss, vm_fail(&s->ss, -ETIMEDOUT, "no DONE from destination"));
	s->r->t_done = vfiomig_now_ns();
	if (s->comparable) {
		s->r->t_last_running = s->done_last_running;
		s->r->t_resume_start = s->done_resume_start;
		s->r->clocks_comparable = true;
	}
	return 0;
}

/* Outside downtime: the destination runs, the source devices may stop now. */
static void cleanup_phase(struct src *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		vm_report_set_phase(s->r, i, "cleanup");
		if (vfiomig_device_goto(s->d[i].dev, VFIOMIG_STOP)) {
			vm_report_event(s->r, "cleanup-failed", (int)i, 0,
					vfiomig_device_errmsg(s->d[i].dev));
			vfiomig_device_reset(s->d[i].dev);
		}
	}
}

static void abort_session(struct src *s)
{
	pthread_mutex_lock(&s->ss.lock);
	bool answer = !s->peer_failed;
	pthread_mutex_unlock(&s->ss.lock);

	atomic_store(&s->ss.abort, true);
	vm_barrier_break(&s->ss.barrier);
	if (answer && s->nch_init)
		vm_session_send_error(&s->ss, &s->ch[0]);
	for (unsigned c = 0; c < s->nch_init; c++)
		vm_chan_shutdown(&s->ch[c]);
	if (s->pool.w)
		for (unsigned i = 0; i < s->n; i++)
			vm_pool_wait(&s->pool, i);
	char why[sizeof(s->ss.msg)];
	int err = vm_session_failure(&s->ss, why, sizeof(why));
	vm_report_event(s->r, "abort", -1, (uint64_t)-err, why);
	for (unsigned i = 0; i < s->n; i++) {
		vm_report_set_phase(s->r, i, "recover");
		if (vfiomig_device_recover(s->d[i].dev)) {
			char note[200];
			snprintf(note, sizeof(note), "; recovery failed: %.160s",
				 vfiomig_device_errmsg(s->d[i].dev));
			vm_session_note(&s->ss, note);
		}
	}
}

static int enter_precopy(struct src *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct src_dev *d = &s->d[i];

		if (!(vfiomig_device_flags(d->dev) & VFIOMIG_FLAG_PRE_COPY))
			continue;
		if (s->o.reinit && (s->caps & VFIOMIG_CAP_REINIT)) {
			/* Opt-in before the first PRECOPY_INFO; refusal is fine. */
			int r2 = vfiomig_device_precopy_v2(d->dev);
			s->r->dev[i].precopy_v2 = !r2;
			vm_report_event(s->r, r2 ? "precopy-v2-refused" : "precopy-v2",
					(int)i, 0, NULL);
		}
		vm_report_set_phase(s->r, i, "precopy-enter");
		int ret = vfiomig_device_goto(d->dev, VFIOMIG_PRE_COPY);
		if (ret)
			return dev_fail(s, i, ret);
		d->precopy = true;
	}
	return 0;
}

int vfiomig_migrate_source(struct vfiomig_device **devs, unsigned n,
			   struct vfiomig_link *link,
			   const struct vfiomig_opts *o,
			   struct vfiomig_report **rep, char *err,
			   size_t errlen)
{
	struct src *s;
	int ret = 0;

	if (!n || n > VFIOMIG_WIRE_MAX_DEVICES || !o->chunk ||
	    o->chunk > VFIOMIG_WIRE_MAX_DATA) {
		snprintf(err, errlen, "bad arguments (devices 1..%d, chunk 1..%u)",
			 VFIOMIG_WIRE_MAX_DEVICES, VFIOMIG_WIRE_MAX_DATA);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->n = n;
	s->nchan = vm_effective_channels(o, n);
	vm_session_init(&s->ss, n);
	s->d = calloc(n, sizeof(*s->d));
	s->r = vm_report_new("source", n, devs);
	if (!s->d || !s->r) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->r->transitions = o->transitions;
	s->r->ok = 0;
	for (unsigned i = 0; i < n; i++) {
		s->d[i].dev = devs[i];
		s->d[i].obs = (struct vm_obs_arg){ s->r, i };
		s->d[i].buf = malloc(o->chunk);
		if (!s->d[i].buf) {
			ret = vm_fail(&s->ss, -ENOMEM, "out of memory");
			goto out;
		}
		vfiomig_device_set_observer(devs[i], vm_report_observer, &s->d[i].obs);
		vm_device_set_cancel(devs[i], &s->ss.abort);
	}
	ret = vm_devices_ready(devs, n, o, s->r, "migrate", err, errlen);
	if (ret) {
		/* Nothing was touched: report, tell the destination, do not recover. */
		vm_report_fail(s->r, err);
		vm_refuse_peer(link, o->io_timeout_ms, ret, err);
		goto out_noabort;
	}

	ret = handshake(s, link);
	if (ret) {
		/* Devices untouched: nothing to recover, just tell the peer. */
		if (!s->peer_failed && s->nch_init)
			vm_session_send_error(&s->ss, &s->ch[0]);
		goto out;
	}
	s->r->channels = s->nchan;
	snprintf(s->r->ack_mode, sizeof(s->r->ack_mode), "%s",
		 vfiomig_ack_mode_name(s->ack_mode));
	for (unsigned i = 0; i < n; i++)
		s->d[i].chan = i % s->nchan;
	bool any_pre = false;
	for (unsigned i = 0; i < n; i++)
		any_pre |= !!(vfiomig_device_flags(devs[i]) & VFIOMIG_FLAG_PRE_COPY);
	vm_acks_init(&s->acks, s->ack_mode, n, any_pre);

	/*
	 * The destination is legitimately silent for as long as precopy lasts;
	 * the waits that need an answer (acks, DONE) carry their own timeouts.
	 */
	s->ch[0].rx_no_timeout = true;
	if (pthread_create(&s->rp, NULL, return_path, s)) {
		ret = vm_fail(&s->ss, -EAGAIN, "cannot start return-path thread");
		goto out;
	}
	s->rp_started = true;
	ret = vm_pool_start(&s->pool, n);
	if (ret) {
		vm_fail(&s->ss, ret, "cannot start worker threads");
		goto out;
	}
	ret = enter_precopy(s);
	if (!ret)
		ret = precopy(s);
	if (!ret)
		ret = stop_phase(s);
	if (ret) {
		ret = vm_session_err(&s->ss, ret);
		abort_session(s);
		goto out;
	}
	cleanup_phase(s);
	s->r->ok = 1;

out:
	ret = vm_session_report_failure(&s->ss, s->r, ret, err, errlen);
out_noabort:
	atomic_store(&s->ss.abort, true);
	if (s->rp_started)
		pthread_join(s->rp, NULL);
	vm_pool_stop(&s->pool);
	for (unsigned c = 0; c < s->nch_init; c++)
		vm_chan_destroy(&s->ch[c]);
	for (unsigned i = 0; s->d && i < n; i++) {
		free(s->d[i].buf);
		vfiomig_device_set_observer(devs[i], NULL, NULL);
		vm_device_set_cancel(devs[i], NULL);
	}
	if (s->r) {
		s->r->t_end = vfiomig_now_ns();
		s->r->ndev = n;
	}
	if (rep)
		*rep = s->r;
	else
		vfiomig_report_free(s->r);
	vm_session_destroy(&s->ss);
	free(s->d);
	free(s);
	return ret;
}
