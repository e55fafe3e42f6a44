// SPDX-License-Identifier: GPL-2.0
/*
 * switchover_ack - legacy and per-device switchover acks, their
 * negotiation, REINIT during precopy and at the final check, an ack
 * request after the stop, and the invariant that the source never
 * switches over with an outstanding ack.
 */
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "engine_util.h"

static void digests_equal(struct eu_result *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ASSERT_STREQ(r->src_digest[i], r->dst_digest[i]);
}

static void pair(const char *p0, const char *p1, char (*src)[MOCKVF_UUID_LEN],
		 char (*dst)[MOCKVF_UUID_LEN])
{
	eu_need_mockvf();
	eu_create(p0, src[0]);
	eu_create(p0, dst[0]);
	eu_create(p1, src[1]);
	eu_create(p1, dst[1]);
}

static struct eu_result *run(char (*src)[MOCKVF_UUID_LEN], char (*dst)[MOCKVF_UUID_LEN],
			     int src_mode, int dst_mode)
{
	struct vfiomig_opts so, dop;

	vfiomig_opts_init(&so);
	vfiomig_opts_init(&dop);
	so.ack_mode = src_mode;
	dop.ack_mode = dst_mode;
	return eu_local2(src, dst, 2, &so, &dop);
}

TEST(legacy_to_legacy)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	pair("tiny", "tiny", src, dst);
	struct eu_result *r = run(src, dst, VFIOMIG_ACK_LEGACY, VFIOMIG_ACK_LEGACY);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	/* One global ack, after both devices asked. */
	ASSERT_EQ(1, eu_count(r->rep, "ack", -1));
	ASSERT_EQ(0, eu_count(r->rep, "ack", 0));
	ASSERT_EQ(2, eu_count(r->rep, "ack-request", -2));
}

TEST(per_device_to_per_device)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	pair("tiny", "tiny", src, dst);
	struct eu_result *r = run(src, dst, VFIOMIG_ACK_AUTO, VFIOMIG_ACK_AUTO);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	ASSERT_EQ(1, eu_count(r->rep, "ack", 0));
	ASSERT_EQ(1, eu_count(r->rep, "ack", 1));
	ASSERT_EQ(0, eu_count(r->rep, "ack", -1));
}

TEST(per_device_source_falls_back_to_legacy)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	pair("tiny", "tiny", src, dst);
	struct eu_result *r = run(src, dst, VFIOMIG_ACK_AUTO, VFIOMIG_ACK_LEGACY);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	ASSERT_EQ(1, eu_count(r->rep, "ack", -1));
	ASSERT_EQ(0, eu_count(r->rep, "ack", 0));
}

TEST(forced_per_device_against_legacy_refused)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	char log[64];

	pair("tiny", "tiny", src, dst);
	eu_set(dst[0], "log", "clear");
	struct eu_result *r = run(src, dst, VFIOMIG_ACK_PER_DEVICE, VFIOMIG_ACK_LEGACY);
	ASSERT_NE(0, r->src_ret);
	ASSERT_TRUE(strstr(r->err, "requires switchover-ack per-device") != NULL);
	/* Refused in the handshake: the destination never left RUNNING. */
	eu_attr(dst[0], "log", log, sizeof(log));
	ASSERT_STREQ("", log);
	for (int i = 0; i < 2; i++) {
		ASSERT_STREQ("RUNNING", r->src_state[i]);
		ASSERT_STREQ("RUNNING", r->dst_state[i]);
	}
}

TEST(mixed_precopy_and_nopre)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	pair("tiny", "nopre", src, dst);
	for (int mode = VFIOMIG_ACK_LEGACY; mode <= VFIOMIG_ACK_PER_DEVICE; mode++) {
		struct eu_result *r = run(src, dst, mode, mode);
		ASSERT_EQ(0, r->src_ret);
		ASSERT_EQ(0, r->dst_ret);
		digests_equal(r, 2);
		/* The nopre device needs no ack. */
		ASSERT_EQ(1, eu_count(r->rep, "ack-request", 0));
		ASSERT_EQ(0, eu_count(r->rep, "ack-request", 1));
		ASSERT_EQ(1, eu_count(r->rep, "ack", mode == VFIOMIG_ACK_LEGACY ? -1 : 0));
	}
}

TEST(device_refusing_opt_in)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];

	pair("tiny", "tiny", src, dst);
	eu_set(src[1], "reinit_capable", "0");
	struct eu_result *r = run(src, dst, VFIOMIG_ACK_AUTO, VFIOMIG_ACK_AUTO);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	ASSERT_EQ(1, eu_count(r->rep, "precopy-v2", 0));
	ASSERT_EQ(1, eu_count(r->rep, "precopy-v2-refused", 1));
	ASSERT_EQ(1, eu_count(r->rep, "ack", 1));
}

