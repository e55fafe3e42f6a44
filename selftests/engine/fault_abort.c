// SPDX-License-Identifier: GPL-2.0
/*
 * fault_abort - a device failing any arc of the migration, on the source
 * or the destination, aborts the session cleanly: both ends report an
 * error and every device of both ends is RUNNING again.
 *
 * Modes: every fault runs with the mock's original error_on_fail=1 (the
 * failed device enters ERROR, so the engine must reset it) and, in the
 * *_mlx5 tests, with mlx5's error_on_fail=0 (the device stays in the last
 * state it reached and the engine must walk it back).  The stream faults
 * rely on a strict destination (resume_strict=1: the truncation is caught
 * at RESUMING->STOP); with mlx5's resume see mlx5_stream.c.
 *
 * Every fault runs over in-memory channels (eu_local's default); the
 * *_socket tests repeat a few over socketpairs, so both transports are
 * shown to abort alike.
 */
#include "engine_util.h"

#define N 2

static void fault_mode(bool on_source, const char *spec, int transitions,
		       const char *error_on_fail)
{
	char src[N][MOCKVF_UUID_LEN], dst[N][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", N, src, dst);
	for (int i = 0; i < N; i++) {
		eu_set(src[i], "error_on_fail", error_on_fail);
		eu_set(dst[i], "error_on_fail", error_on_fail);
		eu_set(dst[i], "resume_strict", "1");
	}
	/* Device 1 fails; device 0 must be recovered although it did nothing wrong. */
	eu_set(on_source ? src[1] : dst[1], "fault", spec);
	vfiomig_opts_init(&o);
	o.transitions = transitions;
	o.io_timeout_ms = 5000;
	struct eu_result *r = eu_local(src, dst, N, &o);
	mt_log("%s fault '%s': source %d (%s), destination %d (%s)",
	       on_source ? "source" : "destination", spec, r->src_ret, r->err,
	       r->dst_ret, r->dst_err);
	EXPECT_NE(0, r->src_ret);
	EXPECT_NE(0, r->dst_ret);
	for (int i = 0; i < N; i++) {
		mt_log("dev %d: source %s, destination %s", i, r->src_state[i],
		       r->dst_state[i]);
		EXPECT_EQ(0, strcmp(r->src_state[i], "RUNNING"));
		EXPECT_EQ(0, strcmp(r->dst_state[i], "RUNNING"));
	}
}

static void fault(bool on_source, const char *spec, int transitions)
{
	fault_mode(on_source, spec, transitions, "1");
}

static void fault_mlx5(bool on_source, const char *spec, int transitions)
{
	fault_mode(on_source, spec, transitions, "0");
}

/* Source arcs: RUNNING->PRE_COPY, PRE_COPY->PRE_COPY_P2P, PRE_COPY_P2P->STOP_COPY. */
TEST(src_pre_copy) { fault(true, "fail PRE_COPY 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_pre_copy_p2p) { fault(true, "fail PRE_COPY_P2P 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_pre_copy_p2p_seq) { fault(true, "fail PRE_COPY_P2P 1 5", VFIOMIG_TRANSITIONS_SEQUENTIAL); }
TEST(src_stop_copy) { fault(true, "fail STOP_COPY 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_stop_copy_seq) { fault(true, "fail STOP_COPY 1 5", VFIOMIG_TRANSITIONS_SEQUENTIAL); }
/* A corrupted or truncated device stream makes RESUMING->STOP fail on the destination. */
TEST(src_stream_corrupt) { fault(true, "corrupt 100", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_stream_truncated) { fault(true, "truncate 100", VFIOMIG_TRANSITIONS_PARALLEL); }

static void fault_socket(bool on_source, const char *spec, int transitions)
{
	eu_socket_transport = true;
	fault(on_source, spec, transitions);
}

TEST(src_stop_copy_socket) { fault_socket(true, "fail STOP_COPY 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_stream_corrupt_socket) { fault_socket(true, "corrupt 100", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_running_socket) { fault_socket(false, "fail RUNNING 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }

/* Destination arcs on the way in (RUNNING->RUNNING_P2P->STOP->RESUMING) and out (->RUNNING). */
TEST(dst_running_p2p) { fault(false, "fail RUNNING_P2P 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_stop) { fault(false, "fail STOP 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_resuming) { fault(false, "fail RESUMING 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_running) { fault(false, "fail RUNNING 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_running_seq) { fault(false, "fail RUNNING 1 5", VFIOMIG_TRANSITIONS_SEQUENTIAL); }

/* The same arcs with mlx5's "no ERROR state" (error_on_fail=0). */
TEST(src_pre_copy_mlx5) { fault_mlx5(true, "fail PRE_COPY 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_pre_copy_p2p_mlx5) { fault_mlx5(true, "fail PRE_COPY_P2P 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_stop_copy_mlx5) { fault_mlx5(true, "fail STOP_COPY 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(src_stop_copy_seq_mlx5) { fault_mlx5(true, "fail STOP_COPY 1 5", VFIOMIG_TRANSITIONS_SEQUENTIAL); }
TEST(src_stream_corrupt_mlx5) { fault_mlx5(true, "corrupt 100", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_stop_mlx5) { fault_mlx5(false, "fail STOP 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_resuming_mlx5) { fault_mlx5(false, "fail RESUMING 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }
TEST(dst_running_mlx5) { fault_mlx5(false, "fail RUNNING 1 5", VFIOMIG_TRANSITIONS_PARALLEL); }

TEST_MAIN()
