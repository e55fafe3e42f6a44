// SPDX-License-Identifier: GPL-2.0
/*
 * local_migrate - migrate 1, 2, 4 and 8 mock devices in one process, with
 * sequential and parallel transitions, over in-memory channels (the local
 * mode's default) and over socketpairs; every destination digest must
 * equal its source's, every destination RUNNING, every source stopped.
 */
#include "engine_util.h"

static void migrate_ch(const char *profile, unsigned n, int transitions,
		       unsigned channels)
{
	char src[EU_MAX][MOCKVF_UUID_LEN], dst[EU_MAX][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make(profile, profile, n, src, dst);
	vfiomig_opts_init(&o);
	o.transitions = transitions;
	o.channels = channels;
	struct eu_result *r = eu_local(src, dst, n, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	for (unsigned i = 0; i < n; i++) {
		mt_log("dev %u: %s -> %s digest %s / %s, states %s / %s", i, src[i],
		       dst[i], r->src_digest[i], r->dst_digest[i], r->src_state[i],
		       r->dst_state[i]);
		ASSERT_STREQ(r->src_digest[i], r->dst_digest[i]);
		ASSERT_STREQ("RUNNING", r->dst_state[i]);
		ASSERT_STREQ("STOP", r->src_state[i]);
	}
	uint64_t dt = vfiomig_report_downtime_ns(r->rep);
	mt_log("%u x %s, %s: downtime %.3f ms", n, profile,
	       transitions ? "sequential" : "parallel", dt / 1e6);
	ASSERT_GT(dt, 0);
}

static void migrate(const char *profile, unsigned n, int transitions)
{
	migrate_ch(profile, n, transitions, 0);
}

TEST(one_parallel) { migrate("tiny", 1, VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(one_sequential) { migrate("tiny", 1, VFIOMIG_TRANSITIONS_SEQUENTIAL); }
TEST(two_parallel) { migrate("tiny", 2, VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(two_sequential) { migrate("tiny", 2, VFIOMIG_TRANSITIONS_SEQUENTIAL); }
TEST(four_parallel) { migrate("tiny", 4, VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(four_sequential) { migrate("tiny", 4, VFIOMIG_TRANSITIONS_SEQUENTIAL); }
TEST_TIMEOUT(eight_parallel, 120) { migrate("tiny", 8, VFIOMIG_TRANSITIONS_PARALLEL); }
TEST_TIMEOUT(eight_sequential, 120) { migrate("tiny", 8, VFIOMIG_TRANSITIONS_SEQUENTIAL); }

/* Stop-copy data of 4 devices multiplexed on 1 and on 2 channels. */
TEST(four_parallel_one_channel) { migrate_ch("tiny", 4, VFIOMIG_TRANSITIONS_PARALLEL, 1); }
TEST(four_parallel_two_channels) { migrate_ch("tiny", 4, VFIOMIG_TRANSITIONS_PARALLEL, 2); }

/* nopre: no PRE_COPY, so no precopy and no switchover ack; still migrates. */
TEST(nopre_parallel) { migrate("nopre", 2, VFIOMIG_TRANSITIONS_PARALLEL); }

/* The same over socketpairs, the transport of send/receive. */
TEST(four_parallel_two_channels_socket)
{
	eu_socket_transport = true;
	migrate_ch("tiny", 4, VFIOMIG_TRANSITIONS_PARALLEL, 2);
}

TEST(nopre_sequential_socket)
{
	eu_socket_transport = true;
	migrate("nopre", 2, VFIOMIG_TRANSITIONS_SEQUENTIAL);
}
TEST(nopre_sequential) { migrate("nopre", 2, VFIOMIG_TRANSITIONS_SEQUENTIAL); }

/*
 * nop2p: no P2P quiescent state, so the barrier cannot separate "all
 * quiesced" from "stopping"; documented behaviour: the devices go straight
 * to STOP_COPY after the (empty) barrier, and RESUMING->STOP->RUNNING.
 */
TEST(nop2p_parallel) { migrate("nop2p", 2, VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(nop2p_sequential) { migrate("nop2p", 2, VFIOMIG_TRANSITIONS_SEQUENTIAL); }

/* Mixed set: a precopy device and a nopre device in one session. */
TEST(mixed_tiny_nopre)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_create("tiny", src[0]);
	eu_create("tiny", dst[0]);
	eu_create("nopre", src[1]);
	eu_create("nopre", dst[1]);
	vfiomig_opts_init(&o);
	struct eu_result *r = eu_local(src, dst, 2, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	for (unsigned i = 0; i < 2; i++)
		ASSERT_STREQ(r->src_digest[i], r->dst_digest[i]);
}

/* Flag mismatch: refused in the handshake, before any device is touched. */
TEST(flags_mismatch_refused)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;
	char log[64];

	eu_need_mockvf();
	eu_create("tiny", src[0]);
	eu_create("nopre", dst[0]);
	eu_set(src[0], "log", "clear");
	vfiomig_opts_init(&o);
	struct eu_result *r = eu_local(src, dst, 1, &o);
	ASSERT_NE(0, r->src_ret);
	ASSERT_NE(0, r->dst_ret);
	ASSERT_TRUE(strstr(r->err, "flags differ") != NULL);
	ASSERT_STREQ("RUNNING", r->src_state[0]);
	ASSERT_STREQ("RUNNING", r->dst_state[0]);
	/* Nothing was stopped: no transition at all on the source. */
	eu_attr(src[0], "log", log, sizeof(log));
	ASSERT_STREQ("", log);
}

TEST_MAIN()
