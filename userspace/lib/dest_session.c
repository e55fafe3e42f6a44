// SPDX-License-Identifier: GPL-2.0
/*
 * dest_session.c - the destination endpoint: set-up, the steps in
 * order (handshake, RESUMING, WELCOME, receive and load, resume, DONE),
 * and abort (a RESUMING device can only be abandoned by reset).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dest_internal.h"

/* ---- abort ----------------------------------------------------------- */

static void abort_session(struct dst *s)
{
	vm_session_halt(&s->ss, &s->peer_failed, s->ch, s->nch_init);
	for (unsigned c = 1; c < VFIOMIG_WIRE_MAX_CHANNELS; c++)
		if (s->rx_started[c]) {
			pthread_join(s->rx[c], NULL);
			s->rx_started[c] = false;
		}
	if (s->pool.w)
		for (unsigned i = 0; i < s->n; i++)
			vm_pool_wait(&s->pool, i);
	vm_session_log_abort(&s->ss, s->r);
	if (!s->touched)
		return;
	for (unsigned i = 0; i < s->n; i++)
		vm_session_recover_dev(&s->ss, s->r, i, s->d[i].dev, true);
}

static int receive_and_resume(struct dst *s)
{
	int ret = 0;

	for (unsigned c = 1; c < s->nchan; c++) {
		s->rxa[c] = (struct rx_arg){ s, c };
		if (pthread_create(&s->rx[c], NULL, dst_rx_thread, &s->rxa[c]))
			return vm_fail(&s->ss, -EAGAIN, "cannot start receiver thread");
		s->rx_started[c] = true;
		vm_thread_name(s->rx[c], "dst-rx%u", c);
	}
	for (unsigned i = 0; i < s->n; i++)
		vm_pool_submit(&s->pool, i, dst_job_load, s);

	while (!vm_aborted(&s->ss) && !dst_channel_finished(s, 0))
		if (dst_rx_one(s, 0))
			break;
	for (unsigned c = 1; c < s->nchan; c++) {
		pthread_join(s->rx[c], NULL);
		s->rx_started[c] = false;
	}
	for (unsigned i = 0; i < s->n; i++) {
		int r2 = vm_pool_wait(&s->pool, i);
		if (r2 && !ret)
			ret = r2;
	}
	if (vm_aborted(&s->ss) || ret)
		return vm_session_err(&s->ss, ret);

	/* Downtime ends on this side: every device RUNNING_P2P, then RUNNING. */
	s->r->t_resume_start = vfiomig_now_ns();
	if (s->o.transitions == VFIOMIG_TRANSITIONS_PARALLEL) {
		ret = vm_pool_run(&s->pool, dst_job_resume_parallel, s, true);
	} else {
		ret = vm_pool_run(&s->pool, dst_job_p2p, s, false);
		if (!ret)
			ret = vm_pool_run(&s->pool, dst_job_run, s, false);
	}
	if (ret)
		return vm_session_err(&s->ss, ret);

	uint8_t p[16];
	vfiomig_put_be64(p, s->r->t_last_running);
	vfiomig_put_be64(p + 8, s->r->t_resume_start);
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_DONE, VFIOMIG_WIRE_NODEV, p, 16);
	if (ret) {
		/* The devices run with the new state: report, do not reset. */
		vm_report_event(s->r, "done-not-delivered", -1, 0, NULL);
	}
	return 0;
}

int vfiomig_migrate_dest(struct vfiomig_device **devs, unsigned n,
			 struct vfiomig_link *link,
			 const struct vfiomig_opts *o,
			 struct vfiomig_report **rep, char *err,
			 size_t errlen)
{
	struct dst *s;
	int ret = 0;

	if (!n || n > VFIOMIG_WIRE_MAX_DEVICES) {
		snprintf(err, errlen, "bad device count (1..%d)", VFIOMIG_WIRE_MAX_DEVICES);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	/* A cap below one record could never admit it. */
	if (s->o.max_queued < VFIOMIG_WIRE_MAX_DATA + sizeof(struct item))
		s->o.max_queued = VFIOMIG_WIRE_MAX_DATA + sizeof(struct item);
	s->n = n;
	vm_session_init(&s->ss, n);
	for (unsigned c = 0; c < VFIOMIG_WIRE_MAX_CHANNELS; c++)
		s->ch[c].fd = -1;
	s->d = calloc(n, sizeof(*s->d));
	s->r = vm_report_new("destination", n, devs);
	if (!s->d || !s->r) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->r->transitions = o->transitions;
	s->r->max_queued = s->o.max_queued;
	for (unsigned i = 0; i < n; i++) {
		s->d[i].dev = devs[i];
		s->d[i].obs = (struct vm_obs_arg){ s->r, i };
		vfiomig_device_set_observer(devs[i], vm_report_observer, &s->d[i].obs);
	}
	ret = vm_devices_ready(devs, n, o, s->r, "receive", err, errlen);
	if (ret) {
		vm_report_fail(s->r, err);
		vm_refuse_peer(link, o->io_timeout_ms, ret, err);
		goto out_noerr;
	}
	ret = vm_pool_start(&s->pool, n, "dst");
	if (ret) {
		vm_fail(&s->ss, ret, "cannot start worker threads");
		goto out;
	}
	ret = dst_check_hello(s, link);
	if (!ret)
		ret = dst_enter_resuming(s);
	if (!ret)
		ret = dst_send_welcome(s, link);
	if (!ret) {
		s->r->channels = s->nchan;
		snprintf(s->r->ack_mode, sizeof(s->r->ack_mode), "%s",
			 vfiomig_ack_mode_name(s->ack_mode));
		for (unsigned i = 0; i < n; i++) {
			s->d[i].chan = i % s->nchan;
			if (s->ack_mode == VFIOMIG_ACK_LEGACY &&
			    (vfiomig_device_flags(devs[i]) & VFIOMIG_FLAG_PRE_COPY))
				s->legacy_pending++;
		}
		ret = receive_and_resume(s);
	}
	if (ret) {
		ret = vm_session_err(&s->ss, ret);
		abort_session(s);
		goto out;
	}
	s->r->ok = 1;
out:
	ret = vm_session_report_failure(&s->ss, s->r, ret, err, errlen);
out_noerr:
	vm_session_abort_wake(&s->ss);
	for (unsigned c = 1; c < VFIOMIG_WIRE_MAX_CHANNELS; c++)
		if (s->rx_started[c])
			pthread_join(s->rx[c], NULL);
	vm_pool_stop(&s->pool);
	for (unsigned i = 0; s->d && i < n; i++) {
		struct item *it = s->d[i].head;
		while (it) {
			struct item *nx = it->next;
			dst_item_free(s, it);
			it = nx;
		}
		vfiomig_device_set_observer(devs[i], NULL, NULL);
	}
	dst_free_spares(s);
	for (unsigned c = 0; c < s->nch_init; c++)
		vm_chan_destroy(&s->ch[c]);
	if (s->r) {
		s->r->peak_queued = s->peak;
		s->r->t_end = vfiomig_now_ns();
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