struct poke {
	const char *uuid;
	unsigned delay_ms;
	const char *save_bw_kbps;	/* NULL: leave the firmware's speed */
	/*
	 * When set, delay_ms counts from the moment this destination has
	 * taken in resume_bytes, not from the start: a debug kernel moves
	 * the first image several times slower than a production one, so a
	 * fixed delay can land before the source asked for its first ack.
	 */
	const char *after_dst;
	unsigned long long resume_bytes;
};

/* Wait for @p's destination to take in its bytes: false after 60 s. */
static bool wait_resume_bytes(const struct poke *p)
{
	for (int ms = 0; ms < 60000; ms += 5) {
		unsigned long long v;

		if (!mockvf_attr_u64(p->after_dst, "resume_bytes", &v) &&
		    v >= p->resume_bytes)
			return true;
		usleep(5000);
	}
	return false;
}

/* After delay_ms, optionally slow the device's save, then re-configure it. */
static void *reconfig_later(void *arg)
{
	struct poke *p = arg;

	if (p->after_dst && !wait_resume_bytes(p))
		mt_log("%s never took in %llu bytes", p->after_dst,
		       p->resume_bytes);
	usleep(p->delay_ms * 1000);
	if (p->save_bw_kbps)
		mockvf_attr_write(p->uuid, "timing/save_bw_kbps",
				  p->save_bw_kbps);
	mockvf_attr_write(p->uuid, "reconfig", "1");
	return NULL;
}

/* Migrate the pair while @p re-configures a source; both ends must succeed. */
static struct eu_result *migrate_with_reconfig(char (*src)[MOCKVF_UUID_LEN],
					       char (*dst)[MOCKVF_UUID_LEN],
					       const struct vfiomig_opts *o,
					       struct poke *p)
{
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, reconfig_later, p));
	struct eu_result *r = eu_local(src, dst, 2, o);
	pthread_join(th, NULL);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	return r;
}

TEST_TIMEOUT(reinit_during_precopy, 120)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	pair("tiny", "tiny", src, dst);
	vfiomig_opts_init(&o);
	o.min_precopy_ms = 3000;
	struct poke p = { .uuid = src[0], .delay_ms = 1000 };
	struct eu_result *r = migrate_with_reconfig(src, dst, &o, &p);
	mt_log("dev0: %d reinit, %d requests, %d acks; dev1: %d requests, %d acks",
	       eu_count(r->rep, "reinit", 0), eu_count(r->rep, "ack-request", 0),
	       eu_count(r->rep, "ack", 0), eu_count(r->rep, "ack-request", 1),
	       eu_count(r->rep, "ack", 1));
	ASSERT_GE(eu_count(r->rep, "reinit", 0), 1);
	ASSERT_EQ(2, eu_count(r->rep, "ack-request", 0));
	ASSERT_EQ(2, eu_count(r->rep, "ack", 0));
	/* Only the reconfigured device asked again. */
	ASSERT_EQ(0, eu_count(r->rep, "reinit", 1));
	ASSERT_EQ(1, eu_count(r->rep, "ack-request", 1));
	ASSERT_EQ(1, eu_count(r->rep, "ack", 1));
}

TEST(reinit_at_final_check_goes_back_to_precopy)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	pair("tiny", "tiny", src, dst);
	vfiomig_opts_init(&o);
	o.inject = VFIOMIG_INJECT_REINIT_AT_FINAL;
	struct eu_result *r = eu_local(src, dst, 2, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	digests_equal(r, 2);
	ASSERT_EQ(1, eu_count(r->rep, "final-check-reinit", 0));
	ASSERT_EQ(1, eu_count(r->rep, "back-to-precopy", -1));
	ASSERT_EQ(2, eu_count(r->rep, "ack-request", 0));
	ASSERT_EQ(1, eu_count(r->rep, "switchover", -1));
}

TEST(reinit_at_final_check_gives_up_after_retries)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	pair("tiny", "tiny", src, dst);
	vfiomig_opts_init(&o);
	o.inject = VFIOMIG_INJECT_REINIT_AT_FINAL;
	o.final_retries = 0;
	struct eu_result *r = eu_local(src, dst, 2, &o);
	ASSERT_NE(0, r->src_ret);
	for (int i = 0; i < 2; i++) {
		ASSERT_STREQ("RUNNING", r->src_state[i]);
		ASSERT_STREQ("RUNNING", r->dst_state[i]);
	}
}

