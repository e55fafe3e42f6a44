// SPDX-License-Identifier: GPL-2.0
/*
 * faults - every injected fault shows in the transition log; a failed entry
 * puts the device in ERROR, a reset brings it back to RUNNING and it then
 * migrates normally.
 *
 * Mode relied on: error_on_fail=1 (set explicitly; the cx7 default, like
 * mlx5, stays in the last state reached: see fidelity).
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *last_line(const char *log, char *out, size_t len)
{
	size_t n = strlen(log);
	const char *p;

	while (n && log[n - 1] == '\n')
		n--;
	p = log + n;
	while (p > log && p[-1] != '\n')
		p--;
	snprintf(out, len, "%.*s", (int)(log + n - p), p);
	return out;
}

static void check_works(struct vfio_dev *d, const char *uuid)
{
	char u2[MOCKVF_UUID_LEN], dg[17];
	struct vfio_dev *peer;

	mvt_create("tiny", u2);
	peer = mvt_open(u2);
	mvt_migrate(d, peer, 1, dg);
	ASSERT_STREQ(dg, mvt_attr(u2, "digest"));
	ASSERT_EQ(0, vfio_dev_reset(d));
	(void)uuid;
}

/* Arm "fail TARGET 1 ERR", walk from @from to @to, expect ERROR. */
static void fail_entry(int from, int via, int to, int err)
{
	char u[MOCKVF_UUID_LEN], cmd[64], line[256], want[128];
	struct vfio_dev *d;
	char *log;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "error_on_fail", "1");
	d = mvt_open(u);
	fd = mvt_goto(d, from);
	snprintf(cmd, sizeof(cmd), "fail %s 1 %d", vfio_state_name(via), err);
	mvt_set(u, "fault", cmd);
	snprintf(want, sizeof(want), "fail %s 1 %d", vfio_state_name(via),
		 err);
	ASSERT_STREQ(want, mvt_attr(u, "fault"));
	ASSERT_EQ(-err, vfio_dev_set_state(d, to, NULL));
	ASSERT_EQ(MT_ERROR, mvt_state(d));
	ASSERT_STREQ("ERROR", mvt_attr(u, "state"));
	ASSERT_STREQ("", mvt_attr(u, "fault"));	/* used up */
	log = mvt_read_log(u);
	last_line(log, line, sizeof(line));
	free(log);
	snprintf(want, sizeof(want), " %s -%d fault", vfio_state_name(via),
		 err);
	mt_log("%s", line);
	ASSERT_TRUE(strstr(line, want) != NULL);
	/* a data_fd from before is dead now */
	if (fd >= 0) {
		char c;

		ASSERT_EQ(-1, read(fd, &c, 1));
		close(fd);
	}
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
	log = mvt_read_log(u);
	last_line(log, line, sizeof(line));
	free(log);
	ASSERT_TRUE(strstr(line, "ERROR RUNNING 0 reset") != NULL);
	check_works(d, u);
}

TEST(fail_stop) { fail_entry(MT_RUNNING, MT_STOP, MT_STOP, 5); }
TEST(fail_running_p2p_in_multistep)
{
	fail_entry(MT_RUNNING, MT_RUNNING_P2P, MT_STOP_COPY, 16);
}
TEST(fail_running) { fail_entry(MT_STOP, MT_RUNNING, MT_RUNNING, 110); }
TEST(fail_stop_copy) { fail_entry(MT_PRE_COPY_P2P, MT_STOP_COPY, MT_STOP_COPY, 12); }
TEST(fail_resuming) { fail_entry(MT_STOP, MT_RESUMING, MT_RESUMING, 5); }
TEST(fail_pre_copy) { fail_entry(MT_RUNNING, MT_PRE_COPY, MT_PRE_COPY, 28); }
TEST(fail_pre_copy_p2p) { fail_entry(MT_PRE_COPY, MT_PRE_COPY_P2P, MT_PRE_COPY_P2P, 5); }
TEST(fail_stop_from_resuming) { fail_entry(MT_RESUMING, MT_STOP, MT_STOP, 71); }

