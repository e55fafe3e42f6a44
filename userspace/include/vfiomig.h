/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiomig.h - libvfiomig: userspace VFIO migration (uAPI v2) engine.
 *
 * Conventions (libkmod style):
 *  - every object is an opaque handle created by a *_new/_open function and
 *    released by the matching *_free/_close function (NULL is accepted);
 *  - every function that can fail returns 0 or a negative errno;
 *  - a failing device function leaves a one-line message naming the device,
 *    the state arc and the errno in vfiomig_device_errmsg().
 *
 * This header holds the device layer.  Sessions (migration over a byte
 * stream) are in vfiomig_session.h, reports in vfiomig_report.h, the wire
 * codec in vfiomig_wire.h.
 */
#ifndef VFIOMIG_H
#define VFIOMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device migration states; values are those of enum vfio_device_mig_state. */
enum vfiomig_state {
	VFIOMIG_ERROR = 0,
	VFIOMIG_STOP = 1,
	VFIOMIG_RUNNING = 2,
	VFIOMIG_STOP_COPY = 3,
	VFIOMIG_RESUMING = 4,
	VFIOMIG_RUNNING_P2P = 5,
	VFIOMIG_PRE_COPY = 6,
	VFIOMIG_PRE_COPY_P2P = 7,
	VFIOMIG_NR_STATES,
};

/* Migration flags reported by VFIO_DEVICE_FEATURE_MIGRATION. */
#define VFIOMIG_FLAG_STOP_COPY (1ULL << 0)
#define VFIOMIG_FLAG_P2P (1ULL << 1)
#define VFIOMIG_FLAG_PRE_COPY (1ULL << 2)

/** vfiomig_state_name() - "RUNNING", "PRE_COPY_P2P", ...; "?" if invalid. */
const char *vfiomig_state_name(int state);

/** vfiomig_state_parse() - inverse of vfiomig_state_name(); -EINVAL if unknown. */
int vfiomig_state_parse(const char *name);

/** vfiomig_flags_str() - "STOP_COPY|P2P|PRE_COPY" into @buf (always terminated). */
const char *vfiomig_flags_str(uint64_t flags, char *buf, size_t len);

/*
 * Context: owns the VFIO containers and group fds so that devices opened
 * through the same context share a TYPE1v2 container whenever their groups
 * can be attached to it.  Thread safe.
 */
struct vfiomig_ctx;

/** vfiomig_ctx_new() - create a context; free with vfiomig_ctx_free(). */
int vfiomig_ctx_new(struct vfiomig_ctx **out);

/**
 * vfiomig_ctx_free() - release a context.  All devices opened through it must
 * be closed first.
 */
void vfiomig_ctx_free(struct vfiomig_ctx *ctx);

/**
 * vfiomig_ctx_errmsg() - last error of vfiomig_device_open() on this context
 * (open errors happen before a device handle exists).
 */
const char *vfiomig_ctx_errmsg(const struct vfiomig_ctx *ctx);

struct vfiomig_device;

/**
 * vfiomig_device_open() - open a VFIO device for migration.
 * @ctx: context.
 * @name: an mdev UUID ("6f3c...-...") or a PCI address ("0000:3b:00.1" or
 *	  "3b:00.1").
 * @out: the device handle.
 *
 * Resolves sysfs -> IOMMU group -> /dev/vfio/N -> container (TYPE1v2,
 * shared when possible) -> VFIO_GROUP_GET_DEVICE_FD.  When the kernel offers
 * the cdev interface (/dev/vfio/devices exists) the iommufd path is used
 * instead (VFIOMIG_NO_IOMMUFD=1 in the environment disables it).  Probes the
 * migration flags.  Errors: -ENODEV unknown device, -EBUSY device or group in
 * use by another process, -EOPNOTSUPP no migration support.
 */
int vfiomig_device_open(struct vfiomig_ctx *ctx, const char *name,
			struct vfiomig_device **out);

/** vfiomig_device_close() - close data fd and device fd; NULL is allowed. */
void vfiomig_device_close(struct vfiomig_device *dev);

/** vfiomig_device_name() - the name the device was opened with. */
const char *vfiomig_device_name(const struct vfiomig_device *dev);

/**
 * vfiomig_device_fd() - the VFIO device fd, for callers that issue their own
 * ioctls (benchmarks comparing against the bare uAPI).  The library's cached
 * state does not see what they do: call vfiomig_device_get_state() after.
 */
int vfiomig_device_fd(const struct vfiomig_device *dev);

/** vfiomig_device_errmsg() - "dev NAME: FROM->TO: strerror (-errno)" of the last error. */
const char *vfiomig_device_errmsg(const struct vfiomig_device *dev);

/** vfiomig_device_flags() - migration flags probed at open (VFIOMIG_FLAG_*). */
uint64_t vfiomig_device_flags(const struct vfiomig_device *dev);

/** vfiomig_device_get_state() - query the kernel for the current state. */
int vfiomig_device_get_state(struct vfiomig_device *dev, int *state);

