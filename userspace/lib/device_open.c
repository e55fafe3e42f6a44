// SPDX-License-Identifier: GPL-2.0
/*
 * device_open.c - from a device name to an open VFIO device fd.
 *
 * name -> /sys/bus/{mdev,pci}/devices/NAME -> iommu_group -> /dev/vfio/N
 * -> shared container -> VFIO_GROUP_GET_DEVICE_FD; or the iommufd cdev
 * path when the kernel has /dev/vfio/devices.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "vfio_uapi.h"

static bool is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* "3b:00.1" or "0000:3b:00.1" -> sysfs path; -EINVAL if not PCI-shaped. */
static int pci_path(const char *s, char *out, size_t len)
{
	unsigned dom = 0, bus, dev, fn;
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4 ||
	    (dom = 0, sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3)) {
		snprintf(out, len, "/sys/bus/pci/devices/%04x:%02x:%02x.%x",
			 dom, bus, dev, fn);
		return 0;
	}
	return -EINVAL;
}

static int resolve_sysfs(struct vfiomig_ctx *ctx, const char *name, char *out,
			 size_t len)
{
	struct stat st;

	if (is_uuid(name))
		snprintf(out, len, "/sys/bus/mdev/devices/%s", name);
	else if (pci_path(name, out, len))
		return vm_ctx_err(ctx, -EINVAL,
				  "%s: not an mdev UUID or PCI address", name);
	if (stat(out, &st))
		return vm_ctx_err(ctx, -ENODEV, "%s: no such device (%s)", name, out);
	return 0;
}

static int group_id(struct vfiomig_ctx *ctx, const char *name,
		    const char *sysfs, int *gid)
{
	char link[PATH_MAX + 16], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/iommu_group", sysfs);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return vm_ctx_err(ctx, errno == ENOENT ? -ENODEV : -errno,
				  "%s: no IOMMU group (is it bound to a VFIO driver?)",
				  name);
	target[n] = '\0';
	char *base = basename(target);
	char *end;
	long v = strtol(base, &end, 10);
	if (*end || v < 0)
		return vm_ctx_err(ctx, -EINVAL, "%s: odd iommu_group link %s", name,
				  target);
	*gid = (int)v;
	return 0;
}

static int open_legacy(struct vfiomig_ctx *ctx, struct vfiomig_device *dev,
		       const char *sysfs)
{
	int gid = -1, gidx = -1, ret;

	ret = group_id(ctx, dev->name, sysfs, &gid);
	if (ret)
		return ret;
	pthread_mutex_lock(&ctx->lock);
	ret = vm_group_get(ctx, gid, &gidx);
	if (ret) {
		pthread_mutex_unlock(&ctx->lock);
		return ret;
	}
	/* The kernel wants the device name as the group knows it. */
	char devname[PATH_MAX];
	snprintf(devname, sizeof(devname), "%s", sysfs);
	int fd = ioctl(ctx->groups[gidx].fd, VFIO_GROUP_GET_DEVICE_FD,
		       basename(devname));
	if (fd < 0) {
		int e = errno;
		vm_group_put(ctx, gidx);
		pthread_mutex_unlock(&ctx->lock);
		return vm_ctx_err(ctx, -e, "%s: VFIO_GROUP_GET_DEVICE_FD%s", dev->name,
				  e == EBUSY ? " (device already open)" : "");
	}
	pthread_mutex_unlock(&ctx->lock);
	dev->fd = fd;
	dev->group = gidx;
	return 0;
}

int vfiomig_device_open(struct vfiomig_ctx *ctx, const char *name,
			struct vfiomig_device **out)
{
	char sysfs[PATH_MAX];
	struct vfiomig_device *dev;
	int ret;

	ctx->err[0] = '\0';
	if (strlen(name) >= sizeof(dev->name))
		return vm_ctx_err(ctx, -ENAMETOOLONG, "device name too long");
	ret = resolve_sysfs(ctx, name, sysfs, sizeof(sysfs));
	if (ret)
		return ret;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->ctx = ctx;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->fd = dev->data_fd = dev->iommufd = -1;
	dev->group = -1;
	dev->state = -1;

	if (vm_iommufd_available())
		ret = vm_iommufd_open(ctx, sysfs, &dev->fd, &dev->iommufd);
	else
		ret = open_legacy(ctx, dev, sysfs);
	if (ret) {
		free(dev);
		return ret;
	}
	ret = vm_probe_flags(dev);
	if (ret) {
		snprintf(ctx->err, sizeof(ctx->err), "%s", dev->err);
		vfiomig_device_close(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

void vfiomig_device_close(struct vfiomig_device *dev)
{
	if (!dev)
		return;
	if (dev->data_fd >= 0)
		close(dev->data_fd);
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->iommufd >= 0)
		close(dev->iommufd);
	if (dev->group >= 0) {
		pthread_mutex_lock(&dev->ctx->lock);
		vm_group_put(dev->ctx, dev->group);
		pthread_mutex_unlock(&dev->ctx->lock);
	}
	free(dev);
}

const char *vfiomig_device_name(const struct vfiomig_device *dev)
{
	return dev->name;
}

uint64_t vfiomig_device_flags(const struct vfiomig_device *dev)
{
	return dev->flags;
}
