// SPDX-License-Identifier: GPL-2.0
/*
 * session_edges - where a session starts and how it ends early: devices
 * not RUNNING at start are reset (or, with reset off, refused, and the
 * peer hears the real reason at once instead of timing out); an idle
 * precopy may outlast the I/O timeout on both ends; an abort ends a
 * source worker blocked reading a device that produces its image slowly.
 */
#include <time.h>

#include "engine_util.h"

static uint64_t now_ms(void)
{
	return vfiomig_now_ns() / 1000000ULL;
}

struct stop_which {
	bool src, dst;
};

/* Leave RUNNING before the session: STOP, as a paused VM's devices are. */
static void stop_devices(struct vfiomig_device **sd, struct vfiomig_device **dd,
			 unsigned n, void *arg)
{
	const struct stop_which *w = arg;

	(void)n;
	if (w->src)
		ASSERT_EQ(0, vfiomig_device_goto(sd[0], VFIOMIG_STOP));
	if (w->dst)
		ASSERT_EQ(0, vfiomig_device_goto(dd[0], VFIOMIG_STOP));
}

static struct eu_result *local_with_stopped(struct stop_which w, bool reset,
					    uint64_t *ms)
{
	static char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct eu_prep prep = { .fn = stop_devices, .arg = &w };
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	vfiomig_opts_init(&o);
	o.reset_stopped = reset;
	uint64_t t0 = now_ms();
	struct eu_result *r = eu_local_prep(src, dst, 1, &o, &o, &prep);
	*ms = now_ms() - t0;
	mt_log("took %llu ms; source: %s; destination: %s", (unsigned long long)*ms,
	       r->src_ret ? r->err : "ok", r->dst_ret ? r->dst_err : "ok");
	return r;
}

/* The default --timeout is 30 s: "at once" is far below it. */
#define AT_ONCE_MS 5000

TEST(dst_not_running_refused_at_once)
{
	uint64_t ms;
	struct eu_result *r = local_with_stopped((struct stop_which){ .dst = true }, false, &ms);

	ASSERT_NE(0, r->src_ret);
	ASSERT_NE(0, r->dst_ret);
	ASSERT_LT(ms, AT_ONCE_MS);
	ASSERT_TRUE(strstr(r->err, "destination refused") != NULL);
	ASSERT_TRUE(strstr(r->err, "not RUNNING (STOP)") != NULL);
	ASSERT_TRUE(strstr(r->dst_err, "not RUNNING (STOP), refusing to receive") != NULL);
	ASSERT_STREQ("RUNNING", r->src_state[0]);
	ASSERT_EQ(-EBUSY, r->src_ret);
}

TEST(src_not_running_refused_at_once)
{
	uint64_t ms;
	struct eu_result *r = local_with_stopped((struct stop_which){ .src = true }, false, &ms);

	ASSERT_EQ(-EBUSY, r->src_ret);
	ASSERT_NE(0, r->dst_ret);
	ASSERT_LT(ms, AT_ONCE_MS);
	ASSERT_TRUE(strstr(r->err, "not RUNNING (STOP), refusing to migrate") != NULL);
	ASSERT_TRUE(strstr(r->dst_err, "source refused") != NULL);
	ASSERT_TRUE(strstr(r->dst_err, "not RUNNING (STOP)") != NULL);
	ASSERT_STREQ("RUNNING", r->dst_state[0]);
}

TEST(stopped_devices_reset_at_start)
{
	uint64_t ms;
	struct eu_result *r = local_with_stopped((struct stop_which){ .src = true, .dst = true },
						 true, &ms);

	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	ASSERT_STREQ(r->src_digest[0], r->dst_digest[0]);
	ASSERT_STREQ("RUNNING", r->dst_state[0]);
	ASSERT_EQ(1, eu_count(r->rep, "reset-at-start", 0));
	ASSERT_EQ(1, eu_count(vfiomig_report_peer(r->rep), "reset-at-start", 0));

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(0, vfiomig_report_write_json(r->rep, f));
	fclose(f);
	const char *want = "\"reset_at_start\":\"STOP\"";
	const char *first = strstr(buf, want);
	bool both = first && strstr(first + 1, want);
	free(buf);
	ASSERT_TRUE(both);	/* source and destination device */
}

/* Idle devices, a minimum precopy time three times the I/O timeout. */
TEST(idle_precopy_outlasts_timeout)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	vfiomig_opts_init(&o);
	o.io_timeout_ms = 500;
	o.min_precopy_ms = 1500;
	uint64_t t0 = now_ms();
	struct eu_result *r = eu_local(src, dst, 1, &o);
	uint64_t ms = now_ms() - t0;
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	ASSERT_GE(ms, 1500);
	ASSERT_STREQ(r->src_digest[0], r->dst_digest[0]);
}

/*
 * Device 0 produces its 4 MiB stop-copy image at 64 KiB/s (a minute);
 * device 1's STOP_COPY arc takes 0.5 s and then fails.  The abort must end
 * device 0's blocked read at once, not when its image is complete.
 */
TEST_TIMEOUT(abort_ends_blocked_stopcopy_read, 300)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("nopre", "nopre", 2, src, dst);
	eu_set(src[0], "state_size", "4194304");
	eu_set(dst[0], "state_size", "4194304");
	eu_set(src[0], "timing/save_bw_kbps", "64");
	eu_set(src[1], "fault", "delay STOP STOP_COPY 500000");
	eu_set(src[1], "fault", "fail STOP_COPY 1 5");
	vfiomig_opts_init(&o);
	uint64_t t0 = now_ms();
	struct eu_result *r = eu_local(src, dst, 2, &o);
	uint64_t ms = now_ms() - t0;
	mt_log("failed after %llu ms: %s", (unsigned long long)ms, r->err);
	ASSERT_NE(0, r->src_ret);
	ASSERT_NE(0, r->dst_ret);
	ASSERT_TRUE(strstr(r->err, "STOP_COPY") != NULL);
	ASSERT_LT(ms, 15000);
	ASSERT_STREQ("RUNNING", r->src_state[0]);
	ASSERT_STREQ("RUNNING", r->src_state[1]);
}

TEST_MAIN()