/**
 * vfiomig_device_cached_state() - the state the library last set or read,
 * without an ioctl (-1 when unknown).
 */
int vfiomig_device_cached_state(const struct vfiomig_device *dev);

/*
 * Observer of every single-arc transition the library asks the kernel for;
 * called in the thread that made the request.
 */
struct vfiomig_transition {
	int from, to;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC */
	int ret;			/* 0 or -errno */
};
typedef void (*vfiomig_transition_fn)(struct vfiomig_device *dev,
				      const struct vfiomig_transition *t,
				      void *arg);

/** vfiomig_device_set_observer() - install (or clear with NULL) the observer. */
void vfiomig_device_set_observer(struct vfiomig_device *dev,
				 vfiomig_transition_fn fn, void *arg);

/**
 * vfiomig_device_set_arc() - ask the kernel for exactly one FSM arc from the
 * current state to @to.  Refused with -EINVAL (no ioctl) if the arc is not an
 * allowed single arc for this device's flags.  Manages the data fd: arcs that
 * open a transfer session store the new fd, arcs that end it close it.
 */
int vfiomig_device_set_arc(struct vfiomig_device *dev, int to);

/**
 * vfiomig_device_goto() - walk the planner's path from the current state to
 * @target one arc at a time (see vfiomig_plan()).  On failure the device is
 * wherever the kernel left it (query with vfiomig_device_get_state()).
 */
int vfiomig_device_goto(struct vfiomig_device *dev, int target);

/**
 * vfiomig_device_recover() - bring the device back to RUNNING after a failed
 * migration: walk the plan, and reset if that fails or the device is in
 * ERROR or RESUMING.  0 when the device ends in RUNNING.
 */
int vfiomig_device_recover(struct vfiomig_device *dev);

/** vfiomig_device_reset() - VFIO_DEVICE_RESET; the device ends in RUNNING. */
int vfiomig_device_reset(struct vfiomig_device *dev);

/** vfiomig_device_data_fd() - the open transfer fd, or -1. */
int vfiomig_device_data_fd(const struct vfiomig_device *dev);

/**
 * vfiomig_device_read() - one read() of up to @len bytes from the data fd.
 * @got: bytes read; 0 with return 0 means end of stream (STOP_COPY done).
 * Retries EINTR.  Returns -ENOMSG at the temporary end of a precopy stream,
 * -EAGAIN if the fd would block.
 */
int vfiomig_device_read(struct vfiomig_device *dev, void *buf, size_t len,
			size_t *got);

/**
 * vfiomig_device_write() - write all @len bytes to the data fd (RESUMING),
 * handling partial writes, EINTR and EAGAIN (waits with poll).
 */
int vfiomig_device_write(struct vfiomig_device *dev, const void *buf,
			 size_t len);

struct vfiomig_precopy_info {
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
	bool reinit;		/* VFIO_PRECOPY_INFO_REINIT; only with v2 opt-in */
};

/**
 * vfiomig_device_precopy_v2() - opt in to VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
 * (REINIT reporting).  0 if accepted; -EOPNOTSUPP/-EINVAL/-ENOTTY if the
 * device refuses, in which case `flags` is never interpreted.
 */
int vfiomig_device_precopy_v2(struct vfiomig_device *dev);

/** vfiomig_device_precopy_v2_enabled() - whether the opt-in was accepted. */
bool vfiomig_device_precopy_v2_enabled(const struct vfiomig_device *dev);

/**
 * vfiomig_device_precopy_info() - VFIO_MIG_GET_PRECOPY_INFO on the data fd
 * (PRE_COPY or PRE_COPY_P2P only).  info->reinit is only ever true after a
 * successful vfiomig_device_precopy_v2().
 */
int vfiomig_device_precopy_info(struct vfiomig_device *dev,
				struct vfiomig_precopy_info *info);

/** vfiomig_device_data_size() - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (stop-copy estimate). */
int vfiomig_device_data_size(struct vfiomig_device *dev, uint64_t *bytes);

/*
 * State planner (pure, no device needed).
 */

/**
 * vfiomig_arc_allowed() - whether @from -> @to is a single FSM arc the kernel
 * accepts for a device with @flags.  ERROR is never a target.
 */
bool vfiomig_arc_allowed(uint64_t flags, int from, int to);

/**
 * vfiomig_plan() - shortest path of allowed arcs from @from to @to that has
 * no saving-group state (PRE_COPY, PRE_COPY_P2P, STOP_COPY) in its interior,
 * as the uAPI prescribes.  Writes the states after @from into @path (at most
 * @max) and their number into @n (0 when from == to).  -EINVAL when no such
 * path exists (e.g. STOP_COPY -> PRE_COPY) or a state is unsupported,
 * -ENOSPC if @max is too small.
 */
int vfiomig_plan(uint64_t flags, int from, int to, int *path, size_t max,
		 size_t *n);

/** vfiomig_now_ns() - CLOCK_MONOTONIC in nanoseconds. */
uint64_t vfiomig_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* VFIOMIG_H */
