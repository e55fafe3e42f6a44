// SPDX-License-Identifier: GPL-2.0
/*
 * session_dest.c - the destination endpoint.
 *
 * Receiver threads (one per channel) validate every record and queue
 * device bytes; one loader per device (the device's worker) writes them to
 * the device.  Queued bytes are capped: a receiver that would exceed the
 * cap stops reading its socket, so TCP flow control slows the source
 * instead of this process growing.  Resume: all devices to RUNNING_P2P
 * (barrier) then RUNNING.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session_internal.h"

enum { ITEM_DATA, ITEM_INIT_SENT, ITEM_END };

struct item {
	struct item *next;
	int kind;
	bool stopcopy;
	uint32_t len;		/* DATA: payload bytes; INIT_SENT: request id */
	uint64_t total;		/* END: stop-copy bytes the source sent */
	size_t charge;		/* bytes counted against max_queued */
	uint8_t data[];
};

struct dst_dev {
	struct vfiomig_device *dev;
	struct vm_obs_arg obs;
	struct item *head, *tail;
	unsigned chan;
	bool end_received;
	bool legacy_done;
	uint64_t stopcopy_loaded;
};

struct dst {
	struct vm_session ss;	/* lock, abort, first error, barrier */
	struct vfiomig_opts o;
	unsigned n, nchan;
	struct dst_dev *d;
	struct vm_chan ch[VFIOMIG_WIRE_MAX_CHANNELS];
	unsigned nch_init;
	struct vfiomig_report *r;
	struct vm_pool pool;
	uint64_t queued, peak;
	struct item *spare;	/* recycled full-size data items */
	unsigned nspare;
	bool switchover;
	int ack_mode;
	unsigned legacy_pending;
	bool peer_failed;
	bool touched;		/* devices left RUNNING: reset on failure */
	pthread_t rx[VFIOMIG_WIRE_MAX_CHANNELS];
	struct rx_arg {
		struct dst *s;
		unsigned c;
	} rxa[VFIOMIG_WIRE_MAX_CHANNELS];
	bool rx_started[VFIOMIG_WIRE_MAX_CHANNELS];
	uint64_t token;
};

static int wire_fail(struct dst *s, unsigned c, int ret)
{
	if (ret == -ECANCELED && vm_aborted(&s->ss))
		return ret;
	if (ret == -ECONNRESET) {
		pthread_mutex_lock(&s->ss.lock);
		s->peer_failed = true;
		/*
		 * A source that aborts sends ERROR on channel 0 and then closes
		 * every channel: give channel 0 a moment to deliver the reason
		 * rather than reporting a bare "truncated" from this channel.
		 */
		if (c != 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			while (!s->ss.err && !vm_aborted(&s->ss) &&
			       pthread_cond_timedwait(&s->ss.cond, &s->ss.lock, &ts) == 0)
				;
		}
		pthread_mutex_unlock(&s->ss.lock);
	}
	return vm_fail(&s->ss, ret, "channel %u: %s", c, vfiomig_wire_strerror(ret));
}

/* ---- item buffers ---------------------------------------------------- */

/*
 * Large data records get a buffer of the maximal record size, charged as
 * such, and those buffers are recycled: fresh pages cost a page fault
 * each, which under emulation (TCG) costs more than the copy into them.
 * At most SPARE_MAX spare buffers are kept, outside --max-queued.
 */
#define FULL_ITEM (sizeof(struct item) + VFIOMIG_WIRE_MAX_DATA)
#define SPARE_MAX 4

static struct item *item_alloc(struct dst *s, size_t charge)
{
	struct item *it = NULL;

	if (charge == FULL_ITEM) {
		pthread_mutex_lock(&s->ss.lock);
		it = s->spare;
		if (it) {
			s->spare = it->next;
			s->nspare--;
		}
		pthread_mutex_unlock(&s->ss.lock);
	}
	return it ? it : malloc(charge);
}

static void item_free(struct dst *s, struct item *it)
{
	if (it->kind == ITEM_DATA && it->charge == FULL_ITEM) {
		pthread_mutex_lock(&s->ss.lock);
		if (s->nspare < SPARE_MAX) {
			it->next = s->spare;
			s->spare = it;
			s->nspare++;
			it = NULL;
		}
		pthread_mutex_unlock(&s->ss.lock);
	}
	free(it);
}

