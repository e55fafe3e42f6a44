// SPDX-License-Identifier: GPL-2.0
/*
 * device_iommufd.c - the VFIO cdev + iommufd way to open a device.
 *
 * Used only when /dev/vfio/devices exists (kernels with
 * CONFIG_VFIO_DEVICE_CDEV).  The test kernel lacks it, so this path is
 * compiled everywhere but exercised only on such hosts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "vfio_uapi.h"

bool vm_iommufd_available(void)
{
	struct stat st;
	const char *off = getenv("VFIOMIG_NO_IOMMUFD");

	if (off && *off && strcmp(off, "0"))
		return false;
	return stat("/dev/vfio/devices", &st) == 0 && S_ISDIR(st.st_mode) &&
	       stat("/dev/iommu", &st) == 0;
}

/* sysfs/vfio-dev/vfioX names the char device /dev/vfio/devices/vfioX. */
static int cdev_name(const char *sysfs, char *out, size_t len)
{
	char dir[PATH_MAX + 16];
	struct dirent *de;
	DIR *d;
	int ret = -ENODEV;

	snprintf(dir, sizeof(dir), "%s/vfio-dev", sysfs);
	d = opendir(dir);
	if (!d)
		return -ENODEV;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(out, len, "/dev/vfio/devices/%s", de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

int vm_iommufd_open(struct vfiomig_ctx *ctx, const char *sysfs, int *devfd,
		    int *iommufd)
{
	char path[PATH_MAX + 32];
	int dfd = -1, ifd = -1, ret;

	ret = cdev_name(sysfs, path, sizeof(path));
	if (ret)
		return vm_ctx_err(ctx, ret, "%s: no vfio-dev cdev", sysfs);
	dfd = open(path, O_RDWR | O_CLOEXEC);
	if (dfd < 0)
		return vm_ctx_err(ctx, -errno, "open %s%s", path,
				  errno == EBUSY ? " (device in use)" : "");
	ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (ifd < 0) {
		ret = vm_ctx_err(ctx, -errno, "open /dev/iommu");
		goto fail;
	}

	struct vm_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = ifd };
	if (ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = vm_ctx_err(ctx, -errno, "%s: VFIO_DEVICE_BIND_IOMMUFD", path);
		goto fail;
	}
	struct vm_iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	if (ioctl(ifd, VM_IOMMU_IOAS_ALLOC, &alloc)) {
		ret = vm_ctx_err(ctx, -errno, "IOMMU_IOAS_ALLOC");
		goto fail;
	}
	struct vm_attach_iommufd_pt at = { .argsz = sizeof(at),
					   .pt_id = alloc.out_ioas_id };
	if (ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		ret = vm_ctx_err(ctx, -errno, "%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT", path);
		goto fail;
	}
	*devfd = dfd;
	*iommufd = ifd;
	return 0;
fail:
	if (ifd >= 0)
		close(ifd);
	close(dfd);
	return ret;
}
