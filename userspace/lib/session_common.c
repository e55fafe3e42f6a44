// SPDX-License-Identifier: GPL-2.0
/*
 * session_common.c - defaults and small helpers of both endpoints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>

#include "session_internal.h"

#define DEFAULT_CHANNEL_CAP 8
/* How long a refusing endpoint waits for the peer to read its ERROR. */
#define REFUSE_LINGER_MS 500

void vfiomig_opts_init(struct vfiomig_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->transitions = VFIOMIG_TRANSITIONS_PARALLEL;
	o->max_queued = 64ULL << 20;
	o->max_rounds = 64;
	o->threshold = UINT64_MAX;
	o->ack_mode = VFIOMIG_ACK_AUTO;
	o->reinit = true;
	o->final_retries = 3;
	o->io_timeout_ms = 30000;
	o->chunk = 1 << 20;
	o->reset_stopped = true;
}

const char *vfiomig_ack_mode_name(int mode)
{
	switch (mode) {
	case VFIOMIG_ACK_AUTO:
		return "auto";
	case VFIOMIG_ACK_OFF:
		return "off";
	case VFIOMIG_ACK_LEGACY:
		return "legacy";
	case VFIOMIG_ACK_PER_DEVICE:
		return "per-device";
	default:
		return "?";
	}
}

/* Boot ids equal => same kernel => CLOCK_MONOTONIC values are comparable. */
void vm_read_boot_id(uint8_t id[16])
{
	char s[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	memset(id, 0, 16);
	if (!f)
		return;
	if (fgets(s, sizeof(s), f)) {
		unsigned k = 0;
		for (char *p = s; *p && k < 32; p++) {
			int v;
			if (*p >= '0' && *p <= '9')
				v = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				v = *p - 'a' + 10;
			else
				continue;
			id[k / 2] = (uint8_t)(id[k / 2] | (k % 2 ? v : v << 4));
			k++;
		}
	}
	fclose(f);
}

unsigned vm_effective_channels(const struct vfiomig_opts *o, unsigned ndev)
{
	unsigned n = o->channels ? o->channels :
		     (ndev < DEFAULT_CHANNEL_CAP ? ndev : DEFAULT_CHANNEL_CAP);

	/* More channels than devices would carry nothing. */
	if (n > ndev)
		n = ndev;
	if (n > VFIOMIG_WIRE_MAX_CHANNELS)
		n = VFIOMIG_WIRE_MAX_CHANNELS;
	return n ? n : 1;
}

void vm_session_init(struct vm_session *ss, unsigned ndev)
{
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->cond, NULL);
	ss->ndev = ndev < VFIOMIG_WIRE_MAX_DEVICES ? ndev : VFIOMIG_WIRE_MAX_DEVICES;
	for (unsigned i = 0; i < ss->ndev; i++)
		pthread_cond_init(&ss->dev_cond[i], NULL);
	atomic_init(&ss->abort, false);
	/*
	 * Ready before any thread starts, so a failure on any thread may
	 * break it without racing its initialisation.
	 */
	vm_barrier_init(&ss->barrier, ndev);
}

void vm_session_destroy(struct vm_session *ss)
{
	vm_barrier_destroy(&ss->barrier);
	for (unsigned i = 0; i < ss->ndev; i++)
		pthread_cond_destroy(&ss->dev_cond[i]);
	pthread_cond_destroy(&ss->cond);
	pthread_mutex_destroy(&ss->lock);
}

int vm_session_err(struct vm_session *ss, int fallback)
{
	pthread_mutex_lock(&ss->lock);
	int err = ss->err ? ss->err : fallback;
	pthread_mutex_unlock(&ss->lock);
	return err;
}

int vm_session_failure(struct vm_session *ss, char *msg, size_t len)
{
	pthread_mutex_lock(&ss->lock);
	int err = ss->err;
	snprintf(msg, len, "%s", ss->msg);
	pthread_mutex_unlock(&ss->lock);
	return err;
}

