/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fake_device.h - a VFIO migration device with no kernel behind it, for
 * session tests on the host.  A test binary linked with -Wl,--wrap=ioctl
 * routes the engine's ioctls on a fake's fds here: the migration state
 * machine (any allowed arc, a data fd for the arcs that open one), reset,
 * MIG_DATA_SIZE, PRECOPY_INFO (idle: no initial or dirty bytes).  Data
 * fds: a saving state reads from a pipe that a feeder thread fills with
 * the image (stop-copy) or that is empty and closed (precopy: nothing
 * more now); RESUMING writes into a pipe that a drainer thread counts.
 */
#ifndef FAKE_DEVICE_H
#define FAKE_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lib/internal.h"

#define FAKE_LOG_MAX 64
#define FAKE_PUMPS_MAX 16

struct fake_device {
	struct vfiomig_device dev;	/* what the engine is given */
	pthread_mutex_t lock;
	int state;			/* VFIOMIG_* */
	size_t image;			/* stop-copy bytes a saving stream carries */
	int fail_into;			/* an arc into this state fails (EIO); -1 none */
	int data_fd;			/* the engine's end of the current stream, -1 */
	struct fake_pump {		/* feeder or drainer of one stream */
		struct fake_device *f;
		int fd;			/* our end of it */
		pthread_t th;
	} pumps[FAKE_PUMPS_MAX];
	unsigned npumps;
	uint64_t resumed;		/* bytes the destination wrote */
	unsigned resume_delay_us;	/* a slow device: this long per 4 KiB loaded */
	unsigned nlog;			/* arcs asked for, in order */
	int log_to[FAKE_LOG_MAX];
};

/* A RUNNING fake device named @name with VFIOMIG_FLAG_* @flags. */
void fake_device_init(struct fake_device *f, const char *name, uint64_t flags,
		      size_t image);
void fake_device_destroy(struct fake_device *f);
/* Whether the device ever entered @state. */
bool fake_device_entered(struct fake_device *f, int state);
int fake_device_state(struct fake_device *f);

#endif /* FAKE_DEVICE_H */