TEST(ack_request_after_stop_fails_cleanly)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	pair("tiny", "tiny", src, dst);
	vfiomig_opts_init(&o);
	o.inject = VFIOMIG_INJECT_ACK_AFTER_STOP;
	struct eu_result *r = eu_local(src, dst, 2, &o);
	ASSERT_NE(0, r->src_ret);
	ASSERT_NE(0, r->dst_ret);
	ASSERT_TRUE(strstr(r->err, "after switchover") != NULL);
	for (int i = 0; i < 2; i++) {
		ASSERT_STREQ("RUNNING", r->src_state[i]);
		ASSERT_STREQ("RUNNING", r->dst_state[i]);
	}
}

/*
 * Replay the source's event log: at "switchover" no ack is outstanding and
 * every device that reported REINIT asked for an ack after it (an ack for
 * an older request does not cover the new initial data).
 */
static void check_no_outstanding(const struct vfiomig_report *rep)
{
	int pending[EU_MAX] = { 0 };
	bool owes[EU_MAX] = { false };
	struct vfiomig_event e;
	int switchovers = 0;

	for (size_t i = 0; !vfiomig_report_event(rep, i, &e); i++) {
		if (!strcmp(e.type, "ack-request")) {
			pending[e.dev]++;
			owes[e.dev] = false;
		} else if (!strcmp(e.type, "ack") && e.dev >= 0) {
			pending[e.dev]--;
		} else if (!strcmp(e.type, "reinit")) {
			owes[e.dev] = true;
		} else if (!strcmp(e.type, "switchover")) {
			switchovers++;
			for (int d = 0; d < EU_MAX; d++) {
				ASSERT_EQ(0, pending[d]);
				ASSERT_FALSE(owes[d]);
			}
		}
	}
	ASSERT_EQ(1, switchovers);
}

/*
 * An ack in flight for the old image must not clear a device that reported
 * REINIT since.  Device 0 has 4 MiB of state; its first image crosses at
 * once but loads at 2 MiB/s in the write that completes it, so its ack
 * comes ~2 s after the data crossed.  Once the destination took in all
 * but that last 1 MiB write (so the source has read the whole image and
 * asked for the ack), and 200 ms more, the source's save slows to 2 MiB/s
 * and it re-configures: the new image streams for ~2 s, past the old ack,
 * and a round limit of 4 would let the source switch over then.  It must
 * wait for the second request's ack.
 */
TEST_TIMEOUT(reinit_while_ack_in_flight, 120)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	pair("tiny", "tiny", src, dst);
	eu_set(src[0], "state_size", "4194304");
	eu_set(dst[0], "state_size", "4194304");
	eu_set(dst[0], "timing/load_bw_kbps", "2048");
	vfiomig_opts_init(&o);
	o.max_rounds = 4;
	struct poke p = { .uuid = src[0], .delay_ms = 200, .save_bw_kbps = "2048",
			  .after_dst = dst[0], .resume_bytes = 3u << 20 };
	struct eu_result *r = migrate_with_reconfig(src, dst, &o, &p);
	mt_log("dev0: %d reinit, %d requests, %d acks",
	       eu_count(r->rep, "reinit", 0), eu_count(r->rep, "ack-request", 0),
	       eu_count(r->rep, "ack", 0));
	ASSERT_EQ(1, eu_count(r->rep, "reinit", 0));
	ASSERT_EQ(2, eu_count(r->rep, "ack-request", 0));
	ASSERT_EQ(2, eu_count(r->rep, "ack", 0));
	check_no_outstanding(r->rep);
}

TEST_TIMEOUT(never_switches_with_outstanding_ack, 280)
{
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;
	char val[16];
	unsigned seed = (unsigned)time(NULL);

	pair("tiny", "tiny", src, dst);
	mt_log("seed %u", seed);
	srand(seed);
	for (int run = 0; run < 6; run++) {
		unsigned iv = 20 + (unsigned)(rand() % 60);
		snprintf(val, sizeof(val), "%u", iv);
		eu_set(src[0], "reconfig_interval_ms", val);
		vfiomig_opts_init(&o);
		o.min_precopy_ms = 200 + (unsigned)(rand() % 300);
		struct eu_result *r = eu_local(src, dst, 2, &o);
		eu_set(src[0], "reconfig_interval_ms", "0");
		mt_log("run %d: reconfig every %u ms, %d reinits, %d requests, %d acks: %s",
		       run, iv, eu_count(r->rep, "reinit", 0),
		       eu_count(r->rep, "ack-request", -2), eu_count(r->rep, "ack", -2),
		       r->src_ret ? r->err : "ok");
		ASSERT_EQ(0, r->src_ret);
		ASSERT_EQ(0, r->dst_ret);
		check_no_outstanding(r->rep);
	}
}

TEST_MAIN()
