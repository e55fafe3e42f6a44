/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio_dev.h - a tiny VFIO migration (uAPI v2) driver for the selftests.
 *
 * Opens a mockvf device the legacy way (group -> container TYPE1v2 ->
 * device fd by uuid) and wraps the migration ioctls.  Independent of
 * libvfiomig on purpose: the mock's tests must not depend on the engine.
 * All functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef VFIO_MIGTEST_VFIO_DEV_H
#define VFIO_MIGTEST_VFIO_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "mockvf_dev.h"
/*
 * The uAPI constants old <linux/vfio.h> copies lack and the ioctl payload
 * layouts: one header, shared with the engine (the engine's code is not
 * used, only its view of the kernel interface).
 */
#include "../../userspace/lib/vfio_uapi.h"
#include "vfio_feature.h"

/* Migration states by name, for readable tests. */
enum mt_state {
	MT_ERROR = 0,
	MT_STOP = 1,
	MT_RUNNING = 2,
	MT_STOP_COPY = 3,
	MT_RESUMING = 4,
	MT_RUNNING_P2P = 5,
	MT_PRE_COPY = 6,
	MT_PRE_COPY_P2P = 7,
};

struct vfio_dev {
	int container;
	int group;
	int fd;
	char uuid[MOCKVF_UUID_LEN];
};

/* vfio_dev_open() - open device @uuid; @d is filled (fds -1 on failure). */
int vfio_dev_open(const char *uuid, struct vfio_dev *d);
void vfio_dev_close(struct vfio_dev *d);

/* Set the migration state; *@data_fd gets the returned fd or -1. */
int vfio_dev_set_state(struct vfio_dev *d, int state, int *data_fd);
int vfio_dev_get_state(struct vfio_dev *d, int *state);
int vfio_dev_mig_flags(struct vfio_dev *d, uint64_t *flags);
int vfio_dev_data_size(struct vfio_dev *d, uint64_t *bytes);
int vfio_dev_reset(struct vfio_dev *d);
/* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (12), SET. */
int vfio_dev_precopy_v2(struct vfio_dev *d);
/* VFIO_MIG_GET_PRECOPY_INFO on a saving fd; @info->flags is sent as is. */
int vfio_dev_precopy_info(int data_fd, struct vm_precopy_info *info);

/* A growable byte buffer for migration streams. */
struct mbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

void mbuf_free(struct mbuf *b);

/*
 * vfio_read_stream() - append what @fd delivers to @b until read() returns
 * 0 (returns 0) or -ENOMSG (returns -ENOMSG); other errors are returned.
 */
int vfio_read_stream(int fd, struct mbuf *b);
/* vfio_write_all() - write @len bytes in pieces of at most @piece bytes. */
int vfio_write_all(int fd, const void *buf, size_t len, size_t piece);

/* Named states ("RUNNING"...) as in the sysfs "state" file. */
const char *vfio_state_name(int state);

/* Monotonic time in ns (same clock as the mockvf transition log). */
uint64_t vfio_now_ns(void);

/*
 * Selftest helpers (use the harness): load mockvf or SKIP, create a device
 * (removed when the test ends), open it (closed when the test ends,
 * before the removal).
 */
void mvt_require(void);
void mvt_create(const char *profile, char uuid[MOCKVF_UUID_LEN]);
struct vfio_dev *mvt_open(const char *uuid);
/* mvt_goto() - set the state and assert success; returns the data_fd. */
int mvt_goto(struct vfio_dev *d, int state);
/* mvt_state() - the current state as read through the uAPI. */
int mvt_state(struct vfio_dev *d);
/* mvt_attr() - read a mockvf attribute into a static buffer. */
const char *mvt_attr(const char *uuid, const char *attr);
unsigned long long mvt_attr_u64(const char *uuid, const char *attr);
void mvt_set(const char *uuid, const char *attr, const char *val);
/* mvt_log() - the whole transition log (malloc'd, NUL terminated). */
char *mvt_read_log(const char *uuid);

/* One parsed transition log line. */
struct mvt_log_ent {
	uint64_t start, end;
	char from[16], to[16], tag[16];
	int ret;
};
/* Parse the log into @out (up to @max); returns the number of lines. */
int mvt_parse_log(const char *text, struct mvt_log_ent *out, int max);

/*
 * mvt_migrate() - migrate @src to @dst: PRE_COPY (if @precopy) with reads
 * until ENOMSG, then PRE_COPY_P2P/STOP_COPY (or STOP, STOP_COPY), the
 * stream into @dst (RESUMING), then @dst to RUNNING and @src to STOP.
 * Stores the source digest at STOP_COPY in @digest (17 bytes) if not NULL.
 */
void mvt_migrate(struct vfio_dev *src, struct vfio_dev *dst, int precopy,
		 char *digest);

/*
 * A minimal migration engine for tests that run many devices in threads:
 * no harness asserts inside, every function returns 0 or -errno and
 * records the failing step in @what.
 */
struct mvt_mig {
	struct vfio_dev *src, *dst;
	int sfd, rfd;
	int precopy;
	const char *what;
	uint64_t bytes;
};

/* Destination to RESUMING; source to PRE_COPY with the initial data sent. */
int mvt_mig_prepare(struct mvt_mig *m);
/* Source PRE_COPY_P2P (if precopy) */
int mvt_mig_quiesce(struct mvt_mig *m);
/* STOP_COPY, the rest of the stream, destination RUNNING. */
int mvt_mig_switchover(struct mvt_mig *m);
/* Source to STOP, files closed. */
int mvt_mig_finish(struct mvt_mig *m);
/* Copy @from to @to until EOF (0) or a temporary end (-ENOMSG). */
int mvt_copy_fd(int from, int to, uint64_t *bytes);

#endif /* VFIO_MIGTEST_VFIO_DEV_H */
