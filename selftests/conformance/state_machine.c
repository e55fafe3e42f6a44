// SPDX-License-Identifier: GPL-2.0
/*
 * state_machine - the migration FSM of vfio.h on every selected device:
 * the flags are a defined combination, every single arc and every
 * combination the flags allow succeeds and reads back, data_fd appears
 * exactly on the arcs that start a transfer session, forbidden targets
 * are refused with EINVAL without moving the device, and
 * VFIO_DEVICE_RESET returns the device to RUNNING from every reachable
 * state and kills the session's data_fd.
 *
 * Never sent: STOP_COPY -> PRE_COPY[_P2P] (6.12's vfio_mig_get_next_state()
 * spins forever on them under the driver's lock), and any request to a
 * device in ERROR (the helper WARNs on it).  See docs/hardware.md.
 */
#define _GNU_SOURCE
#include "cf_suite.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSTATES 8

static const int real_states[] = {
	MT_STOP, MT_RUNNING, MT_STOP_COPY, MT_RESUMING, MT_RUNNING_P2P,
	MT_PRE_COPY, MT_PRE_COPY_P2P,
};
#define NREAL (int)(sizeof(real_states) / sizeof(real_states[0]))

/*
 * Devices to walk: all of a user's list (lab devices may differ in
 * firmware), the first one only for mocks (identical by construction;
 * keeps make check fast).
 */
static int ndevs(void)
{
	return cf.profile && cf_ndevices() ? 1 : cf_ndevices();
}

/* A full stream of @d's own state, so RESUMING can be left legitimately. */
static void save_image(struct cf_dev *d, struct mbuf *img)
{
	int fd = cf_must(d, MT_STOP_COPY), ret;

	ASSERT_GE(fd, 0);
	ret = cf_read_all(fd, img, 1ull << 32);
	if (ret)
		mt_log("dev %s: reading the STOP_COPY stream: %s (%d)",
		       d->name, strerror(-ret), ret);
	ASSERT_EQ(0, ret);
	close(fd);
	cf_must_reset(d);
}

/*
 * Bring a freshly reset device to @s; returns the data_fd of the session
 * that @s belongs to (or -1).  RESUMING gets @img written, so that leaving
 * it is a valid request.
 */
static int reach(struct cf_dev *d, int s, const struct mbuf *img)
{
	int fd = -1, ret;

	if (s == MT_RUNNING)
		return -1;
	fd = cf_must(d, s);
	if (s == MT_RESUMING) {
		ret = vfio_write_all(fd, img->p, img->len, 1 << 20);
		if (ret)
			mt_log("dev %s: writing %zu bytes in RESUMING: %s (%d)",
			       d->name, img->len, strerror(-ret), ret);
		ASSERT_EQ(0, ret);
	}
	return fd;
}

static void check_arc(struct cf_dev *d, int from, int to,
		      const struct mbuf *img, int *count)
{
	int sfd, fd = -2, ret, now;

	cf_must_reset(d);
	sfd = reach(d, from, img);
	ret = cf_go(d, to, &fd);
	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: %s->%s: %s (%d)",
			     d->name, vfio_state_name(from),
			     vfio_state_name(to), strerror(-ret), ret);
		goto out;
	}
	now = cf_state(d);
	if (now != to)
		mt_fail_here(__FILE__, __LINE__, "dev %s: %s->%s succeeded "
			     "but the device reads back %s", d->name,
			     vfio_state_name(from), vfio_state_name(to),
			     vfio_state_name(now));
	if (cf_arc_opens_session(from, to) != (fd >= 0))
		mt_fail_here(__FILE__, __LINE__, "dev %s: %s->%s returned "
			     "data_fd %d, expected %s", d->name,
			     vfio_state_name(from), vfio_state_name(to), fd,
			     cf_arc_opens_session(from, to) ?
			     "a new fd (a session starts)" : "-1");
	(*count)++;
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
}

static void walk(bool single)
{
	int total = 0;

	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		struct mbuf img = { 0 };
		int n = 0;

		save_image(d, &img);
		for (int a = 0; a < NREAL; a++)
			for (int b = 0; b < NREAL; b++) {
				int from = real_states[a], to = real_states[b];

				if (from == to || cf_arc_blocked(from, to) ||
				    !cf_state_supported(d->flags, from) ||
				    !cf_state_supported(d->flags, to) ||
				    cf_arc_single(d->flags, from, to) != single)
					continue;
				check_arc(d, from, to, &img, &n);
			}
		cf_must_reset(d);
		mbuf_free(&img);
		mt_log("dev %s: %d %s arcs", d->name, n,
		       single ? "single" : "combination");
		ASSERT_GT(n, 0);
		total += n;
	}
	ASSERT_GT(total, 0);
}

