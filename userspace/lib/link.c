// SPDX-License-Identifier: GPL-2.0
/*
 * link.c - where a session's channels come from: TCP or unix-socket
 * connect/listen, or for the local mode (both endpoints in one process)
 * socketpairs or in-memory channels (mem_chan.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "session_internal.h"

enum { LINK_CONNECT, LINK_LISTEN, LINK_PAIR, LINK_MEMORY };

/* The first channel is connected before any session options exist. */
#define CONNECT_TIMEOUT_MS 30000
#define CONNECT_RETRY_MS 10

/* What both ends of an in-process link share: sockets or memory channels. */
struct vm_pairs {
	pthread_mutex_t lock;
	int fd[VFIOMIG_WIRE_MAX_CHANNELS][2];	/* -2 once handed out */
	struct vm_mem_end *mem[VFIOMIG_WIRE_MAX_CHANNELS][2];	/* not handed out */
	bool created[VFIOMIG_WIRE_MAX_CHANNELS];
	unsigned refs;
};

struct vfiomig_link {
	int kind;
	struct sockaddr_storage addr;
	socklen_t alen;
	int lfd;
	int port;
	struct vm_pairs *pairs;
	int side;
	int fds[VFIOMIG_WIRE_MAX_CHANNELS];
	struct vm_mem_end *mem[VFIOMIG_WIRE_MAX_CHANNELS];
};

static struct vfiomig_link *link_alloc(int kind)
{
	struct vfiomig_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->kind = kind;
	l->lfd = -1;
	for (int i = 0; i < VFIOMIG_WIRE_MAX_CHANNELS; i++)
		l->fds[i] = -1;
	return l;
}

/* "unix:PATH", "HOST:PORT", "[V6]:PORT" -> sockaddr. */
static int parse_addr(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len, bool passive)
{
	memset(ss, 0, sizeof(*ss));
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (!s[5] || strlen(s + 5) >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, s + 5);
		*len = sizeof(*un);
		return 0;
	}

	char host[256];
	const char *colon = strrchr(s, ':');
	if (!colon || !colon[1] || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *h = host;
	if (h[0] == '[') {
		size_t hl = strlen(h);
		if (hl < 2 || h[hl - 1] != ']')
			return -EINVAL;
		h[hl - 1] = '\0';
		h++;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	struct addrinfo *ai;
	if (getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int tune(int fd, int family)
{
	int one = 1;

	if (family != AF_UNIX) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Receives without a timeout (precopy) still end if the peer's host dies. */
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	return fd;
}

/*
 * Connect within @timeout_ms: a non-blocking connect, then poll.  A unix
 * socket whose listen backlog is full answers EAGAIN instead of
 * EINPROGRESS, so that case is retried until the deadline.
 */
static int do_connect(struct vfiomig_link *l, unsigned timeout_ms, int *out)
{
	uint64_t deadline = vfiomig_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e = 0;

	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&l->addr, l->alen)) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN && vfiomig_now_ns() < deadline) {
			poll(NULL, 0, CONNECT_RETRY_MS);
			continue;
		}
		if (e == EAGAIN)
			e = ETIMEDOUT;
		if (e != EINPROGRESS && e != EALREADY)
			goto fail;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = vfiomig_now_ns();
		int n = now < deadline ? poll(&pfd, 1, (int)((deadline - now) / 1000000ULL)) : 0;
		socklen_t sl = sizeof(e);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n ? errno : ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl))
			e = errno;
		if (e)
			goto fail;
		break;
	}
	/* Channels set their own blocking mode (channel.c). */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*out = tune(fd, l->addr.ss_family);
	return 0;
fail:
	close(fd);
	return -e;
}

int vfiomig_link_connect(const char *addr, struct vfiomig_link **out)
{
	struct vfiomig_link *l = link_alloc(LINK_CONNECT);
	int ret;

	if (!l)
		return -ENOMEM;
	ret = parse_addr(addr, &l->addr, &l->alen, false);
	if (!ret)
		ret = do_connect(l, CONNECT_TIMEOUT_MS, &l->fds[0]);
	if (ret) {
		free(l);
		return ret;
	}
	*out = l;
	return 0;
}

/*
 * A socket left by an earlier receiver that died would make bind() fail:
 * remove it, but only a socket.  Any other file at the path is somebody
 * else's, and bind() then reports EADDRINUSE.
 */
static void unlink_stale_socket(const char *path)
{
	struct stat st;

	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
}

int vfiomig_link_listen(const char *addr, struct vfiomig_link **out)
{
	struct vfiomig_link *l = link_alloc(LINK_LISTEN);
	int ret, one = 1;

	if (!l)
		return -ENOMEM;
	ret = parse_addr(addr, &l->addr, &l->alen, true);
	if (ret)
		goto fail;
	l->lfd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->lfd < 0) {
		ret = -errno;
		goto fail;
	}
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_UNIX)
		unlink_stale_socket(((struct sockaddr_un *)&l->addr)->sun_path);
	if (bind(l->lfd, (struct sockaddr *)&l->addr, l->alen) ||
	    listen(l->lfd, VFIOMIG_WIRE_MAX_CHANNELS)) {
		ret = -errno;
		goto fail;
	}
	if (l->addr.ss_family != AF_UNIX) {
		struct sockaddr_storage b;
		socklen_t bl = sizeof(b);
		getsockname(l->lfd, (struct sockaddr *)&b, &bl);
		l->port = ntohs(b.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&b)->sin6_port :
				((struct sockaddr_in *)&b)->sin_port);
	}
	*out = l;
	return 0;
