// SPDX-License-Identifier: GPL-2.0
/*
 * fake_device.c - the kernel side of fake_device.h, behind --wrap=ioctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake_device.h"
#include "../../lib/vfio_uapi.h"

#define FAKE_MAX 16

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

static struct fake_device *fakes[FAKE_MAX];
static pthread_mutex_t fakes_lock = PTHREAD_MUTEX_INITIALIZER;

struct feature_buf {
	__u32 argsz;
	__u32 flags;
	__u64 data[4];
};

/*
 * Pump threads end when the engine closes its end of the stream, which it
 * does after the ioctl that ends the stream returns: they are joined only
 * when the fake is destroyed, never inside an ioctl.
 */
static void *feed(void *arg)
{
	struct fake_pump *p = arg;
	uint8_t buf[4096];
	size_t left = p->f->image, off = 0;

	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)(off + i);
		ssize_t w = write(p->fd, buf, n);
		if (w <= 0)
			break;	/* the engine closed the stream */
		left -= (size_t)w;
		off += (size_t)w;
	}
	close(p->fd);
	return NULL;
}

static void *drain(void *arg)
{
	struct fake_pump *p = arg;
	uint8_t buf[65536];
	ssize_t n;

	pthread_mutex_lock(&p->f->lock);
	unsigned delay = p->f->resume_delay_us;
	pthread_mutex_unlock(&p->f->lock);
	while ((n = read(p->fd, buf, delay ? 4096 : sizeof(buf))) > 0) {
		pthread_mutex_lock(&p->f->lock);
		p->f->resumed += (uint64_t)n;
		pthread_mutex_unlock(&p->f->lock);
		if (delay)
			usleep(delay);
	}
	close(p->fd);
	return NULL;
}

/* A new stream for an arc into @to; returns the engine's fd or -errno. */
static int open_stream(struct fake_device *f, int to)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	if (to != VFIOMIG_STOP_COPY && to != VFIOMIG_RESUMING) {
		/* Precopy: nothing more for now (a read gives 0). */
		close(p[1]);
		return p[0];
	}
	if (f->npumps == FAKE_PUMPS_MAX)
		goto fail;
	struct fake_pump *pp = &f->pumps[f->npumps];
	bool resume = to == VFIOMIG_RESUMING;

	pp->f = f;
	pp->fd = resume ? p[0] : p[1];
	if (pthread_create(&pp->th, NULL, resume ? drain : feed, pp))
		goto fail;
	f->npumps++;
	return resume ? p[1] : p[0];
fail:
	close(p[0]);
	close(p[1]);
	return -EAGAIN;
}

static bool opens_stream(int from, int to)
{
	return (to == VFIOMIG_PRE_COPY && from == VFIOMIG_RUNNING) ||
	       (to == VFIOMIG_PRE_COPY_P2P && from == VFIOMIG_RUNNING_P2P) ||
	       (to == VFIOMIG_STOP_COPY && from == VFIOMIG_STOP) ||
	       to == VFIOMIG_RESUMING;
}

static int set_state(struct fake_device *f, struct vm_feature_mig_state *st)
{
	int from = f->state, to = (int)st->device_state;

	if (f->nlog < FAKE_LOG_MAX)
		f->log_to[f->nlog++] = to;
	st->data_fd = -1;
	if (!vfiomig_arc_allowed(f->dev.flags, from, to))
		return -EINVAL;
	if (to == f->fail_into) {
		f->state = VFIOMIG_ERROR;
		return -EIO;
	}
	if (opens_stream(from, to)) {
		int fd = open_stream(f, to);
		if (fd < 0)
			return fd;
		st->data_fd = fd;
	}
	f->state = to;
	return 0;
}

static int feature(struct fake_device *f, struct feature_buf *fb)
{
	unsigned idx = fb->flags & 0xffff;
	bool get = fb->flags & VFIO_DEVICE_FEATURE_GET;

	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
		struct vm_feature_mig_state *st = (void *)fb->data;
		if (get) {
			st->device_state = (__u32)f->state;
			return 0;
		}
		return set_state(f, st);
	}
	case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
		((struct vm_feature_data_size *)fb->data)->stop_copy_length = f->image;
		return 0;
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		return 0;
	default:
		return -ENOTTY;
	}
}

static int fake_ioctl(struct fake_device *f, bool data_fd, unsigned long req,
		      void *arg)
{
	if (data_fd) {
		struct vm_precopy_info *pi = arg;
		if (req != VFIO_MIG_GET_PRECOPY_INFO)
			return -ENOTTY;
		pi->initial_bytes = pi->dirty_bytes = 0;
		pi->flags = 0;
		return 0;
	}
	if (req == VFIO_DEVICE_RESET) {
		f->state = VFIOMIG_RUNNING;
		return 0;
	}
	if (req == VFIO_DEVICE_FEATURE)
		return feature(f, arg);
	return -ENOTTY;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	pthread_mutex_lock(&fakes_lock);
	for (unsigned i = 0; i < FAKE_MAX; i++) {
		struct fake_device *f = fakes[i];
		if (!f || (f->dev.fd != fd && f->dev.data_fd != fd))
			continue;
		pthread_mutex_unlock(&fakes_lock);
		pthread_mutex_lock(&f->lock);
		int ret = fake_ioctl(f, f->dev.fd != fd, req, arg);
		pthread_mutex_unlock(&f->lock);
		if (ret < 0) {
			errno = -ret;
			return -1;
		}
		return ret;
	}
	pthread_mutex_unlock(&fakes_lock);
	return __real_ioctl(fd, req, arg);
}

void fake_device_init(struct fake_device *f, const char *name, uint64_t flags,
		      size_t image)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->dev.name, sizeof(f->dev.name), "%s", name);
	f->dev.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	f->dev.group = -1;
	f->dev.iommufd = -1;
	f->dev.flags = flags;
	f->dev.state = -1;
	f->dev.data_fd = -1;
	f->state = VFIOMIG_RUNNING;
	f->image = image;
	f->fail_into = -1;
	pthread_mutex_lock(&fakes_lock);
	for (unsigned i = 0; i < FAKE_MAX; i++)
		if (!fakes[i]) {
			fakes[i] = f;
			break;
		}
	pthread_mutex_unlock(&fakes_lock);
}

void fake_device_destroy(struct fake_device *f)
{
	pthread_mutex_lock(&fakes_lock);
	for (unsigned i = 0; i < FAKE_MAX; i++)
		if (fakes[i] == f)
			fakes[i] = NULL;
	pthread_mutex_unlock(&fakes_lock);
	if (f->dev.data_fd >= 0)
		close(f->dev.data_fd);	/* ends a pump blocked on it */
	f->dev.data_fd = -1;
	for (unsigned i = 0; i < f->npumps; i++)
		pthread_join(f->pumps[i].th, NULL);
	close(f->dev.fd);
	pthread_mutex_destroy(&f->lock);
}

bool fake_device_entered(struct fake_device *f, int state)
{
	bool seen = false;

	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < f->nlog; i++)
		seen |= f->log_to[i] == state;
	pthread_mutex_unlock(&f->lock);
	return seen;
}

int fake_device_state(struct fake_device *f)
{
	pthread_mutex_lock(&f->lock);
	int st = f->state;
	pthread_mutex_unlock(&f->lock);
	return st;
}
