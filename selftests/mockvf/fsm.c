// SPDX-License-Identifier: GPL-2.0
/*
 * fsm - what only mockvf's transition log and knobs can show about the
 * state machine: every combination request walks a chain of single steps
 * (no RESUMING or new saving state inside) and the sysfs state follows;
 * the blocked STOP_COPY -> PRE_COPY[_P2P] arcs are refused before 6.12's
 * looping helper is reached; a faulted step leaves ERROR, which only a
 * reset leaves.  The device-agnostic part (arcs succeed and read back,
 * data_fd on the right arcs, forbidden targets, unsupported states) is in
 * selftests/conformance/state_machine.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <unistd.h>

#define S(x) MT_##x

struct profile {
	const char *name;
	uint64_t flags;
};

static const struct profile profiles[] = {
	{ "tiny", VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY },
	{ "nopre", VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P },
	{ "nop2p", VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY },
};

static int supported(uint64_t flags, int st)
{
	switch (st) {
	case S(STOP): case S(RUNNING): case S(STOP_COPY): case S(RESUMING):
		return 1;
	case S(RUNNING_P2P):
		return !!(flags & VFIO_MIGRATION_P2P);
	case S(PRE_COPY):
		return !!(flags & VFIO_MIGRATION_PRE_COPY);
	case S(PRE_COPY_P2P):
		return (flags & VFIO_MIGRATION_PRE_COPY) &&
		       (flags & VFIO_MIGRATION_P2P);
	}
	return 0;
}

static int saving(int st)
{
	return st == S(PRE_COPY) || st == S(PRE_COPY_P2P);
}

static void step_chains(const struct profile *p)
{
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	uint64_t flags = 0;
	int from, to, arcs = 0;

	mvt_require();
	mvt_create(p->name, uuid);
	d = mvt_open(uuid);
	ASSERT_EQ(0, vfio_dev_mig_flags(d, &flags));
	ASSERT_EQ(p->flags, flags);

	for (from = S(STOP); from <= S(PRE_COPY_P2P); from++) {
		for (to = S(STOP); to <= S(PRE_COPY_P2P); to++) {
			struct mvt_log_ent ents[16];
			char *log;
			int fd, n, i;

			if (from == to || !supported(flags, from) ||
			    !supported(flags, to))
				continue;
			if (from == S(STOP_COPY) && saving(to))
				continue;	/* blocked, see invalid_arcs */
			ASSERT_EQ(0, vfio_dev_reset(d));
			ASSERT_EQ(S(RUNNING), mvt_state(d));
			fd = mvt_goto(d, from);
			if (fd >= 0)
				close(fd);
			mvt_set(uuid, "log", "clear");

			fd = mvt_goto(d, to);
			if (fd >= 0)
				close(fd);
			ASSERT_STREQ(vfio_state_name(to),
				     mvt_attr(uuid, "state"));

			/* the log shows a chain of steps from -> to */
			log = mvt_read_log(uuid);
			n = mvt_parse_log(log, ents, 16);
			free(log);
			ASSERT_GE(n, 1);
			ASSERT_LE(n, 4);
			ASSERT_STREQ(vfio_state_name(from), ents[0].from);
			ASSERT_STREQ(vfio_state_name(to), ents[n - 1].to);
			for (i = 0; i < n; i++) {
				EXPECT_EQ(0, ents[i].ret);
				EXPECT_LE(ents[i].start, ents[i].end);
				if (i + 1 < n) {
					ASSERT_STREQ(ents[i].to,
						     ents[i + 1].from);
					/*
					 * no resuming or new saving state
					 * inside (staying in the precopy
					 * group is fine)
					 */
					EXPECT_TRUE(strcmp(ents[i].to,
							   "RESUMING") &&
						    strcmp(ents[i].to,
							   "STOP_COPY"));
					if (!saving(from))
						EXPECT_TRUE(strncmp(ents[i].to,
							"PRE_COPY", 8));
				}
			}
			arcs++;
		}
	}
	mt_log("%s: %d arcs", p->name, arcs);
	ASSERT_GE(arcs, 14);
}

TEST(step_chains_tiny) { step_chains(&profiles[0]); }
TEST(step_chains_nopre) { step_chains(&profiles[1]); }
TEST(step_chains_nop2p) { step_chains(&profiles[2]); }

static void expect_refused(struct vfio_dev *d, int to, int stays)
{
	uint64_t t0 = vfio_now_ns();
	int fd = 123;

	EXPECT_EQ(-EINVAL, vfio_dev_set_state(d, to, &fd));
	EXPECT_EQ(-1, fd);
	/* promptly: no helper loop, no firmware call */
	EXPECT_LT(vfio_now_ns() - t0, 1000000000ull);
	EXPECT_EQ(stays, mvt_state(d));
}

TEST_TIMEOUT(invalid_arcs, 30)
{
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int fd, st;

	mvt_require();
	mvt_create("tiny", uuid);
	d = mvt_open(uuid);

	/* STOP_COPY -> PRE_COPY[_P2P]: 6.12's helper would spin forever */
	fd = mvt_goto(d, S(STOP_COPY));
	close(fd);
	expect_refused(d, S(PRE_COPY), S(STOP_COPY));
	expect_refused(d, S(PRE_COPY_P2P), S(STOP_COPY));
	/* the same through a multi-step-looking request from PRE_COPY_P2P */
	ASSERT_EQ(0, vfio_dev_reset(d));
	fd = mvt_goto(d, S(PRE_COPY_P2P));
	ASSERT_EQ(-1, mvt_goto(d, S(STOP_COPY)));
	expect_refused(d, S(PRE_COPY), S(STOP_COPY));
	close(fd);

	/* out of ERROR only by reset */
	ASSERT_EQ(0, vfio_dev_reset(d));
	mvt_set(uuid, "fault", "fail STOP 1 5");
	ASSERT_EQ(-EIO, vfio_dev_set_state(d, S(STOP), NULL));
	ASSERT_EQ(S(ERROR), mvt_state(d));
	for (st = S(ERROR); st <= S(PRE_COPY_P2P); st++)
		expect_refused(d, st, S(ERROR));
	ASSERT_STREQ("ERROR", mvt_attr(uuid, "state"));
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(S(RUNNING), mvt_state(d));
	ASSERT_EQ(-1, mvt_goto(d, S(STOP)));
}

TEST(log_uses_monotonic_clock)
{
	char uuid[MOCKVF_UUID_LEN];
	struct mvt_log_ent e[8];
	struct vfio_dev *d;
	uint64_t t0, t1;
	char *log;
	int n;

	mvt_require();
	mvt_create("tiny", uuid);
	d = mvt_open(uuid);
	mvt_set(uuid, "log", "clear");
	t0 = vfio_now_ns();
	mvt_goto(d, S(STOP));
	t1 = vfio_now_ns();
	log = mvt_read_log(uuid);
	n = mvt_parse_log(log, e, 8);
	free(log);
	ASSERT_EQ(2, n);	/* RUNNING -> RUNNING_P2P -> STOP */
	EXPECT_GE(e[0].start, t0);
	EXPECT_LE(e[1].end, t1);
	EXPECT_LE(e[0].end, e[1].start);
	mvt_set(uuid, "log", "clear");
	log = mvt_read_log(uuid);
	EXPECT_EQ(0, (int)strlen(log));
	free(log);
	EXPECT_EQ(-EINVAL, mockvf_attr_write(uuid, "log", "bogus"));
}

TEST_MAIN()
