// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - collect transitions, events and counters; print them as a
 * human summary or as the versioned JSON of docs/engine.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

struct vfiomig_report *vm_report_new(const char *role, unsigned ndev,
				     struct vfiomig_device **devs)
{
	struct vfiomig_report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->dev = calloc(ndev ? ndev : 1, sizeof(*r->dev));
	if (!r->dev) {
		free(r);
		return NULL;
	}
	snprintf(r->role, sizeof(r->role), "%s", role);
	r->ndev = ndev;
	for (unsigned i = 0; i < ndev; i++) {
		snprintf(r->dev[i].name, sizeof(r->dev[i].name), "%s",
			 vfiomig_device_name(devs[i]));
		r->dev[i].flags = vfiomig_device_flags(devs[i]);
		snprintf(r->dev[i].phase, VM_PHASE_LEN, "setup");
	}
	pthread_mutex_init(&r->lock, NULL);
	r->t_start = vfiomig_now_ns();
	return r;
}

void vfiomig_report_free(struct vfiomig_report *r)
{
	if (!r)
		return;
	vfiomig_report_free(r->peer);
	pthread_mutex_destroy(&r->lock);
	free(r->trans);
	free(r->ev);
	free(r->dev);
	free(r);
}

int vfiomig_report_ok(const struct vfiomig_report *r)
{
	return r->ok;
}

static void *grow(void *arr, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return arr;
	size_t nc = *cap ? *cap * 2 : 64;
	void *p = realloc(arr, nc * sz);
	if (!p)
		return NULL;
	*cap = nc;
	return p;
}

/*
 * A peer decides how many ack requests (and so events) a session sees, so
 * the list is bounded.  The last SESSION_EVENTS_RESERVED slots are kept
 * for session events (dev -1: switchover, abort, done), which tell how a
 * session ended; events beyond the bound are counted, not kept.
 */
#define SESSION_EVENTS_RESERVED 64

void vm_report_event(struct vfiomig_report *r, const char *type, int dev,
		     uint64_t value, const char *detail)
{
	size_t limit = dev < 0 ? VM_REPORT_MAX_EVENTS :
				 VM_REPORT_MAX_EVENTS - SESSION_EVENTS_RESERVED;

	pthread_mutex_lock(&r->lock);
	struct vm_event *e = r->nev < limit ?
			     grow(r->ev, &r->cap_ev, r->nev, sizeof(*e)) : NULL;
	if (e) {
		r->ev = e;
		e = &r->ev[r->nev++];
		e->ts = vfiomig_now_ns();
		snprintf(e->type, sizeof(e->type), "%s", type);
		e->dev = dev;
		e->value = value;
		snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	} else {
		r->events_dropped++;
	}
	pthread_mutex_unlock(&r->lock);
}

uint64_t vfiomig_report_events_dropped(const struct vfiomig_report *r)
{
	return r->events_dropped;
}

void vm_report_set_phase(struct vfiomig_report *r, unsigned dev,
			 const char *phase)
{
	pthread_mutex_lock(&r->lock);
	snprintf(r->dev[dev].phase, VM_PHASE_LEN, "%s", phase);
	pthread_mutex_unlock(&r->lock);
}

static bool leaves_running(int from, int to)
{
	return (from == VFIOMIG_RUNNING || from == VFIOMIG_PRE_COPY) &&
	       (to == VFIOMIG_RUNNING_P2P || to == VFIOMIG_PRE_COPY_P2P ||
		to == VFIOMIG_STOP || to == VFIOMIG_STOP_COPY);
}

