/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cf_suite.h - the device set of a conformance program and the helpers
 * its tests share.
 *
 * The devices are chosen once, in the parent, before any test
 * (CONFORMANCE_PROGRAM()): the program's arguments, else
 * $VFIO_MIGTEST_DEVICES, else two SRC=DST pairs of mock devices of profile
 * $VFIO_MIGTEST_PROFILE (default tiny), created now and removed at exit.
 * Every device is opened once to fill the capability table, which is
 * printed after the plan.  A malformed list, a missing or unopenable
 * device, or a pair whose sides differ in migration flags is a user error:
 * one "Bail out!" line and exit 1, before any test.
 *
 * Tests never assume a state at open: cf_use() resets the device
 * (VFIO_DEVICE_RESET) and checks that it is RUNNING.
 */
#ifndef VFIO_MIGTEST_CF_SUITE_H
#define VFIO_MIGTEST_CF_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cf_dev.h"
#include "devsel.h"
#include "harness.h"

struct cf_entry {
	char name[CF_NAME_MAX];
	char peer[CF_NAME_MAX];		/* "" when not a pair */
	uint64_t flags;			/* CF_NO_MIGRATION when none */
};

struct cf_suite {
	int n;
	struct cf_entry e[DEVSEL_MAX];
	const char *origin;
	const char *profile;		/* mock profile, NULL for user devices */
	char table[DEVSEL_MAX * 2][200];	/* the capability table */
	int ntable;
};

extern struct cf_suite cf;

int cf_precheck(char *why, size_t len);
void cf_banner(void);

#define CONFORMANCE_PROGRAM()						\
	int mt_precheck(char *why, size_t len)				\
	{								\
		return cf_precheck(why, len);				\
	}								\
	void mt_banner(void)						\
	{								\
		cf_banner();						\
	}

/* "STOP_COPY|P2P|PRE_COPY" or "none". */
const char *cf_flags_str(uint64_t flags, char *buf, size_t len);

/* Every distinct device of the set (sources, destinations, singles). */
int cf_ndevices(void);
const char *cf_device(int i);
uint64_t cf_device_flags(int i);

/*
 * Migration pairs: the SRC=DST entries, then single entries paired in
 * order.  cf_npairs() may be 0.
 */
int cf_npairs(void);
/*
 * cf_need_pairs() - SKIP unless there are pairs and every one can
 * migrate (from the capability table: nothing is opened, so a test can
 * call it before it forks).
 */
void cf_need_pairs(void);
const char *cf_pair_src(int i);
const char *cf_pair_dst(int i);

/*
 * cf_use() - open @name for this test (closed when it ends), SKIP when it
 * has no migration support, reset it and check it is RUNNING.
 */
struct cf_dev *cf_use(const char *name);

/* The device's state through the uAPI; fails the test if GET fails. */
int cf_state(struct cf_dev *d);

/*
 * cf_go() - request @to from wherever the device is; on failure log
 * "dev NAME: FROM->TO: strerror (-errno)" and return -errno.  *@fd gets
 * the data_fd (or -1); pass NULL to close it.
 */
int cf_go(struct cf_dev *d, int to, int *fd);
/* As cf_go() but the test fails on error; returns the data_fd. */
int cf_must(struct cf_dev *d, int to);
/* Reset and check RUNNING; the test fails otherwise. */
void cf_must_reset(struct cf_dev *d);

/* Read until end of stream (0) or ENOMSG, bounded by @max bytes. */
int cf_read_all(int fd, struct mbuf *b, size_t max);

/* Skip with the reason unless the device has @flag (named @what). */
void cf_need(struct cf_dev *d, uint64_t flag, const char *what);

const char *cf_errname(int err);

#endif /* VFIO_MIGTEST_CF_SUITE_H */