static void free_spares(struct dst *s)
{
	while (s->spare) {
		struct item *nx = s->spare->next;

		free(s->spare);
		s->spare = nx;
	}
	s->nspare = 0;
}

/* ---- bounded queue --------------------------------------------------- */

/* Wait until @bytes fit under the cap; the caller then owns them. */
static int reserve(struct dst *s, size_t bytes)
{
	pthread_mutex_lock(&s->ss.lock);
	while (s->queued + bytes > s->o.max_queued && !vm_aborted(&s->ss))
		pthread_cond_wait(&s->ss.cond, &s->ss.lock);
	if (vm_aborted(&s->ss)) {
		pthread_mutex_unlock(&s->ss.lock);
		return -ECANCELED;
	}
	s->queued += bytes;
	if (s->queued > s->peak)
		s->peak = s->queued;
	pthread_mutex_unlock(&s->ss.lock);
	return 0;
}

static void release(struct dst *s, size_t bytes)
{
	pthread_mutex_lock(&s->ss.lock);
	s->queued -= bytes;
	pthread_cond_broadcast(&s->ss.cond);
	pthread_mutex_unlock(&s->ss.lock);
}

static void enqueue(struct dst *s, unsigned i, struct item *it)
{
	struct dst_dev *d = &s->d[i];

	pthread_mutex_lock(&s->ss.lock);
	it->next = NULL;
	if (d->tail)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	pthread_cond_broadcast(&s->ss.cond);
	pthread_mutex_unlock(&s->ss.lock);
}

static struct item *dequeue(struct dst *s, unsigned i)
{
	struct dst_dev *d = &s->d[i];
	struct item *it;

	pthread_mutex_lock(&s->ss.lock);
	while (!d->head && !vm_aborted(&s->ss))
		pthread_cond_wait(&s->ss.cond, &s->ss.lock);
	it = vm_aborted(&s->ss) ? NULL : d->head;
	if (it) {
		d->head = it->next;
		if (!d->head)
			d->tail = NULL;
	}
	pthread_mutex_unlock(&s->ss.lock);
	return it;
}

/* ---- receivers ------------------------------------------------------- */

static bool channel_finished(struct dst *s, unsigned c)
{
	bool fin = true;

	pthread_mutex_lock(&s->ss.lock);
	for (unsigned i = 0; i < s->n; i++)
		if (s->d[i].chan == c && !s->d[i].end_received)
			fin = false;
	if (c == 0 && !s->switchover)
		fin = false;
	pthread_mutex_unlock(&s->ss.lock);
	return fin;
}

static int recv_data(struct dst *s, unsigned c, const struct vfiomig_wire_hdr *h,
		     bool stopcopy)
{
	size_t charge = sizeof(struct item) + h->len;
	struct item *it;
	int ret;

	if (stopcopy) {
		/* Precopy bytes of this device (channel 0) must all be queued first. */
		pthread_mutex_lock(&s->ss.lock);
		while (!s->switchover && !vm_aborted(&s->ss))
			pthread_cond_wait(&s->ss.cond, &s->ss.lock);
		pthread_mutex_unlock(&s->ss.lock);
	}
	if (h->len > VFIOMIG_WIRE_MAX_DATA / 2)
		charge = FULL_ITEM;
	ret = reserve(s, charge);
	if (ret)
		return ret;
	it = item_alloc(s, charge);
	if (!it) {
		release(s, charge);
		return vm_fail(&s->ss, -ENOMEM, "out of memory");
	}
	it->kind = ITEM_DATA;
	it->stopcopy = stopcopy;
	it->len = h->len;
	it->charge = charge;
	ret = vm_chan_recv_payload(&s->ch[c], h, it->data);
	if (ret) {
		item_free(s, it);
		release(s, charge);
		return wire_fail(s, c, ret);
	}
	enqueue(s, h->dev, it);
	return 0;
}

/*
 * A queued control record (ack request, device end) costs memory like
 * data does: a source that floods 28-byte INIT_DATA_SENT records must hit
 * the same --max-queued cap and be slowed the same way.
 */
static struct item *control_item(struct dst *s)
{
	struct item *it;

