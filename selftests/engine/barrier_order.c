// SPDX-License-Identifier: GPL-2.0
/*
 * barrier_order - prove the P2P barrier from mockvf's transition logs: on
 * the source no device enters STOP_COPY before the last one has entered
 * its P2P state; on the destination no device enters RUNNING before the
 * last one has entered RUNNING_P2P.  One device is slowed on its P2P arc so
 * that a missing barrier would show.
 */
#include "engine_util.h"

#define N 4
#define MAXLOG 256

static void check(int transitions)
{
	char src[N][MOCKVF_UUID_LEN], dst[N][MOCKVF_UUID_LEN];
	struct eu_logline lg[MAXLOG];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", N, src, dst);
	/* The last device is slow to quiesce on both ends (50 ms). */
	eu_set(src[N - 1], "fault", "delay PRE_COPY PRE_COPY_P2P 50000");
	eu_set(dst[N - 1], "fault", "delay STOP RUNNING_P2P 50000");
	for (int i = 0; i < N; i++) {
		eu_set(src[i], "log", "clear");
		eu_set(dst[i], "log", "clear");
	}
	vfiomig_opts_init(&o);
	o.transitions = transitions;
	struct eu_result *r = eu_local(src, dst, N, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);

	unsigned long long last_p2p = 0, first_sc = ~0ULL;
	unsigned long long last_rp2p = 0, first_run = ~0ULL, first_sc_end = ~0ULL,
			   last_sc_start = 0;
	for (int i = 0; i < N; i++) {
		int n = eu_read_log(src[i], lg, MAXLOG);
		ASSERT_GT(n, 0);
		for (int k = 0; k < n; k++) {
			if (!strcmp(lg[k].to, "PRE_COPY_P2P") && lg[k].end > last_p2p)
				last_p2p = lg[k].end;
			if (!strcmp(lg[k].to, "STOP_COPY")) {
				if (lg[k].start < first_sc)
					first_sc = lg[k].start;
				if (lg[k].end < first_sc_end)
					first_sc_end = lg[k].end;
				if (lg[k].start > last_sc_start)
					last_sc_start = lg[k].start;
			}
		}
		n = eu_read_log(dst[i], lg, MAXLOG);
		ASSERT_GT(n, 0);
		for (int k = 0; k < n; k++) {
			/* Only the resume half: RUNNING_P2P entered from STOP after RESUMING. */
			if (!strcmp(lg[k].to, "RUNNING_P2P") && !strcmp(lg[k].from, "STOP") &&
			    lg[k].end > last_rp2p)
				last_rp2p = lg[k].end;
			if (!strcmp(lg[k].to, "RUNNING") && lg[k].start < first_run)
				first_run = lg[k].start;
		}
	}
	mt_log("source: last P2P entry ends %llu, first STOP_COPY starts %llu (+%.3f ms)",
	       last_p2p, first_sc, (double)(first_sc - last_p2p) / 1e6);
	mt_log("destination: last RUNNING_P2P ends %llu, first RUNNING starts %llu (+%.3f ms)",
	       last_rp2p, first_run, (double)(first_run - last_rp2p) / 1e6);
	ASSERT_GT(last_p2p, 0);
	ASSERT_GT(last_rp2p, 0);
	ASSERT_LE(last_p2p, first_sc);
	ASSERT_LE(last_rp2p, first_run);
	if (transitions == VFIOMIG_TRANSITIONS_PARALLEL)
		mt_log("STOP_COPY entries %s overlap (last start %llu, first end %llu)",
		       last_sc_start < first_sc_end ? "do" : "do not",
		       last_sc_start, first_sc_end);
}

TEST(parallel_source_and_destination) { check(VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(sequential_source_and_destination) { check(VFIOMIG_TRANSITIONS_SEQUENTIAL); }

TEST_MAIN()