void vm_session_note(struct vm_session *ss, const char *what)
{
	pthread_mutex_lock(&ss->lock);
	size_t l = strlen(ss->msg);
	snprintf(ss->msg + l, sizeof(ss->msg) - l, "%s", what);
	pthread_mutex_unlock(&ss->lock);
}

void vm_session_send_error(struct vm_session *ss, struct vm_chan *c)
{
	char msg[sizeof(ss->msg)];
	int err = vm_session_failure(ss, msg, sizeof(msg));

	vm_chan_send_error(c, err, msg);
}

int vm_fail(struct vm_session *ss, int err, const char *fmt, ...)
{
	va_list ap;

	/* -errno only; 0 (a failure without a code) is reported as EIO. */
	if (err >= 0 || err < -4095)
		err = -EIO;
	pthread_mutex_lock(&ss->lock);
	if (!ss->err) {
		ss->err = err;
		va_start(ap, fmt);
		vsnprintf(ss->msg, sizeof(ss->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&ss->lock);
	vm_session_abort_wake(ss);
	return err;
}

void vm_session_abort_wake(struct vm_session *ss)
{
	atomic_store(&ss->abort, true);
	pthread_mutex_lock(&ss->lock);
	pthread_cond_broadcast(&ss->cond);
	for (unsigned i = 0; i < ss->ndev; i++)
		pthread_cond_broadcast(&ss->dev_cond[i]);
	pthread_mutex_unlock(&ss->lock);
	vm_barrier_break(&ss->barrier);
}

/*
 * Both ends derive their capabilities from --switchover-ack the same way:
 * a forced mode offers only itself (per-device carries REINIT), auto
 * offers everything and lets the handshake pick.
 */
uint32_t vm_caps_for(const struct vfiomig_opts *o)
{
	switch (o->ack_mode) {
	case VFIOMIG_ACK_OFF:
		return VFIOMIG_CAP_KEEPALIVE;
	case VFIOMIG_ACK_LEGACY:
		return VFIOMIG_CAP_ACK_LEGACY | VFIOMIG_CAP_KEEPALIVE;
	case VFIOMIG_ACK_PER_DEVICE:
		return VFIOMIG_CAP_ACK_PER_DEVICE | VFIOMIG_CAP_REINIT | VFIOMIG_CAP_KEEPALIVE;
	default:
		return VFIOMIG_CAP_ACK_LEGACY | VFIOMIG_CAP_ACK_PER_DEVICE |
		       VFIOMIG_CAP_REINIT | VFIOMIG_CAP_KEEPALIVE;
	}
}

int vm_session_report_failure(struct vm_session *ss, struct vfiomig_report *r,
			      int ret, char *err, size_t errlen)
{
	char why[sizeof(ss->msg)];
	int failed = vm_session_failure(ss, why, sizeof(why));

	if (!failed)
		return ret;
	snprintf(err, errlen, "%s", why);
	vm_report_fail(r, why);
	return failed;
}

int vm_devices_ready(struct vfiomig_device **devs, unsigned n,
		     const struct vfiomig_opts *o, struct vfiomig_report *r,
		     const char *verb, char *why, size_t len)
{
	for (unsigned i = 0; i < n; i++) {
		int st, ret = vfiomig_device_get_state(devs[i], &st);

		if (ret) {
			snprintf(why, len, "%s", vfiomig_device_errmsg(devs[i]));
			return ret;
		}
		if (st == VFIOMIG_RUNNING)
			continue;
		if (o->reset_stopped) {
			ret = vfiomig_device_reset(devs[i]);
			int now = -1;
			if (!ret)
				ret = vfiomig_device_get_state(devs[i], &now);
			if (!ret && now == VFIOMIG_RUNNING) {
				snprintf(r->dev[i].reset_from, sizeof(r->dev[i].reset_from),
					 "%s", vfiomig_state_name(st));
				vm_report_event(r, "reset-at-start", (int)i, (uint64_t)st,
						vfiomig_state_name(st));
				continue;
			}
			snprintf(why, len, "dev %s: not RUNNING (%s), reset did not help: %.200s, refusing to %s",
				 vfiomig_device_name(devs[i]), vfiomig_state_name(st),
				 ret ? vfiomig_device_errmsg(devs[i]) : vfiomig_state_name(now),
				 verb);
			return ret ? ret : -EBUSY;
		}
		snprintf(why, len, "dev %s: not RUNNING (%s), refusing to %s",
			 vfiomig_device_name(devs[i]), vfiomig_state_name(st), verb);
		return -EBUSY;
	}
	return 0;
}

void vm_refuse_peer(struct vfiomig_link *link, unsigned timeout_ms, int err,
		    const char *msg)
{
	struct vm_conn conn;
	struct vm_chan c;
	atomic_bool never = false;

	if (vm_link_channel(link, 0, timeout_ms, &conn))
		return;
	vm_chan_init(&c, &conn, 0, &never, timeout_ms);
	vm_chan_send_error(&c, err, msg);
	if (conn.mem) {
		/* The peer reads the ERROR, then the end of the channel. */
		vm_chan_shutdown(&c);
		vm_chan_destroy(&c);
		return;
	}
	vm_chan_destroy(&c);
	/*
	 * Closing a TCP socket with unread input (the peer's HELLO) sends a
	 * reset, which can destroy the ERROR before the peer reads it: half
	 * close, then read until the peer closes, for a short while.
	 */
	shutdown(conn.fd, SHUT_WR);
	uint64_t end = vfiomig_now_ns() + REFUSE_LINGER_MS * 1000000ULL;
	for (uint64_t now; (now = vfiomig_now_ns()) < end;) {
		struct pollfd pfd = { .fd = conn.fd, .events = POLLIN };
		char sink[4096];

		if (poll(&pfd, 1, (int)((end - now) / 1000000ULL) + 1) <= 0 ||
		    recv(conn.fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	}
}

int vm_peer_error(struct vm_session *ss, struct vfiomig_report *r,
		  bool *peer_failed, const uint8_t *buf, uint32_t len,
		  const char *what)
{
	char m[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];
	int e = vfiomig_wire_decode_error(buf, len, m, sizeof(m));

	pthread_mutex_lock(&ss->lock);
	*peer_failed = true;
	pthread_mutex_unlock(&ss->lock);
	vm_report_event(r, "peer-error", -1, (uint64_t)-e, m);
	return vm_fail(ss, e, "%s: %s", what, m);
}

void vm_session_halt(struct vm_session *ss, const bool *peer_failed,
		     struct vm_chan *ch, unsigned nch)
{
	pthread_mutex_lock(&ss->lock);
	bool answer = !*peer_failed;
	pthread_mutex_unlock(&ss->lock);

	vm_session_abort_wake(ss);
	if (answer && nch)
		vm_session_send_error(ss, &ch[0]);
	for (unsigned c = 0; c < nch; c++)
		vm_chan_shutdown(&ch[c]);
}

void vm_session_log_abort(struct vm_session *ss, struct vfiomig_report *r)
{
	char why[sizeof(ss->msg)];
	int err = vm_session_failure(ss, why, sizeof(why));

	vm_report_event(r, "abort", -1, (uint64_t)-err, why);
}

void vm_session_recover_dev(struct vm_session *ss, struct vfiomig_report *r,
			    unsigned i, struct vfiomig_device *dev,
			    bool reset_first)
{
	char note[200];

	vm_report_set_phase(r, i, "recover");
	if ((!reset_first || !vfiomig_device_reset(dev)) &&
	    !vfiomig_device_recover(dev))
		return;
	snprintf(note, sizeof(note), "; recovery failed: %.160s",
		 vfiomig_device_errmsg(dev));
	vm_session_note(ss, note);
}