	if (reserve(s, sizeof(*it)))
		return NULL;
	it = calloc(1, sizeof(*it));
	if (!it) {
		release(s, sizeof(*it));
		vm_fail(&s->ss, -ENOMEM, "out of memory");
		return NULL;
	}
	it->charge = sizeof(*it);
	return it;
}

static int recv_small(struct dst *s, unsigned c, const struct vfiomig_wire_hdr *h,
		      uint8_t *buf)
{
	int ret = vm_chan_recv_payload(&s->ch[c], h, buf);

	return ret ? wire_fail(s, c, ret) : 0;
}

static int proto(struct dst *s, unsigned c, const struct vfiomig_wire_hdr *h,
		 const char *why)
{
	return vm_fail(&s->ss, -EPROTO, "channel %u: %s record (dev %u): %s", c,
		    vfiomig_wire_type_name(h->type), h->dev, why);
}

static int rx_one(struct dst *s, unsigned c)
{
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];	/* the largest non-data record */
	struct item *it;
	int ret = vm_chan_recv_hdr(&s->ch[c], &h);

	if (ret)
		return wire_fail(s, c, ret);
	bool devrec = h.type == VFIOMIG_REC_PRECOPY_DATA ||
		      h.type == VFIOMIG_REC_INIT_DATA_SENT ||
		      h.type == VFIOMIG_REC_STOPCOPY_DATA ||
		      h.type == VFIOMIG_REC_DEV_END;
	if (devrec && h.dev >= s->n)
		return proto(s, c, &h, "no such device");

	switch (h.type) {
	case VFIOMIG_REC_PRECOPY_DATA:
		if (c != 0 || s->switchover)
			return proto(s, c, &h, "precopy data outside precopy");
		return recv_data(s, c, &h, false);
	case VFIOMIG_REC_INIT_DATA_SENT:
		if (c != 0 || s->switchover)
			return proto(s, c, &h, "ack request after switchover");
		if (s->ack_mode == VFIOMIG_ACK_OFF)
			return proto(s, c, &h, "switchover-ack not negotiated");
		if (!(vfiomig_device_flags(s->d[h.dev].dev) & VFIOMIG_FLAG_PRE_COPY))
			return proto(s, c, &h, "device has no precopy");
		if ((ret = recv_small(s, c, &h, buf)))
			return ret;
		if (h.len != 4)
			return proto(s, c, &h, "bad length");
		if (!(it = control_item(s)))
			return vm_session_err(&s->ss, -ECANCELED);
		it->kind = ITEM_INIT_SENT;
		it->len = vfiomig_get_be32(buf);
		/* Log before queueing: the loader may free the item at once. */
		vm_report_event(s->r, "ack-request", h.dev, it->len, NULL);
		enqueue(s, h.dev, it);
		return 0;
	case VFIOMIG_REC_SWITCHOVER:
		if (c != 0 || s->switchover)
			return proto(s, c, &h, "unexpected switchover");
		/* From here on the source owes data: a silent source times out. */
		atomic_store(&s->ch[0].rx_no_timeout, false);
		pthread_mutex_lock(&s->ss.lock);
		s->switchover = true;
		s->r->t_switchover = vfiomig_now_ns();
		pthread_cond_broadcast(&s->ss.cond);
		pthread_mutex_unlock(&s->ss.lock);
		vm_report_event(s->r, "switchover", -1, 0, NULL);
		return 0;
	case VFIOMIG_REC_STOPCOPY_DATA:
		/* Channel 0 carries SWITCHOVER itself: stop-copy bytes before it can never become valid. */
		if (c == 0 && !s->switchover)
			return proto(s, c, &h, "stop-copy data before switchover");
		if (s->d[h.dev].chan != c || s->d[h.dev].end_received)
			return proto(s, c, &h, "stop-copy data on the wrong channel or after end");
		return recv_data(s, c, &h, true);
	case VFIOMIG_REC_DEV_END:
		if (s->d[h.dev].chan != c || s->d[h.dev].end_received)
			return proto(s, c, &h, "device end on the wrong channel or twice");
		if ((ret = recv_small(s, c, &h, buf)))
			return ret;
		if (h.len != 8)
			return proto(s, c, &h, "bad length");
		pthread_mutex_lock(&s->ss.lock);
		bool sw = s->switchover;
		pthread_mutex_unlock(&s->ss.lock);
		if (!sw && c == 0)
			return proto(s, c, &h, "device end before switchover");
		if (!(it = control_item(s)))
			return vm_session_err(&s->ss, -ECANCELED);
		it->kind = ITEM_END;
		it->total = vfiomig_get_be64(buf);
		pthread_mutex_lock(&s->ss.lock);
		s->d[h.dev].end_received = true;
		pthread_mutex_unlock(&s->ss.lock);
		enqueue(s, h.dev, it);
		return 0;
	case VFIOMIG_REC_ERROR: {
		char m[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];
		if ((ret = recv_small(s, c, &h, buf)))
			return ret;
		int e = vfiomig_wire_decode_error(buf, h.len, m, sizeof(m));
		pthread_mutex_lock(&s->ss.lock);
		s->peer_failed = true;
		pthread_mutex_unlock(&s->ss.lock);
		vm_report_event(s->r, "peer-error", -1, (uint64_t)-e, m);
		return vm_fail(&s->ss, e, "source aborted: %s", m);
	}
	default:
		return proto(s, c, &h, "not valid from a source");
	}
}

