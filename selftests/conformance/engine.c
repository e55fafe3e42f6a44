// SPDX-License-Identifier: GPL-2.0
/*
 * engine - libvfiomig migrating every SRC=DST pair of the selected devices,
 * judged from its return codes, the states the devices read back and its
 * JSON report: parallel and sequential transitions; the P2P barrier order
 * from the report's arc timestamps; switchover-ack off, legacy and
 * per-device; send/receive over TCP loopback in two processes; a migration
 * back from destination to source; and a stream truncated or corrupted in
 * transit, which the engine must detect, leaving every device recoverable.
 * Each mode's downtime is a KTAP diagnostic and a record in the downtime
 * file (cf_engine.h).
 */
#define _GNU_SOURCE
#include "cf_engine.h"
#include "cf_proxy.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void migrate(int transitions, int ack, const char *mode)
{
	struct cf_side *src = cf_side_open(false), *dst = cf_side_open(true);
	struct vfiomig_opts o;
	struct cf_run r;
	json_t *e;

	cf_opts(&o);
	o.transitions = transitions;
	o.ack_mode = ack;
	cf_migrate_local(src, dst, &o, &o, NULL, NULL, &r);
	cf_expect_ok(&r);
	cf_side_expect(dst, VFIOMIG_RUNNING, "destination after migration");
	cf_side_expect(src, VFIOMIG_STOP, "source after migration");
	e = cf_endpoint(&r, "source");
	ASSERT_TRUE(e != NULL);
	ASSERT_STREQ(transitions == VFIOMIG_TRANSITIONS_SEQUENTIAL ?
		     "sequential" : "parallel",
		     json_string_value(json_object_get(e, "transitions")));
	if (ack != VFIOMIG_ACK_AUTO)
		ASSERT_STREQ(vfiomig_ack_mode_name(ack), json_string_value(
			     json_object_get(e, "switchover_ack")));
	EXPECT_GT(r.downtime_ns, 0);
	cf_record_downtime(mode, &r);
}

TEST_TIMEOUT(parallel_all_pairs, 120)
{
	migrate(VFIOMIG_TRANSITIONS_PARALLEL, VFIOMIG_ACK_AUTO, "parallel");
}

TEST_TIMEOUT(sequential_all_pairs, 120)
{
	migrate(VFIOMIG_TRANSITIONS_SEQUENTIAL, VFIOMIG_ACK_AUTO, "sequential");
}

TEST_TIMEOUT(switchover_ack_off, 120)
{
	migrate(VFIOMIG_TRANSITIONS_PARALLEL, VFIOMIG_ACK_OFF, "ack-off");
}

TEST_TIMEOUT(switchover_ack_legacy, 120)
{
	migrate(VFIOMIG_TRANSITIONS_PARALLEL, VFIOMIG_ACK_LEGACY, "ack-legacy");
}

TEST_TIMEOUT(switchover_ack_per_device, 120)
{
	migrate(VFIOMIG_TRANSITIONS_PARALLEL, VFIOMIG_ACK_PER_DEVICE,
		"ack-per-device");
}

static bool is(const char *s, const char *a)
{
	return s && !strcmp(s, a);
}

static bool p2p(const char *s)
{
	return is(s, "RUNNING_P2P") || is(s, "PRE_COPY_P2P");
}

/*
 * From an endpoint's transitions_log: the last end of an arc into a P2P
 * state must not come after the first start of an arc that leaves a P2P
 * state for a stopped one (source), or into RUNNING (destination).
 */
static void barrier(json_t *ep, bool source, unsigned ndev)
{
	json_t *log = json_object_get(ep, "transitions_log"), *t;
	uint64_t last_in = 0, first_out = UINT64_MAX;
	unsigned devs_in = 0, devs_out = 0;
	bool in[DEVSEL_MAX] = { 0 }, out[DEVSEL_MAX] = { 0 };
	size_t i;

	ASSERT_TRUE(json_is_array(log));
	json_array_foreach(log, i, t) {
		const char *from = json_string_value(json_object_get(t, "from"));
		const char *to = json_string_value(json_object_get(t, "to"));
		uint64_t s = json_integer_value(json_object_get(t, "start_ns"));
		uint64_t e = json_integer_value(json_object_get(t, "end_ns"));
		unsigned dev = json_integer_value(json_object_get(t, "dev"));
		bool leave;

		if (json_integer_value(json_object_get(t, "ret")) ||
		    dev >= DEVSEL_MAX)
			continue;
		if (p2p(to) && !p2p(from) && (!source || !is(from, "STOP"))) {
			if (e > last_in)
				last_in = e;
			devs_in += !in[dev];
			in[dev] = true;
		}
		if (!source && p2p(to) && is(from, "STOP")) {
			/* The destination's resume half: STOP -> RUNNING_P2P. */
			if (e > last_in)
				last_in = e;
			devs_in += !in[dev];
			in[dev] = true;
		}
		leave = source ? p2p(from) && (is(to, "STOP_COPY") ||
					       is(to, "STOP")) :
			is(from, "RUNNING_P2P") && is(to, "RUNNING");
		if (leave) {
			if (s < first_out)
				first_out = s;
			devs_out += !out[dev];
			out[dev] = true;
		}
	}
	mt_log("%s: %u/%u devices entered P2P, last at %llu; first left at "
	       "%llu (%+.3f ms)", source ? "source" : "destination", devs_in,
	       ndev, (unsigned long long)last_in,
	       (unsigned long long)first_out,
	       ((double)first_out - (double)last_in) / 1e6);
	ASSERT_EQ(ndev, devs_in);
	ASSERT_EQ(ndev, devs_out);
	if (last_in > first_out)
		mt_fail_here(__FILE__, __LINE__, "%s: a device left its P2P "
			     "state %.3f ms before the last one entered it",
			     source ? "source" : "destination",
			     (last_in - first_out) / 1e6);
}

