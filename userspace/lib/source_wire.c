// SPDX-License-Identifier: GPL-2.0
/*
 * source_wire.c - the source's records: the handshake (HELLO,
 * WELCOME, side channels) and the return path (ACK, DONE, ERROR).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "source_internal.h"

/* ---- return path ----------------------------------------------------- */

void *src_return_path(void *arg)
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
			vm_peer_error(&s->ss, s->r, &s->peer_failed, buf, h.len, "destination");
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

int src_handshake(struct src *s, struct vfiomig_link *link)
{
	struct vfiomig_wire_hello hello, welcome;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	struct vm_conn conn;
	int ret, len;

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

	ret = vm_link_channel(link, 0, s->o.io_timeout_ms, &conn);
	if (ret)
		return vm_fail(&s->ss, ret, "channel 0: %s", strerror(-ret));
	vm_chan_init(&s->ch[0], &conn, 0, &s->ss.abort, s->o.io_timeout_ms);
	s->nch_init = 1;

	len = vfiomig_wire_encode_hello(&hello, buf, sizeof(buf));
	if (len < 0)
		return vm_fail(&s->ss, len, "cannot encode HELLO");
	ret = vm_chan_send(&s->ch[0], VFIOMIG_REC_HELLO, VFIOMIG_WIRE_NODEV, buf,
			   (uint32_t)len);
	/* A destination that refused at once may have closed already: its ERROR says why. */
	if (ret && ret != -ECONNRESET)
		return src_chan_fail(s, 0, ret);

	ret = vm_chan_recv_hdr(&s->ch[0], &h);
	if (!ret && h.type != VFIOMIG_REC_WELCOME && h.type != VFIOMIG_REC_ERROR)
		ret = -EPROTO;
	if (!ret)
		ret = vm_chan_recv_payload(&s->ch[0], &h, buf);
	if (ret)
		return vm_fail(&s->ss, ret, "handshake: %s", vfiomig_wire_strerror(ret));
	if (h.type == VFIOMIG_REC_ERROR)
		return vm_peer_error(&s->ss, s->r, &s->peer_failed, buf, h.len,
				     "destination refused");
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

		ret = vm_link_channel(link, c, s->o.io_timeout_ms, &conn);
		if (ret)
			return vm_fail(&s->ss, ret, "channel %u: %s", c, strerror(-ret));
		vm_chan_init(&s->ch[c], &conn, c, &s->ss.abort, s->o.io_timeout_ms);
		s->nch_init = c + 1;
		vfiomig_put_be64(ch, hello.token);
		vfiomig_put_be16(ch + 8, (uint16_t)c);
		ret = vm_chan_send(&s->ch[c], VFIOMIG_REC_CHAN_HELLO,
				   VFIOMIG_WIRE_NODEV, ch, sizeof(ch));
		if (ret)
			return src_chan_fail(s, c, ret);
	}
	for (unsigned c = 0; c < s->nchan; c++)
		if (vm_chan_prefault(&s->ch[c]))
			return vm_fail(&s->ss, -ENOMEM,
				       "channel %u: out of memory for its buffers", c);
	return 0;
}