static void *rx_thread(void *arg)
{
	struct rx_arg *a = arg;
	struct dst *s = a->s;

	/*
	 * Side channels carry nothing before SWITCHOVER (however long precopy
	 * takes): do not read, and so do not time out, until channel 0 saw it.
	 */
	pthread_mutex_lock(&s->ss.lock);
	while (!s->switchover && !vm_aborted(&s->ss))
		pthread_cond_wait(&s->ss.cond, &s->ss.lock);
	pthread_mutex_unlock(&s->ss.lock);
	while (!vm_aborted(&s->ss) && !channel_finished(s, a->c))
		if (rx_one(s, a->c))
			break;
	return NULL;
}

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
		return wire_fail(s, 0, ret);
	if (dev != VFIOMIG_WIRE_NODEV)
		s->r->dev[i].acks++;
	vm_report_event(s->r, "ack", dev == VFIOMIG_WIRE_NODEV ? -1 : (int)i,
			reqid, vfiomig_ack_mode_name(s->ack_mode));
	return 0;
}

static int job_load(void *arg, unsigned i)
{
	struct dst *s = arg;
	struct dst_dev *d = &s->d[i];
	struct item *it;
	int ret = 0;

	vm_report_set_phase(s->r, i, "load");
	while ((it = dequeue(s, i))) {
		switch (it->kind) {
		case ITEM_DATA: {
			uint64_t t0 = vfiomig_now_ns();
			ret = vfiomig_device_write(d->dev, it->data, it->len);
			s->r->dev[i].load_ns += vfiomig_now_ns() - t0;
			s->r->dev[i].loaded_bytes += it->len;
			if (it->stopcopy)
				d->stopcopy_loaded += it->len;
			else
				s->r->dev[i].precopy_bytes += it->len;
			release(s, it->charge);
			if (ret)
				ret = vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(d->dev));
			break;
		}
		case ITEM_INIT_SENT:
			release(s, it->charge);
			ret = send_ack(s, i, it->len);
			break;
		case ITEM_END:
			release(s, it->charge);
			s->r->dev[i].stopcopy_bytes = d->stopcopy_loaded;
			if (it->total != d->stopcopy_loaded)
				ret = vm_fail(&s->ss, -EPROTO,
					   "dev %s: stop-copy stream has %llu bytes, source announced %llu",
					   vfiomig_device_name(d->dev),
					   (unsigned long long)d->stopcopy_loaded,
					   (unsigned long long)it->total);
			item_free(s, it);
			return ret;
		}
		item_free(s, it);
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

static int job_p2p(void *arg, unsigned i)
{
	return p2p_step(arg, i);
}

static int job_run(void *arg, unsigned i)
{
	return run_step(arg, i);
}

static int job_resume_parallel(void *arg, unsigned i)
{
	struct dst *s = arg;

	return vm_barrier_phases(&s->ss.barrier, job_p2p, job_run, s, i,
				 &s->r->dev[i].barrier_wait_ns);
}

static int job_resuming(void *arg, unsigned i)
{
	struct dst *s = arg;
	struct vfiomig_device *dev = s->d[i].dev;

	vm_report_set_phase(s->r, i, "resuming");
	int ret = vfiomig_device_goto(dev, VFIOMIG_RESUMING);
	return ret ? vm_fail(&s->ss, ret, "%s", vfiomig_device_errmsg(dev)) : 0;
}

/* ---- handshake ------------------------------------------------------- */

static int refuse(struct dst *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Handshake mismatch: tell the source, touch no device. */
static int refuse(struct dst *s, int err, const char *fmt, ...)
{
	char m[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	vm_chan_send_error(&s->ch[0], err, m);
	pthread_mutex_lock(&s->ss.lock);
	s->peer_failed = true;	/* already answered */
	pthread_mutex_unlock(&s->ss.lock);
	return vm_fail(&s->ss, err, "%s", m);
}

static int handshake(struct dst *s, struct vfiomig_link *link)
{
	struct vfiomig_wire_hello hello, welcome;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	char f1[64], f2[64];
	int fd, ret;

	ret = vm_link_channel(link, 0, s->o.io_timeout_ms, &fd);
	if (ret)
		return vm_fail(&s->ss, ret, "waiting for the source: %s", strerror(-ret));
	vm_chan_init(&s->ch[0], fd, 0, &s->ss.abort, s->o.io_timeout_ms);
	s->nch_init = 1;
	ret = vm_chan_recv_hdr(&s->ch[0], &h);
	if (!ret && h.type != VFIOMIG_REC_HELLO && h.type != VFIOMIG_REC_ERROR)
		ret = -EPROTO;
	if (!ret)
		ret = vm_chan_recv_payload(&s->ch[0], &h, buf);
	if (!ret && h.type == VFIOMIG_REC_ERROR) {
		char m[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];
		int e = vfiomig_wire_decode_error(buf, h.len, m, sizeof(m));

		pthread_mutex_lock(&s->ss.lock);
		s->peer_failed = true;
		pthread_mutex_unlock(&s->ss.lock);
		vm_report_event(s->r, "peer-error", -1, (uint64_t)-e, m);
		return vm_fail(&s->ss, e, "source refused: %s", m);
	}
	if (!ret)
		ret = vfiomig_wire_decode_hello(buf, h.len, &hello);
	if (ret)
		return refuse(s, ret, "handshake: %s", vfiomig_wire_strerror(ret));
	if (hello.ver_max < VFIOMIG_WIRE_VERSION_MIN ||
	    hello.ver_min > VFIOMIG_WIRE_VERSION_MAX)
		return refuse(s, -EPROTONOSUPPORT,
			      "wire version %u..%u not supported (need %u..%u)",
			      hello.ver_min, hello.ver_max, VFIOMIG_WIRE_VERSION_MIN,
			      VFIOMIG_WIRE_VERSION_MAX);
	if (hello.ndev != s->n)
		return refuse(s, -EINVAL, "device count mismatch: source %u, destination %u",
			      hello.ndev, s->n);
	for (unsigned i = 0; i < s->n; i++) {
		uint64_t mine = vfiomig_device_flags(s->d[i].dev);
		if (hello.flags[i] != mine)
			return refuse(s, -EINVAL,
				      "device %u (%s -> %s): migration flags differ: source %s, destination %s",
				      i, hello.names[i], vfiomig_device_name(s->d[i].dev),
				      vfiomig_flags_str(hello.flags[i], f1, sizeof(f1)),
				      vfiomig_flags_str(mine, f2, sizeof(f2)));
	}
	/*
	 * A side that offers exactly one ack mechanism insists on it: refuse
	 * now, before any device leaves RUNNING, rather than after RESUMING.
	 */
	const uint32_t ackbits = VFIOMIG_CAP_ACK_LEGACY | VFIOMIG_CAP_ACK_PER_DEVICE;
	uint32_t offered = hello.caps & ackbits, mine = vm_caps_for(&s->o) & ackbits;
	if (offered && !(offered & (offered - 1)) && !(offered & mine))
		return refuse(s, -EOPNOTSUPP, "source requires switchover-ack %s, destination offers %s",
			      offered == VFIOMIG_CAP_ACK_LEGACY ? "legacy" : "per-device",
			      vfiomig_ack_mode_name(s->o.ack_mode));
	if (s->o.ack_mode == VFIOMIG_ACK_LEGACY || s->o.ack_mode == VFIOMIG_ACK_PER_DEVICE) {
		if (!(offered & mine))
			return refuse(s, -EOPNOTSUPP, "destination requires switchover-ack %s, source does not offer it",
				      vfiomig_ack_mode_name(s->o.ack_mode));
	}
	s->token = hello.token;
	s->nchan = hello.nchan < s->n ? hello.nchan : s->n;
	uint32_t caps = hello.caps & vm_caps_for(&s->o);
	if (caps & VFIOMIG_CAP_ACK_PER_DEVICE)
		s->ack_mode = VFIOMIG_ACK_PER_DEVICE;
	else if (caps & VFIOMIG_CAP_ACK_LEGACY)
		s->ack_mode = VFIOMIG_ACK_LEGACY;
	else
		s->ack_mode = VFIOMIG_ACK_OFF;
	/* Agree on exactly one ack mechanism (plus REINIT with per-device). */
	if (s->ack_mode == VFIOMIG_ACK_PER_DEVICE)
		caps &= VFIOMIG_CAP_ACK_PER_DEVICE | VFIOMIG_CAP_REINIT;
	else
		caps &= s->ack_mode == VFIOMIG_ACK_LEGACY ? VFIOMIG_CAP_ACK_LEGACY : 0;

	/* Everything matches: only now touch the devices. */
	s->touched = true;
	ret = vm_pool_run(&s->pool, job_resuming, s,
			  s->o.transitions == VFIOMIG_TRANSITIONS_PARALLEL);
	if (ret) {
		vm_session_send_error(&s->ss, &s->ch[0]);
		s->peer_failed = true;
		return vm_session_err(&s->ss, ret);
	}

	memset(&welcome, 0, sizeof(welcome));
	welcome.ver_min = welcome.ver_max = VFIOMIG_WIRE_VERSION_MIN;
	welcome.caps = caps;
	welcome.token = hello.token;
	vm_read_boot_id(welcome.boot_id);
	welcome.nchan = (uint16_t)s->nchan;
	welcome.ndev = (uint16_t)s->n;
	for (unsigned i = 0; i < s->n; i++) {
		welcome.flags[i] = vfiomig_device_flags(s->d[i].dev);
		snprintf(welcome.names[i], sizeof(welcome.names[i]), "%s",
			 vfiomig_device_name(s->d[i].dev));
	}
	int len = vfiomig_wire_encode_hello(&welcome, buf, sizeof(buf));
	if (len < 0)
		return vm_fail(&s->ss, len, "cannot encode WELCOME");
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_WELCOME, VFIOMIG_WIRE_NODEV, buf,
			   (uint32_t)len);
	if (ret)
		return wire_fail(s, 0, ret);

	/* Extra channels may connect in any order; CHAN_HELLO says which is which. */
	for (unsigned k = 1; k < s->nchan; k++) {
		struct vm_chan tmp;
		uint8_t p[10];

		ret = vm_link_channel(link, k, s->o.io_timeout_ms, &fd);
		if (ret)
			return vm_fail(&s->ss, ret, "accepting channel %u: %s", k, strerror(-ret));
		vm_chan_init(&tmp, fd, k, &s->ss.abort, s->o.io_timeout_ms);
		ret = vm_chan_recv_hdr(&tmp, &h);
		if (!ret && h.type != VFIOMIG_REC_CHAN_HELLO)
			ret = -EPROTO;
		if (!ret)
			ret = vm_chan_recv_payload(&tmp, &h, p);
		vm_chan_destroy(&tmp);
		if (!ret && h.len != 10)
			ret = -EBADMSG;
		if (ret)
			return vm_fail(&s->ss, ret, "channel %u hello: %s", k, vfiomig_wire_strerror(ret));
		unsigned idx = vfiomig_get_be16(p + 8);
		if (vfiomig_get_be64(p) != s->token || idx == 0 || idx >= s->nchan ||
		    s->ch[idx].fd >= 0)
			return vm_fail(&s->ss, -EPROTO, "channel %u hello: wrong session or index", k);
		vm_chan_init(&s->ch[idx], fd, idx, &s->ss.abort, s->o.io_timeout_ms);
		s->ch[idx].rx_seq = 1;	/* CHAN_HELLO was record 0 */
	}
	s->nch_init = s->nchan;
	/*
	 * The source may legitimately send nothing for as long as precopy
	 * lasts (idle devices, --min-precopy-ms): the same rule as on the
	 * source's return path.  The source bounds precopy itself, and a
	 * closed connection still ends the wait.
	 */
	atomic_store(&s->ch[0].rx_no_timeout, true);
	return 0;
}

/* ---- abort ----------------------------------------------------------- */

static void abort_session(struct dst *s)
{
	pthread_mutex_lock(&s->ss.lock);
	bool answer = !s->peer_failed;
	pthread_mutex_unlock(&s->ss.lock);

	atomic_store(&s->ss.abort, true);
	pthread_mutex_lock(&s->ss.lock);
	pthread_cond_broadcast(&s->ss.cond);
	pthread_mutex_unlock(&s->ss.lock);
	vm_barrier_break(&s->ss.barrier);
	if (answer && s->nch_init)
		vm_session_send_error(&s->ss, &s->ch[0]);
	for (unsigned c = 0; c < s->nch_init; c++)
		vm_chan_shutdown(&s->ch[c]);
	for (unsigned c = 1; c < VFIOMIG_WIRE_MAX_CHANNELS; c++)
		if (s->rx_started[c]) {
			pthread_join(s->rx[c], NULL);
			s->rx_started[c] = false;
		}
	if (s->pool.w)
		for (unsigned i = 0; i < s->n; i++)
			vm_pool_wait(&s->pool, i);
	char why[sizeof(s->ss.msg)];
	int err = vm_session_failure(&s->ss, why, sizeof(why));
	vm_report_event(s->r, "abort", -1, (uint64_t)-err, why);
	if (!s->touched)
		return;
	/* A RESUMING session can only be abandoned through reset. */
	for (unsigned i = 0; i < s->n; i++) {
		vm_report_set_phase(s->r, i, "recover");
		if (vfiomig_device_reset(s->d[i].dev) ||
		    vfiomig_device_recover(s->d[i].dev)) {
			char note[200];
			snprintf(note, sizeof(note), "; recovery failed: %.160s",
				 vfiomig_device_errmsg(s->d[i].dev));
			vm_session_note(&s->ss, note);
		}
	}
}

static int receive_and_resume(struct dst *s)
{
	int ret = 0;

	for (unsigned c = 1; c < s->nchan; c++) {
		s->rxa[c] = (struct rx_arg){ s, c };
		if (pthread_create(&s->rx[c], NULL, rx_thread, &s->rxa[c]))
			return vm_fail(&s->ss, -EAGAIN, "cannot start receiver thread");
		s->rx_started[c] = true;
	}
	for (unsigned i = 0; i < s->n; i++)
		vm_pool_submit(&s->pool, i, job_load, s);

	while (!vm_aborted(&s->ss) && !channel_finished(s, 0))
		if (rx_one(s, 0))
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
		ret = vm_pool_run(&s->pool, job_resume_parallel, s, true);
	} else {
		ret = vm_pool_run(&s->pool, job_p2p, s, false);
		if (!ret)
			ret = vm_pool_run(&s->pool, job_run, s, false);
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
	ret = vm_pool_start(&s->pool, n);
	if (ret) {
		vm_fail(&s->ss, ret, "cannot start worker threads");
		goto out;
	}
	ret = handshake(s, link);
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
	atomic_store(&s->ss.abort, true);
	pthread_mutex_lock(&s->ss.lock);
	pthread_cond_broadcast(&s->ss.cond);
	pthread_mutex_unlock(&s->ss.lock);
	for (unsigned c = 1; c < VFIOMIG_WIRE_MAX_CHANNELS; c++)
		if (s->rx_started[c])
			pthread_join(s->rx[c], NULL);
	vm_pool_stop(&s->pool);
	for (unsigned i = 0; s->d && i < n; i++) {
		struct item *it = s->d[i].head;
		while (it) {
			struct item *nx = it->next;
			free(it);
			it = nx;
		}
		vfiomig_device_set_observer(devs[i], NULL, NULL);
	}
	free_spares(s);
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
