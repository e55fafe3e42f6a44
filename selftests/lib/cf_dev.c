// SPDX-License-Identifier: GPL-2.0
/*
 * cf_dev.c - VFIO devices by name for the conformance suite (cf_dev.h).
 */
#define _GNU_SOURCE
#include "cf_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Open groups of this process.  VFIO allows one open of a group at a time,
 * so a second device of the same group must use the same group fd.
 */
#define CF_MAX_GROUPS 64
static struct {
	int id, group, container, users;
} groups[CF_MAX_GROUPS];
static int ngroups;

void cf_canonical(const char *in, char *out, size_t len)
{
	/* BB:DD.F is 7 characters; the kernel names PCI devices with a domain. */
	if (strlen(in) == 7 && in[2] == ':')
		snprintf(out, len, "0000:%s", in);
	else
		snprintf(out, len, "%s", in);
}

static int group_id(const char *name)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *bus = strchr(name, '-') ? "mdev" : "pci";
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s/iommu_group",
		 bus, name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	return atoi(basename(link));
}

static int group_get(int id)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int g, c, ret;

	for (int i = 0; i < ngroups; i++)
		if (groups[i].id == id && groups[i].users) {
			groups[i].users++;
			return i;
		}
	if (ngroups == CF_MAX_GROUPS)
		return -ENOSPC;
	snprintf(path, sizeof(path), "/dev/vfio/%d", id);
	g = open(path, O_RDWR | O_CLOEXEC);
	if (g < 0)
		return -errno;
	c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c < 0)
		goto err;
	if (ioctl(g, VFIO_GROUP_GET_STATUS, &st))
		goto err;
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		/* Another device of the group is bound to a host driver. */
		errno = EBUSY;
		goto err;
	}
	if (ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) ||
	    ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	groups[ngroups].id = id;
	groups[ngroups].group = g;
	groups[ngroups].container = c;
	groups[ngroups].users = 1;
	return ngroups++;
err:
	ret = -errno;
	if (c >= 0)
		close(c);
	close(g);
	return ret;
}

static void group_put(int i)
{
	if (i < 0 || i >= ngroups || --groups[i].users)
		return;
	close(groups[i].group);
	close(groups[i].container);
}

int cf_open(const char *name, struct cf_dev *d)
{
	uint64_t flags;
	int id, gi;

	memset(d, 0, sizeof(*d));
	d->fd = d->group = -1;
	cf_canonical(name, d->name, sizeof(d->name));
	id = group_id(d->name);
	if (id < 0)
		return id;
	gi = group_get(id);
	if (gi < 0)
		return gi;
	d->fd = ioctl(groups[gi].group, VFIO_GROUP_GET_DEVICE_FD, d->name);
	if (d->fd < 0) {
		int ret = -errno;

		group_put(gi);
		return ret;
	}
	d->group = gi;
	/* Any error here means "no migration" (ENOTTY: no mig_ops). */
	d->flags = vfio_fd_mig_flags(d->fd, &flags) ? CF_NO_MIGRATION : flags;
	return 0;
}

void cf_close(struct cf_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	group_put(d->group);
	d->fd = d->group = -1;
}

int cf_set_state(struct cf_dev *d, uint32_t state, int *data_fd)
{
	return vfio_fd_set_state(d->fd, state, data_fd);
}

int cf_get_state(struct cf_dev *d, int *state)
{
	return vfio_fd_get_state(d->fd, state);
}

int cf_reset(struct cf_dev *d)
{
	return ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

int cf_data_size(struct cf_dev *d, uint64_t *bytes)
{
	return vfio_fd_data_size(d->fd, bytes);
}

int cf_precopy_v2(struct cf_dev *d, uint32_t flags)
{
	return vfio_fd_precopy_v2(d->fd, flags);
}

int cf_precopy_info(int data_fd, struct vm_precopy_info *info)
{
	return vfio_fd_precopy_info(data_fd, info);
}

bool cf_state_supported(uint64_t flags, int state)
{
	bool p2p = flags & VFIO_MIGRATION_P2P;
	bool pre = flags & VFIO_MIGRATION_PRE_COPY;

	if (flags == CF_NO_MIGRATION || !(flags & VFIO_MIGRATION_STOP_COPY))
		return false;
	switch (state) {
	case MT_STOP: case MT_RUNNING: case MT_STOP_COPY: case MT_RESUMING:
		return true;
	case MT_RUNNING_P2P:
		return p2p;
	case MT_PRE_COPY:
		return pre;
	case MT_PRE_COPY_P2P:
		return pre && p2p;
	}
	return false;	/* ERROR is never a target, others do not exist */
}

#define ARC(a, b) (from == MT_##a && to == MT_##b)

bool cf_arc_single(uint64_t flags, int from, int to)
{
	bool p2p = flags & VFIO_MIGRATION_P2P;
	bool pre = flags & VFIO_MIGRATION_PRE_COPY;

	if (!cf_state_supported(flags, from) || !cf_state_supported(flags, to))
		return false;
	/* The arcs of vfio.h's FSM comment, grouped by the flags they need. */
	if (ARC(RESUMING, STOP) || ARC(STOP, RESUMING) ||
	    ARC(STOP, STOP_COPY) || ARC(STOP_COPY, STOP))
		return true;
	if (p2p && (ARC(RUNNING, RUNNING_P2P) || ARC(RUNNING_P2P, RUNNING) ||
		    ARC(RUNNING_P2P, STOP) || ARC(STOP, RUNNING_P2P)))
		return true;
	if (!p2p && (ARC(RUNNING, STOP) || ARC(STOP, RUNNING)))
		return true;
	if (pre && (ARC(RUNNING, PRE_COPY) || ARC(PRE_COPY, RUNNING)))
		return true;
	if (pre && !p2p && ARC(PRE_COPY, STOP_COPY))
		return true;
	if (pre && p2p &&
	    (ARC(PRE_COPY, PRE_COPY_P2P) || ARC(PRE_COPY_P2P, PRE_COPY) ||
	     ARC(PRE_COPY_P2P, RUNNING_P2P) || ARC(RUNNING_P2P, PRE_COPY_P2P) ||
	     ARC(PRE_COPY_P2P, STOP_COPY)))
		return true;
	return false;
}

bool cf_arc_blocked(int from, int to)
{
	return ARC(STOP_COPY, PRE_COPY) || ARC(STOP_COPY, PRE_COPY_P2P);
}

static bool saving(int s)
{
	return s == MT_PRE_COPY || s == MT_PRE_COPY_P2P || s == MT_STOP_COPY;
}

bool cf_arc_opens_session(int from, int to)
{
	if (to == MT_RESUMING)
		return from != MT_RESUMING;
	return saving(to) && !saving(from);
}
