// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_feature.c - the migration uAPI calls on a device or data fd
 * (vfio_feature.h).
 */
#define _GNU_SOURCE
#include "vfio_feature.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct feat_state {
	struct vfio_device_feature hdr;
	struct vfio_device_feature_mig_state st;
};

int vfio_fd_set_state(int fd, uint32_t state, int *data_fd)
{
	struct feat_state f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_SET |
			     VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		.st.device_state = state,
		.st.data_fd = -2,
	};
	int ret = ioctl(fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;

	if (data_fd)
		*data_fd = ret ? -1 : f.st.data_fd;
	else if (!ret && f.st.data_fd >= 0)
		close(f.st.data_fd);
	return ret;
}

int vfio_fd_get_state(int fd, int *state)
{
	struct feat_state f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
	};

	if (ioctl(fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*state = f.st.device_state;
	return 0;
}

int vfio_fd_mig_flags(int fd, uint64_t *flags)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_migration mig;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIGRATION,
	};

	if (ioctl(fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*flags = f.mig.flags;
	return 0;
}

int vfio_fd_data_size(int fd, uint64_t *bytes)
{
	struct {
		struct vfio_device_feature hdr;
		__aligned_u64 stop_copy_length;
	} f = {
		.hdr.argsz = sizeof(f),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
	};

	if (ioctl(fd, VFIO_DEVICE_FEATURE, &f))
		return -errno;
	*bytes = f.stop_copy_length;
	return 0;
}

int vfio_fd_precopy_v2(int fd, uint32_t flags)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = flags | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
	};

	return ioctl(fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

int vfio_fd_precopy_info(int data_fd, struct vm_precopy_info *info)
{
	info->argsz = sizeof(*info);
	return ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, info) ? -errno : 0;
}
