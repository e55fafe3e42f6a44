/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wire_cut.h - a record-aware unix-socket relay between a libvfiomig
 * source and destination that loses part of the source's stream in
 * transit: it cuts the connection just before a chosen record (a cut on a
 * whole record boundary), in the middle of it, or rewrites a DEV_END to
 * announce bytes that never arrived.  cf_proxy cuts at a byte offset
 * without knowing the format (any engine); this one aims at the places
 * where a byte-offset cut is unlikely to land.  Records are forwarded
 * whole; the destination->source direction is relayed untouched.
 */
#ifndef WIRE_CUT_H
#define WIRE_CUT_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vfiomig_wire.h"

enum wc_action {
	WC_CUT_BEFORE,		/* close everything instead of forwarding it */
	WC_CUT_MID,		/* forward its header and half its payload, then close */
	WC_END_PLUS,		/* DEV_END: announce `delta` more bytes than were sent */
};

#define WC_MAX_CONN 4
#define WC_BUF (VFIOMIG_WIRE_HDR_LEN + (2u << 20))

struct wire_cut {
	char front[108];	/* the source connects here */
	char back[108];		/* the destination listens here */
	unsigned type;		/* the record type to act on... */
	unsigned nth;		/* ...at its nth occurrence (1-based) on any connection */
	int action;
	uint64_t delta;
	unsigned seen;		/* occurrences so far */
	bool fired;
	uint64_t forwarded;	/* source->destination bytes passed on */
	int lfd;
	pthread_t th;
};

static inline int wc_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return 0;
}

static inline bool wc_send(int fd, const void *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t w = send(fd, (const char *)p + done, n - done, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		done += (size_t)w;
	}
	return true;
}

/*
 * Forward the complete records at the start of @buf (@fill bytes) to @to;
 * returns the bytes consumed, or -1 once the relay must close everything.
 */
static inline ssize_t wc_records(struct wire_cut *w, uint8_t *buf, size_t fill, int to)
{
	size_t off = 0;

	while (fill - off >= VFIOMIG_WIRE_HDR_LEN) {
		uint8_t *h = buf + off;
		uint32_t len = vfiomig_get_be32(h + 8);
		size_t rec = VFIOMIG_WIRE_HDR_LEN + len;

		if (rec > WC_BUF)
			return -1;	/* not a stream this relay can follow */
		if (fill - off < rec)
			break;
		if (!w->fired && vfiomig_get_be16(h + 4) == w->type &&
		    ++w->seen == w->nth) {
			w->fired = true;
			if (w->action == WC_CUT_BEFORE)
				return -1;
			if (w->action == WC_CUT_MID) {
				size_t part = VFIOMIG_WIRE_HDR_LEN + len / 2;

				if (wc_send(to, h, part))
					w->forwarded += part;
				return -1;
			}
			if (w->action == WC_END_PLUS && len == 8) {
				uint8_t *p = h + VFIOMIG_WIRE_HDR_LEN;

				vfiomig_put_be64(p, vfiomig_get_be64(p) + w->delta);
				/* Valid framing: only the count lies. */
				vfiomig_wire_encode_hdr(h, w->type, vfiomig_get_be16(h + 6),
							len, vfiomig_get_be32(h + 12), p);
			}
		}
		if (!wc_send(to, h, rec))
			return -1;
		w->forwarded += rec;
		off += rec;
	}
	return (ssize_t)off;
}

static inline void *wc_relay(void *arg)
{
	struct wire_cut *w = arg;
	int src[WC_MAX_CONN], dst[WC_MAX_CONN], n = 0, open = 0;
	uint8_t *buf[WC_MAX_CONN];
	size_t fill[WC_MAX_CONN];
	bool cut = false;

	while (!cut) {
		struct pollfd pf[1 + 2 * WC_MAX_CONN];
		int k = 0;

		pf[k++] = (struct pollfd){ .fd = w->lfd, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			pf[k++] = (struct pollfd){ .fd = src[i], .events = POLLIN };
			pf[k++] = (struct pollfd){ .fd = dst[i], .events = POLLIN };
		}
		if (n && !open)
			break;
		if (poll(pf, k, 30000) <= 0)
			break;
		if (pf[0].revents & POLLIN && n < WC_MAX_CONN) {
			struct sockaddr_un a;
			int s = accept(w->lfd, NULL, NULL);
			int d = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

			wc_addr(w->back, &a);
			if (s >= 0 && d >= 0 && !connect(d, (struct sockaddr *)&a, sizeof(a)) &&
			    (buf[n] = malloc(WC_BUF))) {
				src[n] = s;
				dst[n] = d;
				fill[n++] = 0;
				open++;
			} else {
				if (s >= 0)
					close(s);
				if (d >= 0)
					close(d);
			}
		}
		for (int i = 0; i < n && !cut; i++) {
			bool ok = true;

			if (src[i] < 0)
				continue;
			if (pf[1 + 2 * i].revents) {
				ssize_t r = read(src[i], buf[i] + fill[i], WC_BUF - fill[i]);
				ssize_t used;

				if (r <= 0) {
					ok = false;
				} else {
					fill[i] += (size_t)r;
					used = wc_records(w, buf[i], fill[i], dst[i]);
					if (used < 0) {
						cut = true;
						break;
					}
					memmove(buf[i], buf[i] + used, fill[i] - (size_t)used);
					fill[i] -= (size_t)used;
				}
			}
			if (ok && pf[2 + 2 * i].revents) {
				uint8_t b[4096];
				ssize_t r = read(dst[i], b, sizeof(b));

				ok = r > 0 && wc_send(src[i], b, (size_t)r);
			}
			if (!ok) {
				close(src[i]);
				close(dst[i]);
				src[i] = dst[i] = -1;
				open--;
			}
		}
	}
	/* A cut: both ends see their connections end. */
	for (int i = 0; i < n; i++) {
		if (src[i] >= 0) {
			close(src[i]);
			close(dst[i]);
		}
		free(buf[i]);
	}
	return NULL;
}

static inline int wire_cut_start(struct wire_cut *w)
{
	struct sockaddr_un a;

	unlink(w->front);
	w->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->lfd < 0)
		return -errno;
	wc_addr(w->front, &a);
	if (bind(w->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(w->lfd, 16) ||
	    pthread_create(&w->th, NULL, wc_relay, w)) {
		int e = -errno;

		close(w->lfd);
		return e ? e : -EIO;
	}
	return 0;
}

static inline void wire_cut_stop(struct wire_cut *w)
{
	pthread_join(w->th, NULL);
	close(w->lfd);
	unlink(w->front);
}

#endif /* WIRE_CUT_H */