TEST_TIMEOUT(p2p_barrier_order_from_report, 120)
{
	struct cf_side *src = cf_side_open(false), *dst = cf_side_open(true);
	struct vfiomig_opts o;
	struct cf_run r;

	if (!(vfiomig_device_flags(src->dev[0]) & VFIOMIG_FLAG_P2P))
		SKIP("device %s lacks P2P: no barrier to order",
		     vfiomig_device_name(src->dev[0]));
	cf_opts(&o);
	cf_migrate_local(src, dst, &o, &o, NULL, NULL, &r);
	cf_expect_ok(&r);
	barrier(cf_endpoint(&r, "source"), true, src->n);
	barrier(cf_endpoint(&r, "destination"), false, dst->n);
}

TEST_TIMEOUT(migration_back, 180)
{
	struct cf_side *a = cf_side_open(false), *b = cf_side_open(true);
	struct vfiomig_opts o;
	struct cf_run r;

	cf_opts(&o);
	cf_migrate_local(a, b, &o, &o, NULL, NULL, &r);
	cf_expect_ok(&r);
	/* The old source is in STOP: our reset, as QEMU does at start. */
	cf_side_reset(a);
	cf_migrate_local(b, a, &o, &o, NULL, NULL, &r);
	cf_expect_ok(&r);
	cf_side_expect(a, VFIOMIG_RUNNING, "first source after migrating back");
	cf_side_expect(b, VFIOMIG_STOP, "first destination after migrating back");
	cf_record_downtime("back", &r);
}

/* Destination process: no harness calls (they belong to the parent). */
static int receiver(int wfd)
{
	struct vfiomig_device *dev[DEVSEL_MAX];
	struct vfiomig_report *rep = NULL;
	struct vfiomig_link *l;
	struct vfiomig_ctx *ctx;
	struct vfiomig_opts o;
	char err[512];
	int n = cf_npairs(), port, ret;

	if (vfiomig_ctx_new(&ctx))
		return 10;
	for (int i = 0; i < n; i++) {
		int st;

		if (vfiomig_device_open(ctx, cf_pair_dst(i), &dev[i]))
			return 11;
		if (ioctl(vfiomig_device_fd(dev[i]), VFIO_DEVICE_RESET) ||
		    vfiomig_device_get_state(dev[i], &st) ||
		    st != VFIOMIG_RUNNING)
			return 12;
	}
	if (vfiomig_link_listen("127.0.0.1:0", &l))
		return 13;
	port = vfiomig_link_port(l);
	if (write(wfd, &port, sizeof(port)) != sizeof(port))
		return 14;
	cf_opts(&o);
	ret = vfiomig_migrate_dest(dev, n, l, &o, &rep, err, sizeof(err));
	if (ret)
		fprintf(stdout, "# receiver: %s (%d)\n", err, ret);
	for (int i = 0; i < n && !ret; i++) {
		int st = -1;

		if (vfiomig_device_get_state(dev[i], &st) ||
		    st != VFIOMIG_RUNNING) {
			fprintf(stdout, "# receiver: dev %s in %s, expected "
				"RUNNING\n", cf_pair_dst(i),
				vfiomig_state_name(st));
			ret = -1;
		}
	}
	fflush(stdout);
	vfiomig_report_free(rep);
	vfiomig_link_free(l);
	for (int i = 0; i < n; i++)
		vfiomig_device_close(dev[i]);
	vfiomig_ctx_free(ctx);
	return ret ? 1 : 0;
}

