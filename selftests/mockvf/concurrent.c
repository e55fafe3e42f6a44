// SPDX-License-Identifier: GPL-2.0
/*
 * concurrent - 16 devices migrated at once by 16 threads: every state
 * change runs in parallel (the firmware model does not serialise them
 * with fw_max_concurrent=0), the transition logs prove the ordering the
 * engine imposed (no device entered STOP_COPY before every device was in
 * PRE_COPY_P2P) and every destination ends with its source's digest.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define NDEV 16

struct job {
	struct mvt_mig m;
	pthread_barrier_t *bar;
	uint64_t q0, q1;
	long ret;
};

static void *run(void *arg)
{
	struct job *j = arg;

	j->ret = mvt_mig_prepare(&j->m);
	pthread_barrier_wait(j->bar);
	j->q0 = vfio_now_ns();
	if (!j->ret)
		j->ret = mvt_mig_quiesce(&j->m);
	j->q1 = vfio_now_ns();
	/* the engine waits for everyone before stop-and-copy */
	pthread_barrier_wait(j->bar);
	if (!j->ret)
		j->ret = mvt_mig_switchover(&j->m);
	return NULL;
}

static int find(struct mvt_log_ent *e, int n, const char *from,
		const char *to)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(e[i].from, from) && !strcmp(e[i].to, to))
			return i;
	return -1;
}

TEST_TIMEOUT(sixteen_devices, 240)
{
	static char us[NDEV][MOCKVF_UUID_LEN], ud[NDEV][MOCKVF_UUID_LEN];
	static struct job jobs[NDEV];
	pthread_barrier_t bar;
	pthread_t th[NDEV];
	uint64_t last_p2p = 0, first_stop_copy = UINT64_MAX;
	uint64_t q0 = UINT64_MAX, q1 = 0;
	int i;

	mvt_require();
	ASSERT_EQ(0, pthread_barrier_init(&bar, NULL, NDEV));
	for (i = 0; i < NDEV; i++) {
		mvt_create("tiny", us[i]);
		mvt_create("tiny", ud[i]);
		/* 100 ms of suspend each: 1.6 s if serialised */
		mvt_set(us[i], "timing/suspend_initiator_us", "100000");
		mvt_set(us[i], "dirty_rate", "100000");
		jobs[i].m.src = mvt_open(us[i]);
		jobs[i].m.dst = mvt_open(ud[i]);
		jobs[i].m.precopy = 1;
		jobs[i].bar = &bar;
	}
	for (i = 0; i < NDEV; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, run, &jobs[i]));
	for (i = 0; i < NDEV; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	for (i = 0; i < NDEV; i++) {
		if (jobs[i].ret)
			mt_log("device %d: %s: %s", i, jobs[i].m.what,
			       strerror(-(int)jobs[i].ret));
		ASSERT_EQ(0, jobs[i].ret);
		q0 = jobs[i].q0 < q0 ? jobs[i].q0 : q0;
		q1 = jobs[i].q1 > q1 ? jobs[i].q1 : q1;
	}
	mt_log("16 x PRE_COPY->PRE_COPY_P2P (100 ms each) took %.1f ms",
	       (q1 - q0) / 1e6);
	EXPECT_LT(q1 - q0, 800000000ull);

	for (i = 0; i < NDEV; i++) {
		struct mvt_log_ent e[32];
		char *log = mvt_read_log(us[i]);
		int n = mvt_parse_log(log, e, 32), a, b;

		free(log);
		a = find(e, n, "PRE_COPY", "PRE_COPY_P2P");
		b = find(e, n, "PRE_COPY_P2P", "STOP_COPY");
		ASSERT_GE(a, 0);
		ASSERT_GE(b, 0);
		if (e[a].end > last_p2p)
			last_p2p = e[a].end;
		if (e[b].start < first_stop_copy)
			first_stop_copy = e[b].start;
	}
	ASSERT_LE(last_p2p, first_stop_copy);

	for (i = 0; i < NDEV; i++) {
		char dg[17];

		snprintf(dg, sizeof(dg), "%s", mvt_attr(us[i], "digest"));
		ASSERT_STREQ(dg, mvt_attr(ud[i], "digest"));
		ASSERT_STREQ("RUNNING", mvt_attr(ud[i], "state"));
		ASSERT_EQ(0, mvt_mig_finish(&jobs[i].m));
	}
	pthread_barrier_destroy(&bar);
}

TEST_MAIN()
