// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_dev.c - legacy-path VFIO device access and migration helpers for the
 * mockvf selftests.
 */
#define _GNU_SOURCE
#include "vfio_dev.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
	"PRE_COPY", "PRE_COPY_P2P",
};

const char *vfio_state_name(int state)
{
	if (state < 0 || state >= (int)(sizeof(state_names) /
					 sizeof(state_names[0])))
		return "?";
	return state_names[state];
}

uint64_t vfio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int vfio_dev_open(const char *uuid, struct vfio_dev *d)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int ret;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	ret = mockvf_group_path(uuid, path, sizeof(path));
	if (ret)
		return ret;
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		goto err;
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		goto err;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st))
		goto err;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		goto err;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		goto err;
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (d->fd < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vfio_dev_close(d);
	return ret;
}

void vfio_dev_close(struct vfio_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->fd = d->group = d->container = -1;
}

/* The uAPI calls themselves are vfio_feature.c's, shared with cf_dev.c. */
int vfio_dev_set_state(struct vfio_dev *d, int state, int *data_fd)
{
	return vfio_fd_set_state(d->fd, (uint32_t)state, data_fd);
}

int vfio_dev_get_state(struct vfio_dev *d, int *state)
{
	return vfio_fd_get_state(d->fd, state);
}

int vfio_dev_mig_flags(struct vfio_dev *d, uint64_t *flags)
{
	return vfio_fd_mig_flags(d->fd, flags);
}

int vfio_dev_data_size(struct vfio_dev *d, uint64_t *bytes)
{
	return vfio_fd_data_size(d->fd, bytes);
}

int vfio_dev_reset(struct vfio_dev *d)
{
	return ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

int vfio_dev_precopy_v2(struct vfio_dev *d)
{
	return vfio_fd_precopy_v2(d->fd, VFIO_DEVICE_FEATURE_SET);
}

int vfio_dev_precopy_info(int data_fd, struct vm_precopy_info *info)
{
	return vfio_fd_precopy_info(data_fd, info);
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int mbuf_reserve(struct mbuf *b, size_t more)
{
	uint8_t *p;
	size_t cap;

	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int vfio_read_stream(int fd, struct mbuf *b)
{
	for (;;) {
		ssize_t n;

		if (mbuf_reserve(b, 65536))
			return -ENOMEM;
		n = read(fd, b->p + b->len, 65536);
		if (n > 0) {
			b->len += n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return -errno;
	}
}

int vfio_write_all(int fd, const void *buf, size_t len, size_t piece)
{
	const uint8_t *p = buf;

	while (len) {
		size_t c = len < piece ? len : piece;
		ssize_t n = write(fd, p, c);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- harness-level helpers ---- */

void mvt_require(void)
{
	int ret = mockvf_load();

	if (ret == -ENOENT)
		SKIP("mockvf.ko not built (%s)", mockvf_ko_path());
	if (ret)
		SKIP("mockvf cannot be loaded here: %s", strerror(-ret));
	if (access("/sys/class/mdev_bus/mockvf", F_OK))
		SKIP("mockvf loaded but /sys/class/mdev_bus/mockvf is missing");
}

static void remove_dev(void *p)
{
	char *uuid = p;
	int ret = mockvf_remove(uuid);

	if (ret)
		mt_log("removing %s: %s", uuid, strerror(-ret));
	free(uuid);
}

void mvt_create(const char *profile, char uuid[MOCKVF_UUID_LEN])
{
	int ret = mockvf_create(profile, uuid);

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "create %s: %s", profile,
			     strerror(-ret));
		mt_abort_test();
	}
	mt_defer(remove_dev, strdup(uuid));
}

static void close_dev(void *p)
{
	vfio_dev_close(p);
	free(p);
}

struct vfio_dev *mvt_open(const char *uuid)
{
	struct vfio_dev *d = calloc(1, sizeof(*d));
	int ret;

	ASSERT_TRUE(d != NULL);
	ret = vfio_dev_open(uuid, d);
	if (ret) {
		free(d);
		mt_fail_here(__FILE__, __LINE__, "open %s: %s", uuid,
			     strerror(-ret));
		mt_abort_test();
	}
	mt_defer(close_dev, d);
	return d;
}

int mvt_goto(struct vfio_dev *d, int state)
{
	int fd = -1;
	int ret = vfio_dev_set_state(d, state, &fd);

	if (ret) {
		char *log = mvt_read_log(d->uuid);
		size_t n = strlen(log);
		const char *tail = n > 600 ? log + n - 600 : log;

		mt_fail_here(__FILE__, __LINE__, "%s -> %s: %s; log tail:\n%s",
			     d->uuid, vfio_state_name(state), strerror(-ret),
			     tail);
		free(log);
		mt_abort_test();
	}
	return fd;
}

int mvt_state(struct vfio_dev *d)
{
	int st = -1;

	ASSERT_EQ(0, vfio_dev_get_state(d, &st));
	return st;
}

const char *mvt_attr(const char *uuid, const char *attr)
{
	static char buf[4096];
	int ret = mockvf_attr_read(uuid, attr, buf, sizeof(buf));

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "read %s/%s: %s", uuid, attr,
			     strerror(-ret));
		mt_abort_test();
	}
	return buf;
}

unsigned long long mvt_attr_u64(const char *uuid, const char *attr)
{
	unsigned long long v = 0;

	ASSERT_EQ(0, mockvf_attr_u64(uuid, attr, &v));
	return v;
}

void mvt_set(const char *uuid, const char *attr, const char *val)
{
	int ret = mockvf_attr_write(uuid, attr, val);

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "write '%s' to %s: %s", val,
			     attr, strerror(-ret));
		mt_abort_test();
	}
}

