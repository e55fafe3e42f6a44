// SPDX-License-Identifier: GPL-2.0
/*
 * device_state.c - migration flags, state changes, recovery and reset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "vfio_uapi.h"

/* struct vfio_device_feature header followed by up to 32 bytes of payload. */
struct feature_buf {
	__u32 argsz;
	__u32 flags;
	__u64 data[4];
};

static int feature(struct vfiomig_device *dev, __u32 op, __u32 idx,
		   void *data, size_t len)
{
	struct feature_buf fb;

	memset(&fb, 0, sizeof(fb));
	fb.argsz = (__u32)(8 + len);
	fb.flags = op | idx;
	if (data && len)
		memcpy(fb.data, data, len);
	if (ioctl(dev->fd, VFIO_DEVICE_FEATURE, &fb))
		return -errno;
	if (data && len)
		memcpy(data, fb.data, len);
	return 0;
}

int vm_probe_flags(struct vfiomig_device *dev)
{
	struct vm_feature_migration mig = { 0 };
	int ret = feature(dev, VFIO_DEVICE_FEATURE_GET,
			  VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));

	if (ret == -ENOTTY || ret == -EINVAL)
		ret = -EOPNOTSUPP;
	if (ret)
		return vm_dev_err(dev, ret, "VFIO_DEVICE_FEATURE_MIGRATION (no migration support?)");
	if (!(mig.flags & VFIO_MIGRATION_STOP_COPY))
		return vm_dev_err(dev, -EOPNOTSUPP, "migration without STOP_COPY");
	dev->flags = mig.flags & (VFIOMIG_FLAG_STOP_COPY | VFIOMIG_FLAG_P2P |
				  VFIOMIG_FLAG_PRE_COPY);
	return 0;
}

int vfiomig_device_get_state(struct vfiomig_device *dev, int *state)
{
	struct vm_feature_mig_state st = { .data_fd = -1 };
	int ret = feature(dev, VFIO_DEVICE_FEATURE_GET,
			  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));

	if (ret)
		return vm_dev_err(dev, ret, "get state");
	dev->state = (int)st.device_state;
	*state = dev->state;
	return 0;
}

int vfiomig_device_cached_state(const struct vfiomig_device *dev)
{
	return dev->state;
}

void vfiomig_device_set_observer(struct vfiomig_device *dev,
				 vfiomig_transition_fn fn, void *arg)
{
	dev->obs = fn;
	dev->obs_arg = arg;
}

static bool opens_session(int from, int to)
{
	return (to == VFIOMIG_PRE_COPY && from == VFIOMIG_RUNNING) ||
	       (to == VFIOMIG_PRE_COPY_P2P && from == VFIOMIG_RUNNING_P2P) ||
	       (to == VFIOMIG_STOP_COPY && from == VFIOMIG_STOP) ||
	       to == VFIOMIG_RESUMING;
}

static bool in_session(int s)
{
	return s == VFIOMIG_PRE_COPY || s == VFIOMIG_PRE_COPY_P2P ||
	       s == VFIOMIG_STOP_COPY || s == VFIOMIG_RESUMING;
}

int vfiomig_device_set_arc(struct vfiomig_device *dev, int to)
{
	struct vm_feature_mig_state st = { .device_state = (__u32)to,
					   .data_fd = -1 };
	struct vfiomig_transition t;
	int from = dev->state, ret;

	if (from < 0 && (ret = vfiomig_device_get_state(dev, &from)))
		return ret;
	if (!vfiomig_arc_allowed(dev->flags, from, to))
		return vm_dev_err(dev, -EINVAL, "%s->%s: arc not allowed, not requested",
				  vfiomig_state_name(from), vfiomig_state_name(to));

	t.from = from;
	t.to = to;
	t.start_ns = vfiomig_now_ns();
	ret = feature(dev, VFIO_DEVICE_FEATURE_SET,
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
	t.end_ns = vfiomig_now_ns();
	t.ret = ret;
	if (dev->obs)
		dev->obs(dev, &t, dev->obs_arg);
	if (ret) {
		/* The kernel may have left us anywhere on the path; re-read later. */
		dev->state = -1;
		return vm_dev_err(dev, ret, "%s->%s", vfiomig_state_name(from),
				  vfiomig_state_name(to));
	}
	dev->state = to;

	if (opens_session(from, to)) {
		if (st.data_fd < 0)
			return vm_dev_err(dev, -EBADF, "%s->%s: no data fd returned",
					  vfiomig_state_name(from), vfiomig_state_name(to));
		if (dev->data_fd >= 0)
			close(dev->data_fd);
		dev->data_fd = st.data_fd;
	} else if (!in_session(to) && dev->data_fd >= 0) {
		close(dev->data_fd);
		dev->data_fd = -1;
	}
	return 0;
}

int vfiomig_device_goto(struct vfiomig_device *dev, int target)
{
	int path[VFIOMIG_NR_STATES], from = dev->state, ret;
	size_t n;

	if (from < 0 && (ret = vfiomig_device_get_state(dev, &from)))
		return ret;
	ret = vfiomig_plan(dev->flags, from, target, path, VFIOMIG_NR_STATES, &n);
	if (ret)
		return vm_dev_err(dev, ret, "%s->%s: no legal path",
				  vfiomig_state_name(from), vfiomig_state_name(target));
	for (size_t i = 0; i < n; i++) {
		ret = vfiomig_device_set_arc(dev, path[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int vfiomig_device_reset(struct vfiomig_device *dev)
{
	struct vfiomig_transition t = { .from = dev->state, .to = VFIOMIG_RUNNING };

	t.start_ns = vfiomig_now_ns();
	t.ret = ioctl(dev->fd, VFIO_DEVICE_RESET) ? -errno : 0;
	t.end_ns = vfiomig_now_ns();
	if (dev->data_fd >= 0) {
		close(dev->data_fd);
		dev->data_fd = -1;
	}
	dev->state = -1;
	if (t.ret)
		return vm_dev_err(dev, t.ret, "VFIO_DEVICE_RESET");
	dev->state = VFIOMIG_RUNNING;
	return 0;
}

int vfiomig_device_recover(struct vfiomig_device *dev)
{
	int st, ret;
	char first[VM_ERRLEN] = "";

	ret = vfiomig_device_get_state(dev, &st);
	if (!ret && st == VFIOMIG_RUNNING) {
		/* Drop any stale transfer session. */
		if (dev->data_fd >= 0) {
			close(dev->data_fd);
			dev->data_fd = -1;
		}
		return 0;
	}
	/* A RESUMING session can only be aborted by reset (uAPI). */
	if (!ret && st != VFIOMIG_ERROR && st != VFIOMIG_RESUMING) {
		ret = vfiomig_device_goto(dev, VFIOMIG_RUNNING);
		if (!ret)
			return 0;
		snprintf(first, sizeof(first), "%s", dev->err);
	}
	ret = vfiomig_device_reset(dev);
	if (!ret)
		ret = vfiomig_device_get_state(dev, &st);
	if (!ret && st != VFIOMIG_RUNNING)
		ret = vm_dev_err(dev, -EIO, "after reset in %s, not RUNNING",
				 vfiomig_state_name(st));
	if (!ret && first[0])
		snprintf(dev->err, sizeof(dev->err), "%.200s (recovered by reset)", first);
	return ret;
}
