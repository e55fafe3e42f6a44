// SPDX-License-Identifier: GPL-2.0
/*
 * dest_receive.c - one receiver per channel validates every record
 * from the source (direction, channel, device, order, length) and queues
 * device bytes and control records for the device's loader.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "dest_internal.h"

int dst_wire_fail(struct dst *s, unsigned c, int ret)
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
	return dst_stream_fail(s, c, ret);
}

/* ---- receivers ------------------------------------------------------- */

bool dst_channel_finished(struct dst *s, unsigned c)
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

/*
 * Device data is queued unchecked: its loader checks it right before the
 * device write (dst_job_load()).  That pass brings the payload into the
 * loader's CPU cache and TLB just ahead of the write's copy, where a check
 * here ran on another CPU and left the copy cold: in Table 3 the in-memory
 * transport went from 0.68-0.77 to 0.79-0.91 of the raw copy.  Nothing
 * unchecked reaches a device, and --max-queued charges the item either way.
 */
static void data_item_init(struct item *it, unsigned c,
			   const struct vfiomig_wire_hdr *h, bool stopcopy)
{
	it->kind = ITEM_DATA;
	it->stopcopy = stopcopy;
	it->len = h->len;
	it->psum = h->psum;
	it->seq = h->seq;
	it->chan = c;
}

/* The record's buffer becomes the item (charged as a copy would be). */
static int recv_data_in_memory(struct dst *s, unsigned c,
			       const struct vfiomig_wire_hdr *h, bool stopcopy,
			       size_t charge)
{
	struct vm_msg *msg;
	struct item *it;
	uint8_t *data;
	int ret = vm_chan_take_payload_unchecked(&s->ch[c], &data, &msg);

	if (ret) {
		dst_release(s, charge);
		return dst_wire_fail(s, c, ret);
	}
	it = dst_item_adopt(s, charge, data, msg);
	if (!it) {
		vm_msg_free(msg);
		dst_release(s, charge);
		return vm_fail(&s->ss, -ENOMEM, "out of memory");
	}
	data_item_init(it, c, h, stopcopy);
	dst_enqueue(s, h->dev, it);
	return 0;
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
	ret = dst_reserve(s, charge);
	if (ret)
		return ret;
	if (s->ch[c].mem)
		return recv_data_in_memory(s, c, h, stopcopy, charge);
	it = dst_item_alloc(s, charge);
	if (!it) {
		dst_release(s, charge);
		return vm_fail(&s->ss, -ENOMEM, "out of memory");
	}
	data_item_init(it, c, h, stopcopy);
	it->charge = charge;
	ret = vm_chan_recv_payload_unchecked(&s->ch[c], h, it->data);
	if (ret) {
		dst_item_free(s, it);
		dst_release(s, charge);
		return dst_wire_fail(s, c, ret);
	}
	dst_enqueue(s, h->dev, it);
	return 0;
}

static int recv_small(struct dst *s, unsigned c, const struct vfiomig_wire_hdr *h,
		      uint8_t *buf)
{
	int ret = vm_chan_recv_payload(&s->ch[c], h, buf);

	return ret ? dst_wire_fail(s, c, ret) : 0;
}

static int proto(struct dst *s, unsigned c, const struct vfiomig_wire_hdr *h,
		 const char *why)
{
	return vm_fail(&s->ss, -EPROTO, "channel %u: %s record (dev %u): %s", c,
		    vfiomig_wire_type_name(h->type), h->dev, why);
}

int dst_rx_one(struct dst *s, unsigned c)
{
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];	/* the largest non-data record */
	struct item *it;
	int ret = vm_chan_recv_hdr(&s->ch[c], &h);

	if (ret)
		return dst_wire_fail(s, c, ret);
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
		if (!(it = dst_control_item(s)))
			return vm_session_err(&s->ss, -ECANCELED);
		it->kind = ITEM_INIT_SENT;
		it->len = vfiomig_get_be32(buf);
		/* Log before queueing: the loader may free the item at once. */
		vm_report_event(s->r, "ack-request", h.dev, it->len, NULL);
		dst_enqueue(s, h.dev, it);
		return 0;
	case VFIOMIG_REC_SWITCHOVER:
		if (c != 0 || s->switchover)
			return proto(s, c, &h, "unexpected switchover");
		pthread_mutex_lock(&s->ss.lock);
		s->switchover = true;
		s->r->t_switchover = vfiomig_now_ns();
		pthread_cond_broadcast(&s->ss.cond);
		pthread_mutex_unlock(&s->ss.lock);
		vm_report_event(s->r, "switchover", -1, 0, NULL);
		return 0;
	case VFIOMIG_REC_KEEPALIVE:
		/* Its arrival already restarted channel 0's receive timeout. */
		if (c != 0 || !(s->caps & VFIOMIG_CAP_KEEPALIVE))
			return proto(s, c, &h, "keep-alive not negotiated or not on channel 0");
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
		if (!(it = dst_control_item(s)))
			return vm_session_err(&s->ss, -ECANCELED);
		it->kind = ITEM_END;
		it->total = vfiomig_get_be64(buf);
		pthread_mutex_lock(&s->ss.lock);
		s->d[h.dev].end_received = true;
		pthread_mutex_unlock(&s->ss.lock);
		dst_enqueue(s, h.dev, it);
		return 0;
	case VFIOMIG_REC_ERROR:
		if ((ret = recv_small(s, c, &h, buf)))
			return ret;
		return vm_peer_error(&s->ss, s->r, &s->peer_failed, buf, h.len, "source aborted");
	default:
		return proto(s, c, &h, "not valid from a source");
	}
}

void *dst_rx_thread(void *arg)
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
	while (!vm_aborted(&s->ss) && !dst_channel_finished(s, a->c))
		if (dst_rx_one(s, a->c))
			break;
	return NULL;
}

