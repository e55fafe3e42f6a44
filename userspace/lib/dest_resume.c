// SPDX-License-Identifier: GPL-2.0
/*
 * dest_resume.c - the loaders (one per device, on its worker) write
 * queued bytes to the device in order and answer ack requests after the
 * bytes before them; then the resume: RESUMING -> STOP -> RUNNING_P2P for
 * all (barrier), RUNNING for all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dest_internal.h"

/* ---- loaders --------------------------------------------------------- */

static int send_ack(struct dst *s, unsigned i, uint32_t reqid)
{
	uint8_t p[4];
	unsigned dev = i;

	if (s->ack_mode == VFIOMIG_ACK_LEGACY) {
		pthread_mutex_lock(&s->ss.lock);
		bool send = !s->d[i].legacy_done && s->legacy_pending &&
			    --s->legacy_pending == 0;
		s->d[i].legacy_done = true;
		pthread_mutex_unlock(&s->ss.lock);
		if (!send)
			return 0;
		dev = VFIOMIG_WIRE_NODEV;
	}
	vfiomig_put_be32(p, reqid);
	int ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_ACK, dev, p, 4);
	if (ret)
		return dst_wire_fail(s, 0, ret);
	if (dev != VFIOMIG_WIRE_NODEV)
		s->r->dev[i].acks++;
	vm_report_event(s->r, "ack", dev == VFIOMIG_WIRE_NODEV ? -1 : (int)i,
			reqid, vfiomig_ack_mode_name(s->ack_mode));
	return 0;
}

/* A device data record's checksum, checked here: dest_receive.c says why. */
static int check_data(struct dst *s, unsigned i, const struct item *it)
{
	const int e = -EBADMSG;

	if (vfiomig_wire_payload_sum(it->data, it->len) == it->psum)
		return 0;
	return vm_fail(&s->ss, e,
		       "dev %s (RESUMING, %s): channel %u record %u: %s: %s (%d)",
		       vfiomig_device_name(s->d[i].dev),
		       it->stopcopy ? "stop-copy" : "precopy", it->chan, it->seq,
		       vfiomig_wire_strerror(e), strerror(-e), e);
}

int dst_job_load(void *arg, unsigned i)
{
	struct dst *s = arg;
	struct dst_dev *d = &s->d[i];
	struct item *it;
	int ret = 0;

	vm_report_set_phase(s->r, i, "load");
	while ((it = dst_dequeue(s, i))) {
		switch (it->kind) {
		case ITEM_DATA: {
			uint64_t t0 = vfiomig_now_ns();

			ret = check_data(s, i, it);
			if (ret) {
				dst_release(s, it->charge);
				break;
			}
			ret = vfiomig_device_write(d->dev, it->data, it->len);
			s->r->dev[i].load_ns += vfiomig_now_ns() - t0;
			s->r->dev[i].loaded_bytes += it->len;
			if (it->stopcopy)
				d->stopcopy_loaded += it->len;
			else
				s->r->dev[i].precopy_bytes += it->len;
			dst_release(s, it->charge);
			if (ret)
				ret = vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(d->dev));
			break;
		}
		case ITEM_INIT_SENT:
			dst_release(s, it->charge);
			ret = send_ack(s, i, it->len);
			break;
		case ITEM_END:
			dst_release(s, it->charge);
			s->r->dev[i].stopcopy_bytes = d->stopcopy_loaded;
			if (it->total != d->stopcopy_loaded)
				ret = vm_fail(&s->ss, -EPROTO,
					   "dev %s (RESUMING, stop-copy): stream has %llu bytes, source announced %llu: %s (%d)",
					   vfiomig_device_name(d->dev),
					   (unsigned long long)d->stopcopy_loaded,
					   (unsigned long long)it->total, strerror(EPROTO), -EPROTO);
			dst_item_free(s, it);
			return ret;
		}
		dst_item_free(s, it);
		if (ret)
			return ret;
	}
	return -ECANCELED;
}

/* ---- resume ---------------------------------------------------------- */

static int p2p_step(struct dst *s, unsigned i)
{
	struct vfiomig_device *dev = s->d[i].dev;
	int ret;

	vm_report_set_phase(s->r, i, "p2p");
	/* RESUMING -> STOP ends the load; -> RUNNING_P2P when the device has P2P. */
	ret = vfiomig_device_goto(dev, (vfiomig_device_flags(dev) & VFIOMIG_FLAG_P2P) ?
				  VFIOMIG_RUNNING_P2P : VFIOMIG_STOP);
	return ret ? vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(dev)) : 0;
}

static int run_step(struct dst *s, unsigned i)
{
	struct vfiomig_device *dev = s->d[i].dev;
	int ret;

	vm_report_set_phase(s->r, i, "run");
	ret = vfiomig_device_goto(dev, VFIOMIG_RUNNING);
	return ret ? vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(dev)) : 0;
}

int dst_job_p2p(void *arg, unsigned i)
{
	return p2p_step(arg, i);
}

int dst_job_run(void *arg, unsigned i)
{
	return run_step(arg, i);
}

int dst_job_resume_parallel(void *arg, unsigned i)
{
	struct dst *s = arg;

	return vm_barrier_phases(&s->ss.barrier, dst_job_p2p, dst_job_run, s, i,
				 &s->r->dev[i].barrier_wait_ns);
}

int dst_job_resuming(void *arg, unsigned i)
{
	struct dst *s = arg;
	struct vfiomig_device *dev = s->d[i].dev;

	vm_report_set_phase(s->r, i, "resuming");
	int ret = vfiomig_device_goto(dev, VFIOMIG_RESUMING);
	return ret ? vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(dev)) : 0;
}


/* Every device RUNNING -> RESUMING, only after the handshake checks passed. */
int dst_enter_resuming(struct dst *s)
{
	s->touched = true;
	int ret = vm_pool_run(&s->pool, dst_job_resuming, s,
			      s->o.transitions == VFIOMIG_TRANSITIONS_PARALLEL);
	if (ret) {
		vm_session_send_error(&s->ss, &s->ch[0]);
		pthread_mutex_lock(&s->ss.lock);
		s->peer_failed = true;
		pthread_mutex_unlock(&s->ss.lock);
		return vm_session_err(&s->ss, ret);
	}
	return 0;
}