TEST(fail_count)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "error_on_fail", "1");
	d = mvt_open(u);
	mvt_set(u, "fault", "fail STOP 2 5");
	ASSERT_EQ(-EIO, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_STREQ("fail STOP 1 5", mvt_attr(u, "fault"));
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(-EIO, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(0, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_EQ(MT_STOP, mvt_state(d));
}

TEST(delay_one_arc)
{
	char u[MOCKVF_UUID_LEN], line[256];
	struct vfio_dev *d;
	uint64_t t0, dt;
	char *log;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	mvt_set(u, "fault", "delay RUNNING_P2P STOP 300000");
	ASSERT_STREQ("delay RUNNING_P2P STOP 300000", mvt_attr(u, "fault"));
	mvt_set(u, "log", "clear");
	t0 = vfio_now_ns();
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	dt = vfio_now_ns() - t0;
	EXPECT_GE(dt, 300000000ull);
	log = mvt_read_log(u);
	last_line(log, line, sizeof(line));
	ASSERT_TRUE(strstr(line, "RUNNING_P2P STOP 0 delay") != NULL);
	ASSERT_TRUE(strstr(log, "RUNNING RUNNING_P2P 0\n") != NULL);
	free(log);
	/* other arcs are not delayed */
	t0 = vfio_now_ns();
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));
	EXPECT_LT(vfio_now_ns() - t0, 200000000ull);
	/* a delay is permanent until cleared */
	mvt_set(u, "fault", "clear");
	ASSERT_STREQ("", mvt_attr(u, "fault"));
	t0 = vfio_now_ns();
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	EXPECT_LT(vfio_now_ns() - t0, 200000000ull);
}

TEST(clear_disarms_all)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	mvt_set(u, "fault", "fail STOP 3 5");
	mvt_set(u, "fault", "fail STOP_COPY 1 5");
	mvt_set(u, "fault", "corrupt 10");
	mvt_set(u, "fault", "truncate 100");
	mvt_set(u, "fault", "delay STOP RUNNING_P2P 10");
	ASSERT_TRUE(strlen(mvt_attr(u, "fault")) > 40);
	mvt_set(u, "fault", "clear");
	ASSERT_STREQ("", mvt_attr(u, "fault"));
	fd = mvt_goto(d, MT_STOP_COPY);
	close(fd);
	ASSERT_EQ(MT_STOP_COPY, mvt_state(d));
}

/*
 * VFIO_DEVICE_RESET during a long transition does not wait for it: the
 * reset is deferred to the end of the transition (mlx5's pattern).
 */
TEST_TIMEOUT(deferred_reset, 30)
{
	char u[MOCKVF_UUID_LEN], line[256];
	struct vfio_dev *d;
	uint64_t t0, dt;
	int status;
	pid_t pid;
	char *log;

	mvt_require();
	mvt_create("tiny", u);
	mvt_set(u, "timing/suspend_initiator_us", "500000");
	d = mvt_open(u);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(vfio_dev_set_state(d, MT_STOP, NULL) ? 1 : 0);
	usleep(150000);
	t0 = vfio_now_ns();
	ASSERT_EQ(0, vfio_dev_reset(d));
	dt = vfio_now_ns() - t0;
	EXPECT_LT(dt, 250000000ull);	/* did not wait the 350 ms left */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* the transition completed, then the reset applied */
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
	log = mvt_read_log(u);
	last_line(log, line, sizeof(line));
	free(log);
	ASSERT_TRUE(strstr(line, " RUNNING 0 reset") != NULL);
}

TEST(bad_fault_specs)
{
	static const char *const bad[] = {
		"fail", "fail STOP", "fail STOP 1", "fail BOGUS 1 5",
		"fail ERROR 1 5", "fail STOP 0 5", "fail STOP 1 0",
		"fail STOP 1 5000", "fail STOP x 5", "corrupt", "corrupt -1",
		"truncate x", "delay STOP STOP 10", "delay STOP RUNNING",
		"delay STOP RUNNING 99999999", "explode", "clear now",
	};
	char u[MOCKVF_UUID_LEN];

	mvt_require();
	mvt_create("tiny", u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = mockvf_attr_write(u, "fault", bad[i]);

		if (ret != -EINVAL)
			mt_log("'%s' gave %d", bad[i], ret);
		EXPECT_EQ(-EINVAL, ret);
	}
	ASSERT_STREQ("", mvt_attr(u, "fault"));
}

TEST_MAIN()