void vm_report_observer(struct vfiomig_device *dev,
			const struct vfiomig_transition *t, void *arg)
{
	struct vm_obs_arg *oa = arg;
	struct vfiomig_report *r = oa->r;

	(void)dev;
	pthread_mutex_lock(&r->lock);
	struct vm_trans_rec *tr = grow(r->trans, &r->cap_trans, r->ntrans,
				       sizeof(*tr));
	if (tr) {
		r->trans = tr;
		tr = &r->trans[r->ntrans++];
		tr->dev = oa->idx;
		memcpy(tr->phase, r->dev[oa->idx].phase, VM_PHASE_LEN);
		tr->t = *t;
	}
	/* Downtime starts when the first device stops serving (source side). */
	if (!strcmp(r->role, "source") && leaves_running(t->from, t->to) &&
	    (!r->t_first_leave || t->start_ns < r->t_first_leave))
		r->t_first_leave = t->start_ns;
	if (t->to == VFIOMIG_RUNNING && !t->ret && !strcmp(r->role, "destination") &&
	    strcmp(r->dev[oa->idx].phase, "recover")) {
		r->dev[oa->idx].running_ns = t->end_ns;
		if (t->end_ns > r->t_last_running)
			r->t_last_running = t->end_ns;
	}
	pthread_mutex_unlock(&r->lock);
}

void vm_report_fail(struct vfiomig_report *r, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s", msg);
	r->ok = 0;
	pthread_mutex_unlock(&r->lock);
}

size_t vfiomig_report_nevents(const struct vfiomig_report *r)
{
	return r->nev;
}

int vfiomig_report_event(const struct vfiomig_report *r, size_t i,
			 struct vfiomig_event *out)
{
	if (i >= r->nev)
		return -ERANGE;
	out->ts_ns = r->ev[i].ts;
	memcpy(out->type, r->ev[i].type, sizeof(out->type));
	out->dev = r->ev[i].dev;
	out->value = r->ev[i].value;
	memcpy(out->detail, r->ev[i].detail, sizeof(out->detail));
	return 0;
}

const struct vfiomig_report *vfiomig_report_peer(const struct vfiomig_report *r)
{
	return r->peer;
}

uint64_t vfiomig_report_downtime_ns(const struct vfiomig_report *r)
{
	uint64_t end = r->t_last_running;

	if (!r->ok || !r->t_first_leave)
		return 0;
	if (r->peer && r->peer->t_last_running)
		end = r->peer->t_last_running;
	else if (!r->clocks_comparable)
		end = r->t_done;	/* upper bound: includes the DONE trip */
	return end > r->t_first_leave ? end - r->t_first_leave : 0;
}

void vfiomig_report_merge_dest(struct vfiomig_report *src,
			       struct vfiomig_report *dst)
{
	vfiomig_report_free(src->peer);
	src->peer = dst;
	if (dst && dst->t_last_running) {
		src->t_last_running = dst->t_last_running;
		src->clocks_comparable = true;
	}
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Sum of transition time per phase for one device. */
static uint64_t phase_ns(const struct vfiomig_report *r, unsigned dev,
			 const char *phase)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < r->ntrans; i++)
		if (r->trans[i].dev == dev && !strcmp(r->trans[i].phase, phase))
			sum += r->trans[i].t.end_ns - r->trans[i].t.start_ns;
	return sum;
}

