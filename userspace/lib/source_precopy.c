// SPDX-License-Identifier: GPL-2.0
/*
 * source_precopy.c - precopy policy: entering PRE_COPY, the
 * rounds (what each device reads and sends, when it asks for an ack), the
 * switchover decision after each round, and the final check before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "source_internal.h"

int src_enter_precopy(struct src *s)
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
			return src_dev_fail(s, i, ret);
		d->precopy = true;
	}
	return 0;
}


/* ---- precopy --------------------------------------------------------- */

int src_request_ack(struct src *s, unsigned i)
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
		return src_chan_fail(s, 0, ret);
	d->init_sent = true;
	s->r->dev[i].ack_requests++;
	return 0;
}

static int query(struct src *s, unsigned i, struct vfiomig_precopy_info *pi)
{
	struct src_dev *d = &s->d[i];
	int ret = vfiomig_device_precopy_info(d->dev, pi);

	if (ret)
		return src_dev_fail(s, i, ret);
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

/*
 * The stop-copy size the threshold counts.  A device that cannot tell
 * (no MIG_DATA_SIZE) is assumed not to fit any finite threshold: a guess
 * that is too small would blow the downtime budget, which is the one
 * thing the threshold is there to protect.
 */
static void stopcopy_size(struct src_dev *d)
{
	if (vfiomig_device_data_size(d->dev, &d->est))
		d->est = UINT64_MAX;
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
			return src_dev_fail(s, i, ret);
		t0 = vfiomig_now_ns();
		ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_PRECOPY_DATA, i, d->buf,
				   (uint32_t)got);
		s->r->dev[i].send_ns += vfiomig_now_ns() - t0;
		if (ret)
			return src_chan_fail(s, 0, ret);
		sent += got;
	}
	s->r->dev[i].precopy_bytes += sent;
	s->r->dev[i].precopy_rounds++;
	*moved += sent;

	ret = query(s, i, &pi);
	if (ret)
		return ret;
	if (s->ack_mode != VFIOMIG_ACK_OFF && !d->init_sent && !d->initial) {
		ret = src_request_ack(s, i);
		if (ret)
			return ret;
	}
	stopcopy_size(d);
	return 0;
}

/*
 * One last look at every device before stopping anything: a REINIT that
 * raced with the decision would otherwise move a whole new image into
 * the downtime, which is what the switchover ack exists to prevent.
 */
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

/*
 * An idle precopy sends nothing for as long as it lasts; the destination
 * times out a silent source, so tell it we are here well within its
 * timeout (the one both ends were given).
 */
static int keep_alive(struct src *s, uint64_t now)
{
	uint64_t every = (uint64_t)s->o.io_timeout_ms * 1000000ULL / 4;

	if (!(s->caps & VFIOMIG_CAP_KEEPALIVE) ||
	    now - atomic_load(&s->ch[0].last_tx_ns) < every)
		return 0;
	int ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_KEEPALIVE, VFIOMIG_WIRE_NODEV, NULL, 0);
	return ret ? src_chan_fail(s, 0, ret) : 0;
}

int src_precopy(struct src *s)
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
			if (!s->d[i].precopy) {
				/* Its whole state moves in stop-copy: count it too. */
				stopcopy_size(&s->d[i]);
				continue;
			}
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
			ret = keep_alive(s, now);
			if (ret)
				return ret;
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

