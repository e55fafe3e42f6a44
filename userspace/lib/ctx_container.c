// SPDX-License-Identifier: GPL-2.0
/*
 * ctx_container.c - the context, its VFIO groups and TYPE1v2 containers.
 *
 * A group fd can be opened only once system-wide, so all devices of one
 * group share it; and every group joins the first container that accepts
 * it, so a local migration of N devices costs one container, not N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "vfio_uapi.h"

int vfiomig_ctx_new(struct vfiomig_ctx **out)
{
	struct vfiomig_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	pthread_mutex_init(&ctx->lock, NULL);
	for (int i = 0; i < VM_MAX_GROUPS; i++)
		ctx->containers[i] = -1;
	*out = ctx;
	return 0;
}

void vfiomig_ctx_free(struct vfiomig_ctx *ctx)
{
	if (!ctx)
		return;
	for (unsigned i = 0; i < ctx->ngroups; i++)
		if (ctx->groups[i].refs && ctx->groups[i].fd >= 0)
			close(ctx->groups[i].fd);
	for (int i = 0; i < VM_MAX_GROUPS; i++)
		if (ctx->containers[i] >= 0)
			close(ctx->containers[i]);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static int container_new(struct vfiomig_ctx *ctx, int *slot)
{
	int fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return vm_ctx_err(ctx, -errno, "open /dev/vfio/vfio");
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		close(fd);
		return vm_ctx_err(ctx, -EINVAL, "VFIO API version mismatch");
	}
	if (ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		close(fd);
		return vm_ctx_err(ctx, -EOPNOTSUPP, "container lacks TYPE1v2");
	}
	for (int i = 0; i < VM_MAX_GROUPS; i++) {
		if (ctx->containers[i] < 0) {
			ctx->containers[i] = fd;
			ctx->container_refs[i] = 0;
			*slot = i;
			return 0;
		}
	}
	close(fd);
	return vm_ctx_err(ctx, -ENOSPC, "too many containers");
}

/* Attach @gfd to an existing container or a new one; sets IOMMU on first use. */
static int group_attach(struct vfiomig_ctx *ctx, int gfd, int gid, int *slot)
{
	for (int i = 0; i < VM_MAX_GROUPS; i++) {
		int cfd = ctx->containers[i];

		if (cfd < 0)
			continue;
		if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd) == 0) {
			ctx->container_refs[i]++;
			*slot = i;
			return 0;
		}
	}

	int s = 0, ret = container_new(ctx, &s);
	if (ret)
		return ret;
	int cfd = ctx->containers[s];
	if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd)) {
		ret = vm_ctx_err(ctx, -errno, "group %d: VFIO_GROUP_SET_CONTAINER", gid);
		goto drop;
	}
	/* The IOMMU model can only be set once a group is attached. */
	if (ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		ret = vm_ctx_err(ctx, -errno, "group %d: VFIO_SET_IOMMU TYPE1v2", gid);
		ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
		goto drop;
	}
	ctx->container_refs[s] = 1;
	*slot = s;
	return 0;
drop:
	close(cfd);
	ctx->containers[s] = -1;
	return ret;
}

int vm_group_get(struct vfiomig_ctx *ctx, int gid, int *idx)
{
	char path[64];
	unsigned i;

	for (i = 0; i < ctx->ngroups; i++) {
		if (ctx->groups[i].refs && ctx->groups[i].id == gid) {
			ctx->groups[i].refs++;
			*idx = (int)i;
			return 0;
		}
	}
	for (i = 0; i < ctx->ngroups; i++)
		if (!ctx->groups[i].refs)
			break;
	if (i == VM_MAX_GROUPS)
		return vm_ctx_err(ctx, -ENOSPC, "too many groups");

	snprintf(path, sizeof(path), "/dev/vfio/%d", gid);
	int gfd = open(path, O_RDWR | O_CLOEXEC);
	if (gfd < 0)
		return vm_ctx_err(ctx, -errno, "open %s%s", path,
				  errno == EBUSY ? " (group in use by another process)" : "");

	struct vfio_group_status st = { .argsz = sizeof(st) };
	if (ioctl(gfd, VFIO_GROUP_GET_STATUS, &st)) {
		int e = errno;
		close(gfd);
		return vm_ctx_err(ctx, -e, "%s: VFIO_GROUP_GET_STATUS", path);
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		close(gfd);
		return vm_ctx_err(ctx, -EPERM,
				  "%s: group not viable (bind all its devices to vfio)", path);
	}
	int slot = 0, ret = group_attach(ctx, gfd, gid, &slot);
	if (ret) {
		close(gfd);
		return ret;
	}
	ctx->groups[i] = (struct vm_group){ .id = gid, .fd = gfd,
					     .container = slot, .refs = 1 };
	if (i == ctx->ngroups)
		ctx->ngroups++;
	*idx = (int)i;
	return 0;
}

void vm_group_put(struct vfiomig_ctx *ctx, int idx)
{
	struct vm_group *g = &ctx->groups[idx];

	if (--g->refs)
		return;
	ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
	close(g->fd);
	g->fd = -1;
	if (--ctx->container_refs[g->container] == 0) {
		close(ctx->containers[g->container]);
		ctx->containers[g->container] = -1;
	}
}