static void print_one(const struct vfiomig_report *r, FILE *f)
{
	char fl[64];

	fprintf(f, "%s: %s, %s transitions, %u channel(s), switchover-ack %s\n",
		r->role, r->ok ? "ok" : "FAILED",
		r->transitions == VFIOMIG_TRANSITIONS_SEQUENTIAL ? "sequential" :
		"parallel", r->channels, r->ack_mode[0] ? r->ack_mode : "-");
	if (!r->ok && r->error[0])
		fprintf(f, "  error: %s\n", r->error);
	if (r->events_dropped)
		fprintf(f, "  events: %zu kept, %llu dropped (bounded list)\n", r->nev,
			(unsigned long long)r->events_dropped);
	for (unsigned i = 0; i < r->ndev; i++) {
		const struct vm_dev_stats *d = &r->dev[i];

		fprintf(f, "  [%u] %s (%s)\n", i, d->name,
			vfiomig_flags_str(d->flags, fl, sizeof(fl)));
		if (d->reset_from[0])
			fprintf(f, "      was %s at start: reset to RUNNING (--no-reset refuses)\n",
				d->reset_from);
		if (!strcmp(r->role, "source"))
			fprintf(f, "      precopy %u rounds %llu B, stop-copy %llu B "
				"(read %.3f ms, send %.3f ms), p2p %.3f ms, "
				"stop-copy arc %.3f ms, barrier wait %.3f ms\n",
				d->precopy_rounds,
				(unsigned long long)d->precopy_bytes,
				(unsigned long long)d->stopcopy_bytes,
				ms(d->read_ns), ms(d->send_ns),
				ms(phase_ns(r, i, "p2p")),
				ms(phase_ns(r, i, "stop-copy")),
				ms(d->barrier_wait_ns));
		else
			fprintf(f, "      loaded %llu B in %.3f ms, resume p2p %.3f ms, "
				"run %.3f ms, barrier wait %.3f ms\n",
				(unsigned long long)d->loaded_bytes, ms(d->load_ns),
				ms(phase_ns(r, i, "p2p")), ms(phase_ns(r, i, "run")),
				ms(d->barrier_wait_ns));
	}
	if (!strcmp(r->role, "destination"))
		fprintf(f, "  peak queued %llu B (cap %llu B)\n",
			(unsigned long long)r->peak_queued,
			(unsigned long long)r->max_queued);
}