char *mvt_read_log(const char *uuid)
{
	char path[256];
	struct mbuf b = { 0 };
	int fd, ret;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mockvf/log",
		 uuid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ret = vfio_read_stream(fd, &b);
	close(fd);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, mbuf_reserve(&b, 1));
	b.p[b.len] = '\0';
	return (char *)b.p;
}

int mvt_parse_log(const char *text, struct mvt_log_ent *out, int max)
{
	int n = 0;

	while (*text && n < max) {
		const char *nl = strchr(text, '\n');
		struct mvt_log_ent *e = &out[n];
		unsigned long long s, en;
		int f;

		e->tag[0] = '\0';
		f = sscanf(text, "%llu %llu %15s %15s %d %15s", &s, &en,
			   e->from, e->to, &e->ret, e->tag);
		if (f >= 5) {
			e->start = s;
			e->end = en;
			n++;
		}
		if (!nl)
			break;
		text = nl + 1;
	}
	return n;
}

void mvt_migrate(struct vfio_dev *src, struct vfio_dev *dst, int precopy,
		 char *digest)
{
	struct mbuf b = { 0 };
	int sfd, rfd, ret;

	if (precopy) {
		sfd = mvt_goto(src, MT_PRE_COPY);
		ASSERT_GE(sfd, 0);
		/*
		 * Until the initial data is read: a 6.12 mlx5-like device
		 * (cx7) returns ENOMSG while its SAVE is still in flight;
		 * PRECOPY_INFO waits for it.
		 */
		for (;;) {
			struct vm_precopy_info pi = { 0 };

			ret = vfio_read_stream(sfd, &b);
			ASSERT_EQ(-ENOMSG, ret);
			ASSERT_EQ(0, vfio_dev_precopy_info(sfd, &pi));
			if (!pi.initial_bytes)
				break;
		}
		ASSERT_EQ(-1, mvt_goto(src, MT_PRE_COPY_P2P));
		ASSERT_EQ(-1, mvt_goto(src, MT_STOP_COPY));
	} else {
		sfd = mvt_goto(src, MT_STOP_COPY);
		ASSERT_GE(sfd, 0);
	}
	if (digest)
		snprintf(digest, 17, "%s", mvt_attr(src->uuid, "digest"));
	ASSERT_EQ(0, vfio_read_stream(sfd, &b));
	close(sfd);

	rfd = mvt_goto(dst, MT_RESUMING);
	ASSERT_GE(rfd, 0);
	ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 100000));
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	close(rfd);
	ASSERT_EQ(-1, mvt_goto(src, MT_STOP));
	mbuf_free(&b);
}

int mvt_copy_fd(int from, int to, uint64_t *bytes)
{
	static __thread uint8_t buf[1 << 20];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		int ret;

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = vfio_write_all(to, buf, n, n);
		if (ret)
			return ret;
		if (bytes)
			*bytes += n;
	}
}

#define STEP(m, name, expr) do {					\
	int r_ = (expr);						\
	if (r_) {							\
		(m)->what = (name);					\
		return r_;						\
	}								\
} while (0)

int mvt_mig_prepare(struct mvt_mig *m)
{
	int ret;

	m->sfd = m->rfd = -1;
	STEP(m, "dst RESUMING",
	     vfio_dev_set_state(m->dst, MT_RESUMING, &m->rfd));
	if (!m->precopy)
		return 0;
	STEP(m, "src PRE_COPY",
	     vfio_dev_set_state(m->src, MT_PRE_COPY, &m->sfd));
	/* the initial data (see mvt_migrate() on ENOMSG and in-flight SAVEs) */
	for (;;) {
		struct vm_precopy_info pi = { 0 };

		ret = mvt_copy_fd(m->sfd, m->rfd, &m->bytes);
		if (ret != -ENOMSG) {
			m->what = "precopy data";
			return ret ? ret : -EPROTO;
		}
		STEP(m, "precopy info", vfio_dev_precopy_info(m->sfd, &pi));
		if (!pi.initial_bytes)
			return 0;
	}
}

int mvt_mig_quiesce(struct mvt_mig *m)
{
	if (m->precopy)
		STEP(m, "src PRE_COPY_P2P",
		     vfio_dev_set_state(m->src, MT_PRE_COPY_P2P, NULL));
	return 0;
}

int mvt_mig_switchover(struct mvt_mig *m)
{
	int fd = -1;

	STEP(m, "src STOP_COPY",
	     vfio_dev_set_state(m->src, MT_STOP_COPY, &fd));
	if (fd >= 0) {
		if (m->sfd >= 0)
			close(m->sfd);
		m->sfd = fd;
	}
	STEP(m, "stop-copy data", mvt_copy_fd(m->sfd, m->rfd, &m->bytes));
	STEP(m, "dst RUNNING",
	     vfio_dev_set_state(m->dst, MT_RUNNING, NULL));
	return 0;
}

int mvt_mig_finish(struct mvt_mig *m)
{
	if (m->sfd >= 0)
		close(m->sfd);
	if (m->rfd >= 0)
		close(m->rfd);
	m->sfd = m->rfd = -1;
	STEP(m, "src STOP", vfio_dev_set_state(m->src, MT_STOP, NULL));
	return 0;
}
