// SPDX-License-Identifier: GPL-2.0
/*
 * source_session.c - the source endpoint: set-up, the steps in order
 * (handshake, precopy, stop phase), cleanup after success, and abort.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_internal.h"

int src_dev_fail(struct src *s, unsigned i, int ret)
{
	if (ret == -ECANCELED && vm_aborted(&s->ss))
		return ret;
	return vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(s->d[i].dev));
}

int src_chan_fail(struct src *s, unsigned c, int ret)
{
	if (ret == -ECANCELED && vm_aborted(&s->ss))
		return ret;
	return vm_fail(&s->ss, ret, "channel %u: send: %s", c, vfiomig_wire_strerror(ret));
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
	vm_session_halt(&s->ss, &s->peer_failed, s->ch, s->nch_init);
	if (s->pool.w)
		for (unsigned i = 0; i < s->n; i++)
			vm_pool_wait(&s->pool, i);
	vm_session_log_abort(&s->ss, s->r);
	for (unsigned i = 0; i < s->n; i++)
		vm_session_recover_dev(&s->ss, s->r, i, s->d[i].dev, false);
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

	ret = src_handshake(s, link);
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
	if (pthread_create(&s->rp, NULL, src_return_path, s)) {
		ret = vm_fail(&s->ss, -EAGAIN, "cannot start return-path thread");
		goto out;
	}
	s->rp_started = true;
	vm_thread_name(s->rp, "src-return");
	ret = vm_pool_start(&s->pool, n, "src");
	if (ret) {
		vm_fail(&s->ss, ret, "cannot start worker threads");
		goto out;
	}
	ret = src_enter_precopy(s);
	if (!ret)
		ret = src_precopy(s);
	if (!ret)
		ret = src_stop_phase(s);
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

