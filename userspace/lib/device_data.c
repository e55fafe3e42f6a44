// SPDX-License-Identifier: GPL-2.0
/*
 * device_data.c - the migration data fd: read, write, precopy info, sizes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "vfio_uapi.h"

int vfiomig_device_data_fd(const struct vfiomig_device *dev)
{
	return dev->data_fd;
}

int vfiomig_device_fd(const struct vfiomig_device *dev)
{
	return dev->fd;
}

/* A slice of waiting for device data between looks at the cancel flag. */
#define CANCEL_SLICE_MS 100

void vm_device_set_cancel(struct vfiomig_device *dev, const atomic_bool *cancel)
{
	dev->cancel = cancel;
}

/*
 * A read of a device that is still producing its image sleeps in the
 * kernel until data comes, which a session abort could not interrupt.
 * Wait for readability in slices instead; a driver without poll support
 * reports the fd readable at once, and the read then blocks as before.
 */
static int wait_readable(struct vfiomig_device *dev)
{
	struct pollfd pfd = { .fd = dev->data_fd, .events = POLLIN };

	for (;;) {
		if (atomic_load(dev->cancel))
			return vm_dev_err(dev, -ECANCELED, "read data fd in %s: session aborted",
					  vfiomig_state_name(dev->state));
		int n = poll(&pfd, 1, CANCEL_SLICE_MS);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 0;
	}
}

int vfiomig_device_read(struct vfiomig_device *dev, void *buf, size_t len,
			size_t *got)
{
	ssize_t n;

	*got = 0;
	if (dev->data_fd < 0)
		return vm_dev_err(dev, -EBADF, "read in %s: no data fd",
				  vfiomig_state_name(dev->state));
	if (dev->cancel) {
		int ret = wait_readable(dev);
		if (ret)
			return ret;
	}
	do {
		n = read(dev->data_fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		/* ENOMSG/EAGAIN are flow signals, not failures: no message. */
		if (e == ENOMSG || e == EAGAIN)
			return -e;
		return vm_dev_err(dev, -e, "read data fd in %s",
				  vfiomig_state_name(dev->state));
	}
	*got = (size_t)n;
	return 0;
}

int vfiomig_device_write(struct vfiomig_device *dev, const void *buf,
			 size_t len)
{
	const char *p = buf;

	if (dev->data_fd < 0)
		return vm_dev_err(dev, -EBADF, "write in %s: no data fd",
				  vfiomig_state_name(dev->state));
	while (len) {
		ssize_t n = write(dev->data_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = dev->data_fd, .events = POLLOUT };
			poll(&pfd, 1, 1000);
			continue;
		}
		if (n < 0)
			return vm_dev_err(dev, -errno, "write data fd in %s",
					  vfiomig_state_name(dev->state));
		if (n == 0)
			return vm_dev_err(dev, -EIO, "write data fd returned 0");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vfiomig_device_precopy_v2(struct vfiomig_device *dev)
{
	struct {
		__u32 argsz;
		__u32 flags;
	} fb = { .argsz = sizeof(fb),
		 .flags = VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 };

	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &fb)) {
		int e = errno;
		dev->precopy_v2 = false;
		return vm_dev_err(dev, -e, "PRECOPY_INFOv2 opt-in refused");
	}
	dev->precopy_v2 = true;
	return 0;
}

bool vfiomig_device_precopy_v2_enabled(const struct vfiomig_device *dev)
{
	return dev->precopy_v2;
}

int vfiomig_device_precopy_info(struct vfiomig_device *dev,
				struct vfiomig_precopy_info *info)
{
	struct vm_precopy_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.argsz = sizeof(pi);
	if (dev->data_fd < 0)
		return vm_dev_err(dev, -EBADF, "precopy info in %s: no data fd",
				  vfiomig_state_name(dev->state));
	if (ioctl(dev->data_fd, VFIO_MIG_GET_PRECOPY_INFO, &pi))
		return vm_dev_err(dev, -errno, "VFIO_MIG_GET_PRECOPY_INFO in %s",
				  vfiomig_state_name(dev->state));
	info->initial_bytes = pi.initial_bytes;
	info->dirty_bytes = pi.dirty_bytes;
	/* Without the opt-in, old drivers echo `flags` back: never trust it. */
	info->reinit = dev->precopy_v2 && (pi.flags & VFIO_PRECOPY_INFO_REINIT);
	return 0;
}

int vfiomig_device_data_size(struct vfiomig_device *dev, uint64_t *bytes)
{
	struct {
		__u32 argsz;
		__u32 flags;
		__u64 stop_copy_length;
	} fb = { .argsz = sizeof(fb),
		 .flags = VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_MIG_DATA_SIZE };

	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &fb))
		return vm_dev_err(dev, -errno, "VFIO_DEVICE_FEATURE_MIG_DATA_SIZE");
	*bytes = fb.stop_copy_length;
	return 0;
}
