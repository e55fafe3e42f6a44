/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mockvf_dev.h - create, steer and remove mockvf devices from tests.
 *
 * Thin wrappers over the sysfs ABI in docs/mockvf.md.  All functions return
 * 0 or a negative errno.
 */
#ifndef VFIO_MIGTEST_MOCKVF_DEV_H
#define VFIO_MIGTEST_MOCKVF_DEV_H

#include <stddef.h>

#define MOCKVF_UUID_LEN 37	/* 36 characters and a NUL */

/* Path of mockvf.ko in the build tree (MOCKVF_KO overrides). */
const char *mockvf_ko_path(void);

/*
 * mockvf_load() - make sure vfio, vfio_iommu_type1, mdev and mockvf are
 * loaded (through the libkmod loader).  -ENOENT when mockvf.ko was not built.
 */
int mockvf_load(void);

/* mockvf_unload() - remove mockvf (fails with -EBUSY while devices exist). */
int mockvf_unload(void);

/* mockvf_create() - create a device of @profile ("tiny", "cx7", ...). */
int mockvf_create(const char *profile, char uuid[MOCKVF_UUID_LEN]);

/* mockvf_remove() - remove the device @uuid. */
int mockvf_remove(const char *uuid);

/* mockvf_attr_read() - read mockvf/@attr of @uuid, trailing newline cut. */
int mockvf_attr_read(const char *uuid, const char *attr, char *buf,
		     size_t len);

/* mockvf_attr_write() - write @val to mockvf/@attr of @uuid. */
int mockvf_attr_write(const char *uuid, const char *attr, const char *val);

/* mockvf_attr_u64() - read a numeric attribute (decimal or 0x hex). */
int mockvf_attr_u64(const char *uuid, const char *attr,
		    unsigned long long *val);

/* mockvf_group_path() - "/dev/vfio/N" of the device's IOMMU group. */
int mockvf_group_path(const char *uuid, char *buf, size_t len);

#endif /* VFIO_MIGTEST_MOCKVF_DEV_H */