void vfiomig_report_print(const struct vfiomig_report *r, FILE *f)
{
	print_one(r, f);
	if (r->peer)
		print_one(r->peer, f);
	if (r->ok && !strcmp(r->role, "source"))
		fprintf(f, "downtime: %.3f ms%s\n",
			ms(vfiomig_report_downtime_ns(r)),
			r->peer || r->clocks_comparable ? "" :
			" (until DONE received: clocks not comparable)");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_endpoint(const struct vfiomig_report *r, FILE *f)
{
	fprintf(f, "{\"role\":");
	json_str(f, r->role);
	fprintf(f, ",\"ok\":%s,\"error\":", r->ok ? "true" : "false");
	json_str(f, r->error);
	fprintf(f, ",\"transitions\":\"%s\",\"channels\":%u,\"switchover_ack\":",
		r->transitions == VFIOMIG_TRANSITIONS_SEQUENTIAL ? "sequential" :
		"parallel", r->channels);
	json_str(f, r->ack_mode);
	fprintf(f, ",\"max_queued\":%llu,\"peak_queued\":%llu",
		(unsigned long long)r->max_queued,
		(unsigned long long)r->peak_queued);
	fprintf(f, ",\"t_start_ns\":%llu,\"t_end_ns\":%llu,\"t_switchover_ns\":%llu,"
		"\"t_first_leave_ns\":%llu,\"t_stopcopy_done_ns\":%llu,"
		"\"t_done_ns\":%llu,\"t_resume_start_ns\":%llu,"
		"\"t_last_running_ns\":%llu",
		(unsigned long long)r->t_start, (unsigned long long)r->t_end,
		(unsigned long long)r->t_switchover,
		(unsigned long long)r->t_first_leave,
		(unsigned long long)r->t_stopcopy_done,
		(unsigned long long)r->t_done,
		(unsigned long long)r->t_resume_start,
		(unsigned long long)r->t_last_running);
	fprintf(f, ",\"devices\":[");
	for (unsigned i = 0; i < r->ndev; i++) {
		const struct vm_dev_stats *d = &r->dev[i];
		char fl[64];

		fprintf(f, "%s{\"index\":%u,\"name\":", i ? "," : "", i);
		json_str(f, d->name);
		fprintf(f, ",\"flags\":");
		json_str(f, vfiomig_flags_str(d->flags, fl, sizeof(fl)));
		fprintf(f, ",\"reset_at_start\":");
		if (d->reset_from[0])
			json_str(f, d->reset_from);
		else
			fprintf(f, "null");
		fprintf(f, ",\"precopy_v2\":%s,\"precopy_rounds\":%u,"
			"\"precopy_bytes\":%llu,\"stopcopy_bytes\":%llu,"
			"\"read_ns\":%llu,\"send_ns\":%llu,\"load_ns\":%llu,"
			"\"loaded_bytes\":%llu,\"barrier_wait_ns\":%llu,"
			"\"reinits\":%llu,\"ack_requests\":%llu,\"acks\":%llu,"
			"\"running_ns\":%llu,\"phase_ns\":{",
			d->precopy_v2 ? "true" : "false", d->precopy_rounds,
			(unsigned long long)d->precopy_bytes,
			(unsigned long long)d->stopcopy_bytes,
			(unsigned long long)d->read_ns,
			(unsigned long long)d->send_ns,
			(unsigned long long)d->load_ns,
			(unsigned long long)d->loaded_bytes,
			(unsigned long long)d->barrier_wait_ns,
			(unsigned long long)d->reinits,
			(unsigned long long)d->ack_requests,
			(unsigned long long)d->acks,
			(unsigned long long)d->running_ns);
		static const char *const phases[] = {
			"precopy-enter", "resuming", "p2p", "stop-copy", "run",
			"cleanup", "recover" };
		for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++)
			fprintf(f, "%s\"%s\":%llu", k ? "," : "", phases[k],
				(unsigned long long)phase_ns(r, i, phases[k]));
		fprintf(f, "}}");
	}
	fprintf(f, "],\"transitions_log\":[");
	for (size_t i = 0; i < r->ntrans; i++) {
		const struct vm_trans_rec *t = &r->trans[i];

		fprintf(f, "%s{\"dev\":%u,\"phase\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
			"\"start_ns\":%llu,\"end_ns\":%llu,\"ret\":%d}",
			i ? "," : "", t->dev, t->phase, vfiomig_state_name(t->t.from),
			vfiomig_state_name(t->t.to),
			(unsigned long long)t->t.start_ns,
			(unsigned long long)t->t.end_ns, t->t.ret);
	}
	fprintf(f, "],\"events_dropped\":%llu,\"events\":[",
		(unsigned long long)r->events_dropped);
	for (size_t i = 0; i < r->nev; i++) {
		const struct vm_event *e = &r->ev[i];

		fprintf(f, "%s{\"ts_ns\":%llu,\"type\":", i ? "," : "",
			(unsigned long long)e->ts);
		json_str(f, e->type);
		fprintf(f, ",\"dev\":%d,\"value\":%llu,\"detail\":", e->dev,
			(unsigned long long)e->value);
		json_str(f, e->detail);
		fputc('}', f);
	}
	fprintf(f, "]}");
}

int vfiomig_report_write_json(const struct vfiomig_report *r, FILE *f)
{
	fprintf(f, "{\"schema\":\"%s\",\"version\":%d,\"ok\":%s,"
		"\"downtime_ns\":%llu,\"downtime_method\":\"%s\",\"source\":",
		VFIOMIG_REPORT_SCHEMA, VFIOMIG_REPORT_VERSION,
		r->ok && (!r->peer || r->peer->ok) ? "true" : "false",
		(unsigned long long)vfiomig_report_downtime_ns(r),
		r->peer ? "local" : r->clocks_comparable ? "same-host" : "done-received");
	const struct vfiomig_report *src = !strcmp(r->role, "source") ? r : NULL;
	const struct vfiomig_report *dst = src ? r->peer : r;
	if (src)
		json_endpoint(src, f);
	else
		fprintf(f, "null");
	fprintf(f, ",\"destination\":");
	if (dst)
		json_endpoint(dst, f);
	else
		fprintf(f, "null");
	fprintf(f, "}\n");
	return ferror(f) ? -EIO : 0;
}
