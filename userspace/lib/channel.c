// SPDX-License-Identifier: GPL-2.0
/*
 * channel.c - framed records over one stream socket, or over an
 * in-memory channel (mem_chan.c) when both endpoints share a process.
 *
 * All waits are 100 ms slices so a session abort (another thread failing)
 * unblocks every channel within 100 ms, and a silent peer fails the
 * session after timeout_ms instead of hanging it.  Blocking on a full
 * send buffer is how the destination's memory cap slows the source.
 *
 * Sockets stay blocking with SO_SNDTIMEO/SO_RCVTIMEO as the slice, so a
 * 1 MiB record is one sendmsg() and one recv(MSG_WAITALL) that sleep in
 * the kernel until done; a non-blocking fd would wake on every socket
 * buffer's worth (about 200 KiB) and pay a poll() and a context switch
 * each time, which dominated the stop-copy data path under emulation.
 * Other fds (not sockets) fall back to non-blocking I/O and poll().
 *
 * In memory, a record is handed over whole; headers, sequence numbers,
 * CRCs and payload checksums are encoded and checked exactly as on a
 * socket, and the same slices bound every wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "session_internal.h"

#define SLICE_MS 100
/* An ERROR record is sent best effort while aborting, within this. */
#define ERROR_SEND_MS 1000

void vm_chan_init(struct vm_chan *c, const struct vm_conn *conn, unsigned idx,
		  const atomic_bool *abort, unsigned timeout_ms)
{
	int fd = conn ? conn->fd : -1;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->mem = conn ? conn->mem : NULL;
	c->idx = idx;
	c->abort = abort;
	c->timeout_ms = timeout_ms ? timeout_ms : 30000;
	pthread_mutex_init(&c->tx_lock, NULL);
	if (fd < 0)
		return;
	struct timeval slice = { .tv_usec = SLICE_MS * 1000 };

	c->timed = !setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &slice,
			       sizeof(slice)) &&
		   !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice,
			       sizeof(slice));
	if (c->timed)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	else
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

bool vm_chan_open(const struct vm_chan *c)
{
	return c->fd >= 0 || c->mem;
}

int vm_chan_prefault(struct vm_chan *c)
{
	return c->mem ? vm_mem_end_prefault(c->mem) : 0;
}

void vm_chan_destroy(struct vm_chan *c)
{
	vm_msg_free(c->rx_msg);
	c->rx_msg = NULL;
	pthread_mutex_destroy(&c->tx_lock);
}

static int wait_fd(struct vm_chan *c, short ev, unsigned *idle_ms,
		   unsigned limit_ms, bool abortable)
{
	struct pollfd pfd = { .fd = c->fd, .events = ev };

	if (c->timed || c->mem) {	/* the call itself waited one slice */
		if (abortable && c->abort && atomic_load(c->abort))
			return -ECANCELED;
		*idle_ms += SLICE_MS;
		return *idle_ms >= limit_ms ? -ETIMEDOUT : 0;
	}

	for (;;) {
		if (abortable && c->abort && atomic_load(c->abort))
			return -ECANCELED;
		int n = poll(&pfd, 1, SLICE_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
		*idle_ms += SLICE_MS;
		if (*idle_ms >= limit_ms)
			return -ETIMEDOUT;
	}
}

static int send_all(struct vm_chan *c, struct iovec *iov, int cnt,
		    unsigned limit_ms, bool abortable)
{
	unsigned idle = 0;

	while (cnt) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int ret = wait_fd(c, POLLOUT, &idle, limit_ms, abortable);
			if (ret)
				return ret;
			continue;
		}
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		idle = 0;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* In memory: the same slices, timeout and abort as a blocking socket. */
static int send_mem(struct vm_chan *c, const uint8_t *hdr, const void *payload,
		    uint32_t len, unsigned limit_ms, bool abortable)
{
	unsigned idle = 0;

	for (;;) {
		int ret = vm_mem_send(c->mem, hdr, payload, len, SLICE_MS);

		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(c, POLLOUT, &idle, limit_ms, abortable);
		if (ret)
			return ret;
	}
}

static int send_record(struct vm_chan *c, unsigned type, unsigned dev,
		       const void *payload, uint32_t len, unsigned limit_ms,
		       bool abortable)
{
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];
	struct iovec iov[2];
	int ret;

	pthread_mutex_lock(&c->tx_lock);
	vfiomig_wire_encode_hdr(hdr, type, dev, len, c->tx_seq, payload);
	if (c->mem) {
		ret = send_mem(c, hdr, payload, len, limit_ms, abortable);
	} else {
		iov[0] = (struct iovec){ hdr, sizeof(hdr) };
		iov[1] = (struct iovec){ (void *)payload, len };
		ret = send_all(c, iov, len ? 2 : 1, limit_ms, abortable);
	}
	if (!ret) {
		c->tx_seq++;
		atomic_store(&c->last_tx_ns, vfiomig_now_ns());
	}
	pthread_mutex_unlock(&c->tx_lock);
	return ret;
}

int vm_chan_send(struct vm_chan *c, unsigned type, unsigned dev,
		 const void *payload, uint32_t len)
{
	return send_record(c, type, dev, payload, len, c->timeout_ms, true);
}