TEST_TIMEOUT(send_receive_tcp_loopback, 180)
{
	struct vfiomig_report *rep = NULL;
	struct cf_side *src;
	struct vfiomig_link *l;
	struct vfiomig_opts o;
	struct cf_run r = { 0 };
	int pfd[2], port = 0, status;
	char addr[64];
	pid_t pid;

	/*
	 * Before the fork: a receiver and a sender opening one device
	 * without migration (a SRC=SRC list) would race for its group.
	 */
	cf_need_pairs();
	ASSERT_EQ(0, pipe(pfd));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		_exit(receiver(pfd[1]));
	}
	close(pfd[1]);
	/* Opened after the fork: the receiver must not inherit our fds. */
	src = cf_side_open(false);
	if (read(pfd[0], &port, sizeof(port)) != sizeof(port)) {
		waitpid(pid, &status, 0);
		mt_fail_here(__FILE__, __LINE__, "receiver did not listen "
			     "(exit %d)", WEXITSTATUS(status));
		mt_abort_test();
	}
	close(pfd[0]);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	ASSERT_EQ(0, vfiomig_link_connect(addr, &l));
	cf_opts(&o);
	r.sret = vfiomig_migrate_source(src->dev, src->n, l, &o, &rep, r.serr,
					sizeof(r.serr));
	if (r.sret)
		mt_log("sender: %s (%d)", r.serr, r.sret);
	vfiomig_link_free(l);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (rep) {
		r.downtime_ns = vfiomig_report_downtime_ns(rep);
		r.rep = cf_report_json(rep);
		vfiomig_report_free(rep);
	}
	ASSERT_EQ(0, r.sret);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	cf_side_expect(src, VFIOMIG_STOP, "sender after migration");
	cf_record_downtime("tcp", &r);
}

/*
 * One clean run through the relay to learn the stream's length, then one
 * with the relay flipping a byte or cutting the stream half-way.
 */
static void in_transit(int mode)
{
	struct cf_side *src = cf_side_open(false), *dst = cf_side_open(true);
	struct vfiomig_link *ls, *ld;
	struct vfiomig_opts o;
	struct cf_proxy p = { .mode = CF_PROXY_CLEAN };
	struct cf_run r;
	uint64_t total;
	char addr[128];

	snprintf(p.front, sizeof(p.front), "/tmp/cf-front-%d", (int)getpid());
	snprintf(p.back, sizeof(p.back), "/tmp/cf-back-%d", (int)getpid());
	cf_opts(&o);
	o.channels = 1;
	for (int pass = 0; pass < 2; pass++) {
		unlink(p.back);
		snprintf(addr, sizeof(addr), "unix:%s", p.back);
		ASSERT_EQ(0, vfiomig_link_listen(addr, &ld));
		ASSERT_EQ(0, cf_proxy_start(&p));
		snprintf(addr, sizeof(addr), "unix:%s", p.front);
		ASSERT_EQ(0, vfiomig_link_connect(addr, &ls));
		cf_migrate_local(src, dst, &o, &o, ls, ld, &r);
		vfiomig_link_free(ls);
		vfiomig_link_free(ld);
		cf_proxy_stop(&p);
		unlink(p.back);
		if (pass == 1)
			break;
		/* The relay alone must not break anything. */
		cf_expect_ok(&r);
		total = p.forwarded;
		mt_log("clean run through the relay: %llu bytes",
		       (unsigned long long)total);
		ASSERT_GT(total, 0);
		cf_side_reset(src);
		cf_side_reset(dst);
		p.mode = mode;
		p.at = total / 2;
	}
	mt_log("%s at byte %llu of %llu: source %d, destination %d",
	       mode == CF_PROXY_CORRUPT ? "flipped a byte" : "cut the stream",
	       (unsigned long long)p.at, (unsigned long long)total, r.sret,
	       r.dret);
	/* The destination must notice; the source must not claim success. */
	ASSERT_NE(0, r.dret);
	ASSERT_NE(0, r.sret);
	EXPECT_TRUE(r.derr[0] != '\0');
	EXPECT_TRUE(r.serr[0] != '\0');
	/* libvfiomig's promise: every device RUNNING again after a failure. */
	cf_side_expect(src, VFIOMIG_RUNNING, "source after a failed migration");
	cf_side_expect(dst, VFIOMIG_RUNNING,
		       "destination after a failed migration");
	/* And recoverable for anyone: a reset, then a clean migration. */
	cf_side_reset(src);
	cf_side_reset(dst);
	cf_migrate_local(src, dst, &o, &o, NULL, NULL, &r);
	cf_expect_ok(&r);
}

TEST_TIMEOUT(corrupt_stream_in_transit_detected, 180)
{
	in_transit(CF_PROXY_CORRUPT);
}

TEST_TIMEOUT(truncated_stream_in_transit_detected, 180)
{
	in_transit(CF_PROXY_TRUNCATE);
}

int mt_precheck(char *why, size_t len)
{
	int ret = cf_precheck(why, len);

	if (!ret)
		cf_downtime_init();
	return ret;
}

void mt_banner(void)
{
	cf_banner();
}

TEST_MAIN()
