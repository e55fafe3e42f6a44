/* SPDX-License-Identifier: GPL-2.0 */
/*
 * internal.h - structures shared by the libvfiomig device-layer files.
 */
#ifndef VFIOMIG_INTERNAL_H
#define VFIOMIG_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vfiomig.h"

#define VM_ERRLEN 256
#define VM_MAX_GROUPS 64

/* One open /dev/vfio/N, shared by all devices of the group. */
struct vm_group {
	int id;
	int fd;
	int container;		/* index into ctx->containers */
	unsigned refs;
};

struct vfiomig_ctx {
	pthread_mutex_t lock;
	struct vm_group groups[VM_MAX_GROUPS];
	unsigned ngroups;
	int containers[VM_MAX_GROUPS];	/* container fds; -1 = free slot */
	unsigned container_refs[VM_MAX_GROUPS];
	char err[VM_ERRLEN];
};

struct vfiomig_device {
	struct vfiomig_ctx *ctx;
	char name[64];
	int fd;			/* device fd */
	int group;		/* index into ctx->groups, -1 for iommufd */
	int iommufd;		/* -1 for the group/container path */
	uint64_t flags;		/* VFIOMIG_FLAG_* */
	int state;		/* cached, -1 unknown */
	int data_fd;
	bool precopy_v2;
	vfiomig_transition_fn obs;
	void *obs_arg;
	const atomic_bool *cancel;	/* set: data fd reads give up (-ECANCELED) */
	char err[VM_ERRLEN];
};

/*
 * vm_device_set_cancel() - while @cancel is non-NULL, a data fd read waits
 * in poll() slices and returns -ECANCELED once *@cancel is true, so a
 * session abort ends a read on a device that produces no data.  NULL
 * restores the plain blocking read.
 */
void vm_device_set_cancel(struct vfiomig_device *dev, const atomic_bool *cancel);

/*
 * Record "dev NAME: what: strerror (err)" in dev->err and return @err, a
 * -errno like every error in the library.
 */
int vm_dev_err(struct vfiomig_device *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same for the context (open errors). */
int vm_ctx_err(struct vfiomig_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Group/container management (ctx_container.c), called with ctx->lock held. */
int vm_group_get(struct vfiomig_ctx *ctx, int group_id, int *idx);
void vm_group_put(struct vfiomig_ctx *ctx, int idx);

/* iommufd cdev path (device_iommufd.c). */
bool vm_iommufd_available(void);
int vm_iommufd_open(struct vfiomig_ctx *ctx, const char *sysfs_dev,
		    int *devfd, int *iommufd);

/* Migration feature probe (device_state.c). */
int vm_probe_flags(struct vfiomig_device *dev);

#endif /* VFIOMIG_INTERNAL_H */
