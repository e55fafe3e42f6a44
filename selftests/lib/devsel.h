/* SPDX-License-Identifier: GPL-2.0 */
/*
 * devsel.h - which devices a selftest works on, the same rule for every
 * test program:
 *
 *  1. the program's positional arguments, else
 *  2. $VFIO_MIGTEST_DEVICES (comma-separated), else
 *  3. mock devices created now through the libkmod loader and mockvf.
 *
 * An entry is a PCI address ("0000:3b:00.1", "3b:00.1") or an mdev UUID;
 * "SRC=DST" names a source/destination pair for migration tests.  Single
 * entries serve tests that need one device (state machine, data stream);
 * migration tests take the pairs, or pair up single entries in order.
 *
 * A malformed list, or a device that does not exist, is a user error: the
 * program prints one "Bail out!" line naming it and exits 1 before running
 * any test (DEVSEL_PROGRAM()).  When no devices are given and mockvf cannot
 * be loaded, tests skip (exit 4) with the reason.
 */
#ifndef VFIO_MIGTEST_DEVSEL_H
#define VFIO_MIGTEST_DEVSEL_H

#include <stdbool.h>
#include <stddef.h>

#define DEVSEL_MAX 32
#define DEVSEL_NAME_MAX 64

struct devsel {
	int ndevs;			/* entries: sources or singles */
	char dev[DEVSEL_MAX][DEVSEL_NAME_MAX];
	char peer[DEVSEL_MAX][DEVSEL_NAME_MAX];	/* "" when not a pair */
	bool mock;			/* created here; devsel_release() removes */
	const char *origin;		/* "arguments", "VFIO_MIGTEST_DEVICES", "mockvf" */
};

/* devsel_parse() - parse a comma-separated list; -EINVAL with @err set. */
int devsel_parse(const char *list, struct devsel *ds, char *err,
		 size_t errlen);

/* devsel_is_device_name() - PCI address or mdev UUID syntax. */
bool devsel_is_device_name(const char *s);

/*
 * devsel_user_list() - the user's list (arguments or environment) into @ds,
 * checked for syntax and existence.  Returns 1 when the user gave devices,
 * 0 when not (mock devices will be used), -errno with @err set on error.
 */
int devsel_user_list(struct devsel *ds, char *err, size_t errlen);

/*
 * devsel_get() - the devices for one test: the user's list, else @n mock
 * source/destination pairs of mockvf profile @profile.  On -errno @err says
 * why (the caller usually SKIPs with it).
 */
int devsel_get(int n, const char *profile, struct devsel *ds, char *err,
	       size_t errlen);

/* devsel_release() - remove mock devices devsel_get() created. */
void devsel_release(struct devsel *ds);

/* Check the user's device list once, before any test runs. */
#define DEVSEL_PROGRAM()						\
	int mt_precheck(char *why, size_t len)				\
	{								\
		struct devsel ds;					\
		return devsel_user_list(&ds, why, len) < 0 ? 1 : 0;	\
	}

#endif /* VFIO_MIGTEST_DEVSEL_H */