TEST(migration_flags_valid)
{
	for (int i = 0; i < cf_ndevices(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		char fl[64];

		mt_log("dev %s: %s", d->name,
		       cf_flags_str(d->flags, fl, sizeof(fl)));
		/* vfio.h: STOP_COPY is mandatory; other bits are undefined. */
		EXPECT_TRUE(d->flags & VFIO_MIGRATION_STOP_COPY);
		EXPECT_EQ(0, d->flags & ~(uint64_t)(VFIO_MIGRATION_STOP_COPY |
						    VFIO_MIGRATION_P2P |
						    VFIO_MIGRATION_PRE_COPY));
	}
}

TEST_TIMEOUT(single_arcs, 300)
{
	walk(true);
}

TEST_TIMEOUT(combination_arcs, 600)
{
	walk(false);
}

/* The target is refused at once, with EINVAL, and nothing moves. */
static void refused(struct cf_dev *d, uint32_t to, const char *why)
{
	int from = cf_state(d), fd = -2, ret, now;
	uint64_t t0 = vfio_now_ns();

	ret = cf_set_state(d, to, &fd);
	now = cf_state(d);
	if (ret != -EINVAL)
		mt_fail_here(__FILE__, __LINE__, "dev %s: %s->%u (%s): got "
			     "%s (%d), expected EINVAL", d->name,
			     vfio_state_name(from), to, why,
			     ret ? strerror(-ret) : "success", ret);
	if (now != from)
		mt_fail_here(__FILE__, __LINE__, "dev %s: refused %s->%u (%s) "
			     "left the device in %s", d->name,
			     vfio_state_name(from), to, why,
			     vfio_state_name(now));
	EXPECT_EQ(-1, fd);
	EXPECT_LT(vfio_now_ns() - t0, 2000000000ull);
}

TEST_TIMEOUT(forbidden_targets_refused, 60)
{
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		const int from[] = { MT_RUNNING, MT_STOP };

		for (unsigned k = 0; k < 2; k++) {
			cf_must_reset(d);
			if (from[k] != MT_RUNNING)
				cf_must(d, from[k]);
			refused(d, MT_ERROR, "ERROR is not a target");
			refused(d, 8, "no such state");
			refused(d, 0xffffffffu, "no such state");
			for (int s = MT_RUNNING_P2P; s <= MT_PRE_COPY_P2P; s++)
				if (!cf_state_supported(d->flags, s))
					refused(d, s, "state the flags lack");
		}
		cf_must_reset(d);
	}
}

TEST_TIMEOUT(blocked_arcs_refused, 30)
{
	const char *opt = getenv("VFIO_MIGTEST_SEND_BLOCKED_ARCS");

	/* A device without migration skips for that reason first. */
	cf_use(cf_device(0));
	if (!opt || strcmp(opt, "1"))
		SKIP("STOP_COPY->PRE_COPY[_P2P] not sent: the 6.12 core helper "
		     "vfio_mig_get_next_state() loops forever on them; set "
		     "VFIO_MIGTEST_SEND_BLOCKED_ARCS=1 on a fixed kernel");
	for (int i = 0; i < ndevs(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		int fd;

		cf_need(d, VFIO_MIGRATION_PRE_COPY, "PRE_COPY");
		fd = cf_must(d, MT_STOP_COPY);
		for (int s = MT_PRE_COPY; s <= MT_PRE_COPY_P2P; s++) {
			int nfd = -2, ret;

			if (!cf_state_supported(d->flags, s))
				continue;
			ret = cf_set_state(d, s, &nfd);
			if (!ret)
				mt_fail_here(__FILE__, __LINE__, "dev %s: "
					     "STOP_COPY->%s accepted",
					     d->name, vfio_state_name(s));
			EXPECT_EQ(MT_STOP_COPY, cf_state(d));
		}
		close(fd);
		cf_must_reset(d);
	}
}

/* A data_fd that outlived its session must give no data and take none. */
static void expect_dead(struct cf_dev *d, int fd, int state, const char *how)
{
	char buf[64] = { 0 };
	ssize_t n;

	if (state == MT_RESUMING) {
		n = write(fd, buf, sizeof(buf));
		if (n >= 0)
			mt_fail_here(__FILE__, __LINE__, "dev %s: data_fd of "
				     "RESUMING still takes writes (%zd bytes) "
				     "after %s", d->name, n, how);
	} else {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			mt_fail_here(__FILE__, __LINE__, "dev %s: data_fd of "
				     "%s still gives data (%zd bytes) after %s",
				     d->name, vfio_state_name(state), n, how);
	}
}

TEST_TIMEOUT(reset_from_every_state, 300)
{
	for (int i = 0; i < cf_ndevices(); i++) {
		struct cf_dev *d = cf_use(cf_device(i));
		int n = 0;

		for (int k = 0; k < NREAL; k++) {
			int s = real_states[k], fd, ret, now;

			if (!cf_state_supported(d->flags, s))
				continue;
			cf_must_reset(d);
			fd = s == MT_RUNNING ? -1 : cf_must(d, s);
			ret = cf_reset(d);
			now = ret ? -1 : cf_state(d);
			if (ret || now != MT_RUNNING)
				mt_fail_here(__FILE__, __LINE__, "dev %s: "
					     "VFIO_DEVICE_RESET in %s: %s (%d), "
					     "then in %s", d->name,
					     vfio_state_name(s),
					     ret ? strerror(-ret) : "ok", ret,
					     vfio_state_name(now));
			if (fd >= 0) {
				expect_dead(d, fd, s, "VFIO_DEVICE_RESET");
				close(fd);
			}
			n++;
		}
		mt_log("dev %s: reset from %d states", d->name, n);
		ASSERT_GT(n, 3);
	}
}

CONFORMANCE_PROGRAM()
TEST_MAIN()
