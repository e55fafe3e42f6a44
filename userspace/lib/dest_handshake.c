// SPDX-License-Identifier: GPL-2.0
/*
 * dest_handshake.c - HELLO checked before any device changes state;
 * WELCOME once the devices are RESUMING; then the side channels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dest_internal.h"

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

/* Receive and check HELLO, negotiate; no device changes state here. */
int dst_check_hello(struct dst *s, struct vfiomig_link *link)
{
	struct vfiomig_wire_hello hello;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	char f1[64], f2[64];
	struct vm_conn conn;
	int ret;

	ret = vm_link_channel(link, 0, s->o.io_timeout_ms, &conn);
	if (ret)
		return vm_fail(&s->ss, ret, "waiting for the source: %s", strerror(-ret));
	vm_chan_init(&s->ch[0], &conn, 0, &s->ss.abort, s->o.io_timeout_ms);
	s->nch_init = 1;
	ret = vm_chan_recv_hdr(&s->ch[0], &h);
	if (!ret && h.type != VFIOMIG_REC_HELLO && h.type != VFIOMIG_REC_ERROR)
		ret = -EPROTO;
	if (!ret)
		ret = vm_chan_recv_payload(&s->ch[0], &h, buf);
	if (!ret && h.type == VFIOMIG_REC_ERROR)
		return vm_peer_error(&s->ss, s->r, &s->peer_failed, buf, h.len, "source refused");
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
	caps |= hello.caps & vm_caps_for(&s->o) & VFIOMIG_CAP_KEEPALIVE;

	s->caps = caps;
	return 0;
}

/* WELCOME (devices are RESUMING by now), then accept the side channels. */
int dst_send_welcome(struct dst *s, struct vfiomig_link *link)
{
	struct vfiomig_wire_hello welcome;
	struct vfiomig_wire_hdr h;
	uint8_t buf[VFIOMIG_WIRE_MAX_CTRL];
	struct vm_conn conn;
	int ret;

	memset(&welcome, 0, sizeof(welcome));
	welcome.ver_min = welcome.ver_max = VFIOMIG_WIRE_VERSION_MIN;
	welcome.caps = s->caps;
	welcome.token = s->token;
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
		return dst_wire_fail(s, 0, ret);

	/* Extra channels may connect in any order; CHAN_HELLO says which is which. */
	for (unsigned k = 1; k < s->nchan; k++) {
		struct vm_chan tmp;
		uint8_t p[10];

		ret = vm_link_channel(link, k, s->o.io_timeout_ms, &conn);
		if (ret)
			return vm_fail(&s->ss, ret, "accepting channel %u: %s", k, strerror(-ret));
		vm_chan_init(&tmp, &conn, k, &s->ss.abort, s->o.io_timeout_ms);
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
		    vm_chan_open(&s->ch[idx]))
			return vm_fail(&s->ss, -EPROTO, "channel %u hello: wrong session or index", k);
		vm_chan_init(&s->ch[idx], &conn, idx, &s->ss.abort, s->o.io_timeout_ms);
		s->ch[idx].rx_seq = 1;	/* CHAN_HELLO was record 0 */
	}
	s->nch_init = s->nchan;
	return 0;
}

