/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio_feature.h - the migration uAPI calls on a VFIO device fd (or a
 * data fd), one function each, shared by the mockvf selftests'
 * vfio_dev.c and the conformance suite's cf_dev.c: those differ in how
 * they open a device, not in how they talk to it.  0 or -errno.
 */
#ifndef VFIO_FEATURE_H
#define VFIO_FEATURE_H

#include <stdint.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "../../userspace/lib/vfio_uapi.h"

/*
 * vfio_fd_set_state() - VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE SET.  The
 * returned data fd goes to *@data_fd (-1 when the arc opens none or the
 * call failed), or is closed when @data_fd is NULL.  The request carries
 * data_fd = -2, so a kernel that does not write it back is visible.
 */
int vfio_fd_set_state(int fd, uint32_t state, int *data_fd);
int vfio_fd_get_state(int fd, int *state);
/* VFIO_DEVICE_FEATURE_MIGRATION: the VFIO_MIGRATION_* flags. */
int vfio_fd_mig_flags(int fd, uint64_t *flags);
/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: the stop-copy length estimate. */
int vfio_fd_data_size(int fd, uint64_t *bytes);
/* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 with @flags (SET, PROBE, ...). */
int vfio_fd_precopy_v2(int fd, uint32_t flags);
/* VFIO_MIG_GET_PRECOPY_INFO on a data fd. */
int vfio_fd_precopy_info(int data_fd, struct vm_precopy_info *info);

#endif /* VFIO_FEATURE_H */