int vm_chan_tx_buffer(struct vm_chan *c, uint8_t **buf)
{
	struct vm_msg *m;
	unsigned idle = 0;

	if (!c->mem)
		return -EOPNOTSUPP;
	for (;;) {
		int ret = vm_mem_msg_new(c->mem, &m, SLICE_MS);

		if (!ret)
			break;
		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(c, POLLOUT, &idle, c->timeout_ms, true);
		if (ret)
			return ret;
	}
	*buf = vm_msg_payload(m);
	return 0;
}

void vm_chan_buffer_free(uint8_t *buf)
{
	if (buf)
		vm_msg_free(vm_msg_of_payload(buf));
}

int vm_chan_send_buffer(struct vm_chan *c, unsigned type, unsigned dev,
			uint8_t *buf, uint32_t len)
{
	struct vm_msg *m = vm_msg_of_payload(buf);
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];
	unsigned idle = 0;
	int ret;

	pthread_mutex_lock(&c->tx_lock);
	vfiomig_wire_encode_hdr(hdr, type, dev, len, c->tx_seq, buf);
	for (;;) {
		ret = vm_mem_send_msg(c->mem, hdr, m, len, SLICE_MS);
		if (ret != -EAGAIN)
			break;
		ret = wait_fd(c, POLLOUT, &idle, c->timeout_ms, true);
		if (ret)
			break;
	}
	if (!ret) {
		c->tx_seq++;
		atomic_store(&c->last_tx_ns, vfiomig_now_ns());
	}
	pthread_mutex_unlock(&c->tx_lock);
	if (ret)
		vm_msg_free(m);
	return ret;
}

void vm_chan_send_error(struct vm_chan *c, int err, const char *msg)
{
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];
	uint32_t len = vfiomig_wire_encode_error(buf, err, msg);

	if (!vm_chan_open(c))
		return;
	/*
	 * This runs while aborting, so the abort flag must not cut it short;
	 * the record gets its own short deadline instead.
	 */
	send_record(c, VFIOMIG_REC_ERROR, VFIOMIG_WIRE_NODEV, buf, len,
		    ERROR_SEND_MS, false);
}

static unsigned rx_limit_ms(struct vm_chan *c)
{
	return atomic_load(&c->rx_no_timeout) ? UINT_MAX : c->timeout_ms;
}

static int recv_all(struct vm_chan *c, void *buf, size_t len)
{
	char *p = buf;
	unsigned idle = 0;

	while (len) {
		ssize_t n = recv(c->fd, p, len, c->timed ? MSG_WAITALL : 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int ret = wait_fd(c, POLLIN, &idle, rx_limit_ms(c),
					  true);
			if (ret)
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		idle = 0;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* In memory: the next record, whole; its header is checked as a socket's. */
static int recv_mem(struct vm_chan *c, uint8_t hdr[VFIOMIG_WIRE_HDR_LEN])
{
	unsigned idle = 0;

	vm_msg_free(c->rx_msg);		/* a payload nobody read */
	c->rx_msg = NULL;
	for (;;) {
		int ret = vm_mem_recv(c->mem, &c->rx_msg, SLICE_MS);

		if (!ret)
			break;
		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(c, POLLIN, &idle, rx_limit_ms(c), true);
		if (ret)
			return ret;
	}
	memcpy(hdr, vm_msg_bytes(c->rx_msg), VFIOMIG_WIRE_HDR_LEN);
	return 0;
}

int vm_chan_recv_hdr(struct vm_chan *c, struct vfiomig_wire_hdr *h)
{
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];
	int ret = c->mem ? recv_mem(c, hdr) : recv_all(c, hdr, sizeof(hdr));

	if (ret)
		return ret;
	ret = vfiomig_wire_decode_hdr(hdr, c->rx_seq, h);
	if (!ret)
		c->rx_seq++;
	return ret;
}

int vm_chan_recv_payload_unchecked(struct vm_chan *c,
				   const struct vfiomig_wire_hdr *h, void *buf)
{
	if (c->mem) {
		if (!c->rx_msg)
			return -EPROTO;
		if (h->len)
			memcpy(buf, vm_msg_payload(c->rx_msg), h->len);
		vm_msg_free(c->rx_msg);
		c->rx_msg = NULL;
		return 0;
	}
	return h->len ? recv_all(c, buf, h->len) : 0;
}

int vm_chan_recv_payload(struct vm_chan *c, const struct vfiomig_wire_hdr *h,
			 void *buf)
{
	int ret = vm_chan_recv_payload_unchecked(c, h, buf);

	return ret ? ret : vfiomig_wire_check_payload(h, buf);
}

int vm_chan_take_payload_unchecked(struct vm_chan *c, uint8_t **data,
				   struct vm_msg **msg)
{
	struct vm_msg *m = c->rx_msg;

	if (!c->mem)
		return -EOPNOTSUPP;
	if (!m)
		return -EPROTO;
	c->rx_msg = NULL;
	*data = vm_msg_payload(m);
	*msg = m;
	return 0;
}

void vm_chan_shutdown(struct vm_chan *c)
{
	if (c->mem)
		vm_mem_end_shutdown(c->mem);
	else if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}
