/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cf_dev.h - any VFIO device by name (PCI address or mdev UUID), through
 * the VFIO uAPI only, for the conformance suite.
 *
 * Independent of libvfiomig and of mockvf on purpose: the conformance
 * tests judge a driver by the uAPI's text, so the code that talks to the
 * driver must not share a planner or a cache with the engine it also
 * tests.  Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef VFIO_MIGTEST_CF_DEV_H
#define VFIO_MIGTEST_CF_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio_dev.h"	/* enum mt_state, the uAPI names old headers lack */

#define CF_NAME_MAX 64
#define CF_NO_MIGRATION UINT64_MAX	/* flags of a device without migration */

struct cf_dev {
	char name[CF_NAME_MAX];		/* as the kernel names it (DDDD:BB:DD.F) */
	int fd;				/* VFIO device fd */
	int group;			/* shared with other devices of the group */
	uint64_t flags;			/* migration flags, or CF_NO_MIGRATION */
};

/* cf_canonical() - "3b:00.1" -> "0000:3b:00.1"; UUIDs unchanged. */
void cf_canonical(const char *in, char *out, size_t len);

/*
 * cf_open() - open @name the legacy way (sysfs iommu_group -> /dev/vfio/N
 * -> TYPE1v2 container -> VFIO_GROUP_GET_DEVICE_FD) and probe its
 * migration flags.  A group already opened by this process is reused, so
 * two devices of one group can be open together.
 */
int cf_open(const char *name, struct cf_dev *d);
void cf_close(struct cf_dev *d);

int cf_set_state(struct cf_dev *d, uint32_t state, int *data_fd);
int cf_get_state(struct cf_dev *d, int *state);
int cf_reset(struct cf_dev *d);
int cf_data_size(struct cf_dev *d, uint64_t *bytes);
int cf_precopy_v2(struct cf_dev *d, uint32_t flags);
int cf_precopy_info(int data_fd, struct vm_precopy_info *info);

/* Whether a device with migration @flags supports @state (uAPI rules). */
bool cf_state_supported(uint64_t flags, int state);
/*
 * Whether @from -> @to is one arc of the uAPI's FSM for @flags (the arcs
 * vfio.h lists; everything else is a combination).
 */
bool cf_arc_single(uint64_t flags, int from, int to);
/* The two arcs vfio.h forbids: STOP_COPY -> PRE_COPY[_P2P]. */
bool cf_arc_blocked(int from, int to);
/* Whether entering @to from @from starts a data transfer session. */
bool cf_arc_opens_session(int from, int to);

#endif /* VFIO_MIGTEST_CF_DEV_H */
