// SPDX-License-Identifier: GPL-2.0
/*
 * mlx5_stream - the engine against devices that behave like mlx5_vfio_pci
 * (mockvf's cx7 defaults, set here on tiny devices):
 *
 * - resume_strict=0: the device loads what it is given and RESUMING->STOP
 *   succeeds whatever the stream was, so a truncated device stream must be
 *   caught by the engine itself (its byte counts, its checksums);
 * - load_at_stop=0: the destination pays the load inside write(), so the
 *   switchover-ack moves that cost out of the downtime;
 * - data_size_left=0: MIG_DATA_SIZE is the full image, so the switchover
 *   threshold must count pending bytes as QEMU does (precopy initial +
 *   dirty, plus the data size) to converge where QEMU converges.
 *
 * Tests marked ENGINE GAP check a property the engine (userspace/lib) does
 * not have yet; they SKIP with that marker while the gap is there and pass
 * once it is closed (issue 15, items 1 and 3).
 */
#include "engine_util.h"

#define HDR 24

static uint64_t image_bytes(uint64_t size)
{
	uint64_t chunks = (size + 262143) / 262144;

	return 24 + 16 + chunks * (24 + 8) + size;
}

/* The first "switchover" event's reason, or "" when there is none. */
static const char *switch_reason(const struct vfiomig_report *r, char *buf,
				 size_t len)
{
	struct vfiomig_event e;

	snprintf(buf, len, "%s", "");
	for (size_t i = 0; r && !vfiomig_report_event(r, i, &e); i++)
		if (!strcmp(e.type, "switchover")) {
			snprintf(buf, len, "%s", e.detail);
			break;
		}
	return buf;
}

/*
 * A busy source whose device stream ends early (a truncate fault just
 * past the initial image: the dirty pages after it are lost).
 */
static struct eu_result *truncated(const char *resume_strict)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN], f[64];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	eu_set(src[0], "state_size", "262144");
	eu_set(src[0], "dirty_rate", "4000000");
	snprintf(f, sizeof(f), "truncate %llu",
		 (unsigned long long)image_bytes(262144) + 10);
	eu_set(src[0], "fault", f);
	eu_set(dst[0], "resume_strict", resume_strict);
	vfiomig_opts_init(&o);
	o.io_timeout_ms = 5000;
	o.min_precopy_ms = 200;
	return eu_local(src, dst, 1, &o);
}

/* Mode relied on: resume_strict=1 (the device catches the truncation). */
TEST(truncated_device_stream_strict_destination)
{
	struct eu_result *r = truncated("1");

	mt_log("source %d (%s), destination %d (%s)", r->src_ret, r->err,
	       r->dst_ret, r->dst_err);
	EXPECT_TRUE(r->src_ret || r->dst_ret);
	EXPECT_EQ(0, strcmp(r->dst_state[0], "RUNNING"));
}

/*
 * ENGINE GAP (issue 15 item 1): with mlx5's resume the engine must catch
 * the short device stream itself.  It counts and checksums what it sent,
 * not what the device should have produced, so it does not.
 */
TEST(truncated_device_stream_mlx5_destination)
{
	struct eu_result *r = truncated("0");

	mt_log("source %d (%s), destination %d (%s)", r->src_ret, r->err,
	       r->dst_ret, r->dst_err);
	mt_log("source digest %s, destination digest %s", r->src_digest[0],
	       r->dst_digest[0]);
	EXPECT_EQ(0, strcmp(r->dst_state[0], "RUNNING"));
	if (r->src_ret || r->dst_ret)
		return;		/* caught */
	if (strcmp(r->src_digest[0], r->dst_digest[0]))
		SKIP("ENGINE GAP (issue 15 item 1): truncated device stream "
		     "not caught with an mlx5-like destination: both ends "
		     "succeeded, the destination state differs");
	SKIP("inconclusive: the truncation dropped no state");
}

/*
 * Item 2: with the load paid in write() (load_at_stop=0), the
 * switchover-ack waits for it and the downtime no longer contains it;
 * with load_at_stop=1 it stays in the downtime.
 */
static uint64_t downtime_ms(const char *load_at_stop)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;
	uint64_t ms;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	eu_set(src[0], "state_size", "1048576");
	eu_set(dst[0], "timing/load_us", "400000");
	eu_set(dst[0], "load_at_stop", load_at_stop);
	vfiomig_opts_init(&o);
	o.transitions = VFIOMIG_TRANSITIONS_SEQUENTIAL;
	struct eu_result *r = eu_local(src, dst, 1, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	ASSERT_STREQ(r->src_digest[0], r->dst_digest[0]);
	ms = vfiomig_report_downtime_ns(r->rep) / 1000000;
	mt_log("load_at_stop=%s: downtime %llu ms", load_at_stop,
	       (unsigned long long)ms);
	return ms;
}

TEST(ack_moves_load_out_of_downtime)
{
	EXPECT_LT(downtime_ms("0"), 300);
	EXPECT_GE(downtime_ms("1"), 400);
}

/*
 * Item 3: QEMU switches over when initial + dirty + MIG_DATA_SIZE fits the
 * threshold.  @dirty_rate 0: an idle device fits a threshold of one full
 * image plus 64 KiB, so both converge.
 */
static void converge(const char *dirty_rate, char *why, size_t len)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	eu_set(src[0], "state_size", "1048576");
	eu_set(src[0], "data_size_left", "0");
	eu_set(src[0], "precopy_info_eager", "0");
	eu_set(src[0], "dirty_rate", dirty_rate);
	vfiomig_opts_init(&o);
	o.threshold = image_bytes(1048576) + 24 + 16 + 4096 + 65536;
	o.max_rounds = 30;
	o.io_timeout_ms = 5000;
	struct eu_result *r = eu_local(src, dst, 1, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	switch_reason(r->rep, why, len);
	mt_log("dirty_rate %s: switchover reason '%s'", dirty_rate, why);
}

TEST(idle_device_converges_like_qemu)
{
	char why[64];

	converge("0", why, sizeof(why));
	ASSERT_STREQ("converged", why);
}

/*
 * ENGINE GAP (issue 15 item 3): on a busy device dirty_bytes stays far
 * above the 64 KiB margin, so QEMU never converges (it switches only at
 * its limits); the engine compares MIG_DATA_SIZE alone and "converges".
 */
TEST_TIMEOUT(busy_device_does_not_converge_like_qemu, 120)
{
	char why[64];

	converge("20000000", why, sizeof(why));
	if (!strcmp(why, "converged"))
		SKIP("ENGINE GAP (issue 15 item 3): the engine's threshold "
		     "ignores precopy initial+dirty bytes: it converged on "
		     "a busy device where QEMU would not");
	ASSERT_STREQ("round-limit", why);
}

TEST_MAIN()
