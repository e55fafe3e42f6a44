/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio_uapi.h - the VFIO migration v2 and iommufd uAPI bits libvfiomig uses.
 *
 * Build hosts carry old <linux/vfio.h> copies (Debian 12's lacks PRE_COPY,
 * PRECOPY_INFO and MIG_DATA_SIZE, and no header has PRECOPY_INFOv2 before
 * Linux 7.1), so every constant is defined here when missing and the
 * ioctl payloads use our own struct names, laid out exactly like the
 * kernel's, to avoid clashing with whatever the installed header defines.
 */
#ifndef VFIOMIG_VFIO_UAPI_H
#define VFIOMIG_VFIO_UAPI_H

#include <linux/types.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE
#define VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE 2
#endif
#ifndef VFIO_MIG_GET_PRECOPY_INFO
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif
/* Linux 7.1: opt-in that makes PRECOPY_INFO fill `flags` (SET, no data). */
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif
#ifndef VFIO_DEVICE_BIND_IOMMUFD
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#endif
#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

/* iommufd: only IOAS allocation is needed to attach a device. */
#define VM_IOMMUFD_TYPE ';'
#define VM_IOMMU_IOAS_ALLOC _IO(VM_IOMMUFD_TYPE, 0x81)

struct vm_iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

struct vm_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

struct vm_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

struct vm_feature_migration {
	__aligned_u64 flags;
};

struct vm_feature_mig_state {
	__u32 device_state;
	__s32 data_fd;
};

struct vm_feature_data_size {
	__aligned_u64 stop_copy_length;
};

struct vm_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};

#endif /* VFIOMIG_VFIO_UAPI_H */