fail:
	if (l->lfd >= 0)
		close(l->lfd);
	free(l);
	return ret;
}

int vfiomig_link_port(const struct vfiomig_link *link)
{
	return link->port;
}

static int pair_alloc(int kind, struct vfiomig_link **src,
		      struct vfiomig_link **dst)
{
	struct vm_pairs *p = calloc(1, sizeof(*p));
	struct vfiomig_link *a = link_alloc(kind), *b = link_alloc(kind);

	if (!p || !a || !b) {
		free(p);
		free(a);
		free(b);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	for (int i = 0; i < VFIOMIG_WIRE_MAX_CHANNELS; i++)
		p->fd[i][0] = p->fd[i][1] = -1;
	p->refs = 2;
	a->pairs = b->pairs = p;
	a->side = 0;
	b->side = 1;
	*src = a;
	*dst = b;
	return 0;
}

int vfiomig_link_pair(struct vfiomig_link **src, struct vfiomig_link **dst)
{
	return pair_alloc(LINK_PAIR, src, dst);
}

int vfiomig_link_memory(struct vfiomig_link **src, struct vfiomig_link **dst)
{
	return pair_alloc(LINK_MEMORY, src, dst);
}

static int accept_one(struct vfiomig_link *l, unsigned timeout_ms, int *out)
{
	struct pollfd pfd = { .fd = l->lfd, .events = POLLIN };
	int n;

	do {
		n = poll(&pfd, 1, (int)timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	*out = tune(fd, l->addr.ss_family);
	return 0;
}

/* Whichever end asks first creates the pair; the other end finds it. */
static int pair_channel(struct vfiomig_link *l, unsigned idx)
{
	struct vm_pairs *p = l->pairs;
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->created[idx]) {
		if (l->kind == LINK_MEMORY)
			ret = vm_mem_chan_new(p->mem[idx]);
		else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    p->fd[idx]))
			ret = -errno;
		if (!ret)
			p->created[idx] = true;
	}
	if (!ret && l->kind == LINK_MEMORY) {
		l->mem[idx] = p->mem[idx][l->side];
		p->mem[idx][l->side] = NULL;
	} else if (!ret) {
		l->fds[idx] = p->fd[idx][l->side];
		p->fd[idx][l->side] = -2;	/* handed out */
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int vm_link_channel(struct vfiomig_link *l, unsigned idx, unsigned timeout_ms,
		    struct vm_conn *conn)
{
	int ret = 0;

	if (idx >= VFIOMIG_WIRE_MAX_CHANNELS)
		return -EINVAL;
	if (l->fds[idx] < 0 && !l->mem[idx]) {
		switch (l->kind) {
		case LINK_CONNECT:
			ret = do_connect(l, timeout_ms ? timeout_ms :
						 CONNECT_TIMEOUT_MS,
					 &l->fds[idx]);
			break;
		case LINK_LISTEN:
			ret = accept_one(l, timeout_ms ? timeout_ms : 30000,
					 &l->fds[idx]);
			break;
		default:
			ret = pair_channel(l, idx);
			break;
		}
	}
	if (!ret)
		*conn = (struct vm_conn){ .fd = l->fds[idx], .mem = l->mem[idx] };
	return ret;
}

void vfiomig_link_free(struct vfiomig_link *l)
{
	if (!l)
		return;
	for (int i = 0; i < VFIOMIG_WIRE_MAX_CHANNELS; i++) {
		if (l->fds[i] >= 0)
			close(l->fds[i]);
		vm_mem_end_close(l->mem[i]);
	}
	if (l->lfd >= 0) {
		close(l->lfd);
		if (l->addr.ss_family == AF_UNIX)
			unlink(((struct sockaddr_un *)&l->addr)->sun_path);
	}
	if (l->pairs) {
		struct vm_pairs *p = l->pairs;
		pthread_mutex_lock(&p->lock);
		/* Close the other end's fds it never picked up. */
		for (int i = 0; i < VFIOMIG_WIRE_MAX_CHANNELS; i++) {
			if (p->fd[i][l->side] >= 0) {
				close(p->fd[i][l->side]);
				p->fd[i][l->side] = -2;
			}
			vm_mem_end_close(p->mem[i][l->side]);
			p->mem[i][l->side] = NULL;
		}
		unsigned refs = --p->refs;
		pthread_mutex_unlock(&p->lock);
		if (!refs) {
			for (int i = 0; i < VFIOMIG_WIRE_MAX_CHANNELS; i++)
				for (int s = 0; s < 2; s++)
					if (p->fd[i][s] >= 0)
						close(p->fd[i][s]);
			pthread_mutex_destroy(&p->lock);
			free(p);
		}
	}
	free(l);
}
