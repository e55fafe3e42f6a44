// SPDX-License-Identifier: GPL-2.0
/*
 * source_stop.c - the stop phase: SWITCHOVER, every device to P2P
 * (barrier), STOP_COPY and its drain over the channels, DEV_END, then
 * the wait for the destination's DONE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "source_internal.h"

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
	return ret ? src_dev_fail(s, i, ret) : 0;
}

struct stopcopy_sink {
	struct src *s;
	unsigned i;
	bool zero_copy;		/* buffers are the channel's own messages */
	int chan_err;		/* the channel failed, not the device */
};

static int send_stopcopy_chunk(void *arg, uint8_t *buf, size_t len)
{
	struct stopcopy_sink *k = arg;
	struct src *s = k->s;
	struct vm_chan *c = &s->ch[s->d[k->i].chan];
	uint64_t t0 = vfiomig_now_ns();
	int ret = k->zero_copy ?
		vm_chan_send_buffer(c, VFIOMIG_REC_STOPCOPY_DATA, k->i, buf,
				    (uint32_t)len) :
		vm_chan_send(c, VFIOMIG_REC_STOPCOPY_DATA, k->i, buf,
			     (uint32_t)len);

	s->r->dev[k->i].send_ns += vfiomig_now_ns() - t0;
	k->chan_err = ret;
	if (ret)
		return ret;
	return k->zero_copy ? VM_SINK_TOOK : 0;
}

/* An in-memory channel lends its message buffers to the reader. */
static int chan_buf_get(void *arg, uint8_t **buf)
{
	return vm_chan_tx_buffer(arg, buf);
}

static void chan_buf_put(void *arg, uint8_t *buf)
{
	(void)arg;
	vm_chan_buffer_free(buf);
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
		return src_dev_fail(s, i, ret);
	if ((s->o.inject & VFIOMIG_INJECT_ACK_AFTER_STOP) && i == 0) {
		ret = src_request_ack(s, i);
		if (ret)
			return ret;
	}
	/* Read the next chunk while this one is sent (when there is one). */
	uint64_t expect;

	if (vfiomig_device_data_size(d->dev, &expect))
		expect = UINT64_MAX;	/* no estimate: assume a large image */
	struct vm_chan *c = &s->ch[d->chan];
	struct vm_buf_ops bufs = { chan_buf_get, chan_buf_put, c };

	/* A record is at most VFIOMIG_WIRE_MAX_DATA, the size of those buffers. */
	k.zero_copy = c->mem && s->o.chunk <= VFIOMIG_WIRE_MAX_DATA;
	ret = vm_read_ahead(d->dev, d->buf, s->o.chunk, expect,
			    k.zero_copy ? &bufs : NULL, send_stopcopy_chunk, &k,
			    &s->r->dev[i].read_ns, &total);
	if (ret && k.chan_err)
		return src_chan_fail(s, d->chan, ret);
	if (ret == -ENOMSG)
		return vm_fail(&s->ss, -EPROTO, "dev %s: ENOMSG in STOP_COPY (uAPI forbids it)",
			    vfiomig_device_name(d->dev));
	if (ret)
		return src_dev_fail(s, i, ret);
	s->r->dev[i].stopcopy_bytes = total;
	vfiomig_put_be64(p, total);
	ret = vm_chan_send(&s->ch[d->chan], VFIOMIG_REC_DEV_END, i, p, 8);
	return ret ? src_chan_fail(s, d->chan, ret) : 0;
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

int src_stop_phase(struct src *s)
{
	int ret;

	/* An ERROR from the destination during the final check ends it here. */
	if (vm_aborted(&s->ss))
		return vm_session_err(&s->ss, -ECANCELED);
	s->r->t_switchover = vfiomig_now_ns();
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV,
			   NULL, 0);
	if (ret)
		return src_chan_fail(s, 0, ret);
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

