// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_migrate - real QEMU as a client of mockvf: two QEMU processes, each
 * with the devices attached as vfio-pci (enable-migration=on), migrate
 * over a unix socket, driven through QMP.  What each test proves is in
 * docs/qemu.md.  The whole program skips with the reason when there is no
 * usable QEMU (VFIO_MIGTEST_QEMU unset, not runnable, older than 8.0, or
 * without vfio-pci).
 */
#include "devtime.h"
#include "harness.h"
#include "mockvf_dev.h"
#include "qemu_vm.h"
#include "qmp.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QT_MAX 4
#define QT_FAIL(...) do {						\
	mt_fail_here(__FILE__, __LINE__, __VA_ARGS__);			\
	mt_abort_test();						\
} while (0)
/* A TCG QEMU inside the TCG rig: a migration of 4 cx7 devices takes ~5 s. */
#define QT_MIGRATE_TIMEOUT_MS 60000

int mt_precheck(char *why, size_t len)
{
	int r;

	if (!qvm_find_qemu(why, len))
		return KSFT_SKIP;
	r = mockvf_load();
	if (r) {
		snprintf(why, len, "mockvf not loadable (%s): %s",
			 mockvf_ko_path(), strerror(-r));
		return KSFT_SKIP;
	}
	return 0;
}

static void qt_remove(void *p)
{
	mockvf_remove(p);
	free(p);
}

static void qt_create(const char *profile, char out[MOCKVF_UUID_LEN])
{
	ASSERT_EQ(0, mockvf_create(profile, out));
	char *c = strdup(out);

	ASSERT_TRUE(c != NULL);
	mt_defer(qt_remove, c);
}

static void qt_set(const char *uuid, const char *attr, const char *val)
{
	ASSERT_EQ(0, mockvf_attr_write(uuid, attr, val));
}

static void qt_attr(const char *uuid, const char *attr, char *buf, size_t len)
{
	ASSERT_EQ(0, mockvf_attr_read(uuid, attr, buf, len));
}

static unsigned long long qt_u64(const char *uuid, const char *attr)
{
	unsigned long long v = 0;

	ASSERT_EQ(0, mockvf_attr_u64(uuid, attr, &v));
	return v;
}

/* @n source and @n destination devices of @profile, logs cleared. */
static void qt_devices(const char *profile, int n,
		       char src[][MOCKVF_UUID_LEN], char dst[][MOCKVF_UUID_LEN])
{
	for (int i = 0; i < n; i++) {
		qt_create(profile, src[i]);
		qt_create(profile, dst[i]);
		qt_set(src[i], "log", "clear");
		qt_set(dst[i], "log", "clear");
	}
}

/* Machines of the current test, so one can be stopped early. */
static struct qvm *qt_vms[8];

static void qt_destroy(void *slot)
{
	struct qvm **vm = slot;

	qvm_destroy(*vm);
	*vm = NULL;
}

/* Stop @vm now instead of at the end of the test. */
static void qt_stop(struct qvm *vm)
{
	for (size_t i = 0; i < sizeof(qt_vms) / sizeof(qt_vms[0]); i++)
		if (qt_vms[i] == vm)
			qt_destroy(&qt_vms[i]);
}

/* Start a machine on @uuids; destroyed (before its devices) at test end. */
static struct qvm *qt_start(const char *name, char uuids[][MOCKVF_UUID_LEN],
			    int n, const struct qvm_opts *o)
{
	const char *u[QT_MAX];
	char err[1024];
	struct qvm *vm;

	for (int i = 0; i < n; i++)
		u[i] = uuids[i];
	vm = qvm_start(name, u, n, o, err, sizeof(err));
	if (!vm)
		QT_FAIL("%s", err);
	for (size_t i = 0; i < sizeof(qt_vms) / sizeof(qt_vms[0]); i++) {
		if (!qt_vms[i]) {
			qt_vms[i] = vm;
			mt_defer(qt_destroy, &qt_vms[i]);
			return vm;
		}
	}
	qvm_destroy(vm);
	QT_FAIL("more than %zu machines in one test",
		sizeof(qt_vms) / sizeof(qt_vms[0]));
}

static void qt_caps(struct qvm *vm, const char *const *caps)
{
	char err[1024];

	if (qvm_set_caps(vm, caps, err, sizeof(err)))
		QT_FAIL("%s", err);
}

/* Wait (bounded) until @vm reports "running"; fail with its status. */
static void qt_wait_running(struct qvm *vm)
{
	char status[64] = "", err[1024];
	int r = 0;

	for (int i = 0; i < 500; i++) {
		r = qvm_running(vm, status, sizeof(status), err, sizeof(err));
		if (r < 0)
			QT_FAIL("%s", err);
		if (r == 1)
			return;
		usleep(20000);
	}
	QT_FAIL("%s not running after 10 s: %s",
		     qvm_name(vm), status);
}

/* See qvm_set_downtime_limit(): the nested rig needs a high limit. */
#define QT_DOWNTIME_LIMIT_MS 30000

static void qt_downtime_limit(struct qvm *s)
{
	char err[1024];

	if (qvm_set_downtime_limit(s, QT_DOWNTIME_LIMIT_MS, err, sizeof(err)))
		QT_FAIL("%s", err);
}

static void qt_migrate_ok(struct qvm *s, struct qvm *d)
{
	char err[1024];

	qt_downtime_limit(s);
	if (qvm_migrate(s, d, QT_MIGRATE_TIMEOUT_MS, NULL, err, sizeof(err)))
		QT_FAIL("%s", err);
	qt_wait_running(d);
}

static void qt_log_free(void *p)
{
	dt_log_free(p);
	free(p);
}

static struct dt_log *qt_log(const char *uuid)
{
	struct dt_log *lg = calloc(1, sizeof(*lg));
	char path[128], err[512];

	ASSERT_TRUE(lg != NULL);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mockvf/log", uuid);
	if (dt_log_read(lg, path, err, sizeof(err))) {
		free(lg);
		QT_FAIL("%s", err);
	}
	mt_defer(qt_log_free, lg);
	return lg;
}

/* The log's arcs as "FROM>TO FROM>TO ...", device resets left out. */
static const char *qt_arcs(const struct dt_log *lg, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < lg->n && used < len; i++) {
		if (!strcmp(lg->steps[i].tag, "reset"))
			continue;
		used += snprintf(buf + used, len - used, "%s%s>%s%s",
				 used ? " " : "", dt_state_name(lg->steps[i].from),
				 dt_state_name(lg->steps[i].to),
				 lg->steps[i].ret ? "(failed)" : "");
	}
	return buf;
}

/* Every destination digest equals its source's saved_digest. */
static void qt_digests(char src[][MOCKVF_UUID_LEN], char dst[][MOCKVF_UUID_LEN],
		       int n)
{
	char a[32], b[32];

	for (int i = 0; i < n; i++) {
		qt_attr(src[i], "saved_digest", a, sizeof(a));
		qt_attr(dst[i], "digest", b, sizeof(b));
		mt_log("dev %d: source saved_digest %s, destination digest %s",
		       i, a, b);
		ASSERT_STREQ(a, b);
	}
}

static void qt_state(const char *uuid, const char *want)
{
	char st[32];

	qt_attr(uuid, "state", st, sizeof(st));
	ASSERT_STREQ(want, st);
}

/*
 * The arcs QEMU takes (hw/vfio/migration.c, 10.0): at machine start the
 * source's run-state handler moves RUNNING->RUNNING_P2P->RUNNING; a
 * migration is RUNNING->PRE_COPY, PRE_COPY->PRE_COPY_P2P when the VM
 * stops, PRE_COPY_P2P->STOP_COPY to save, STOP_COPY->STOP at the end.  The
 * destination leaves RUNNING for RESUMING at migrate-incoming (through
 * RUNNING_P2P and STOP: the core helper's path), then RESUMING->STOP,
 * STOP->RUNNING_P2P and RUNNING_P2P->RUNNING when the VM starts.
 */
#define QEMU_SRC_ARCS "RUNNING>RUNNING_P2P RUNNING_P2P>RUNNING " \
	"RUNNING>PRE_COPY PRE_COPY>PRE_COPY_P2P PRE_COPY_P2P>STOP_COPY " \
	"STOP_COPY>STOP"
#define QEMU_DST_ARCS "RUNNING>RUNNING_P2P RUNNING_P2P>STOP STOP>RESUMING " \
	"RESUMING>STOP STOP>RUNNING_P2P RUNNING_P2P>RUNNING"

TEST_TIMEOUT(one_tiny_device, 120)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN], arcs[1024];
	struct qvm_opts in = { .incoming = true };

	qt_devices("tiny", 1, src, dst);
	struct qvm *d = qt_start("dst", dst, 1, &in);
	struct qvm *s = qt_start("src", src, 1, NULL);

	qt_migrate_ok(s, d);
	qt_state(dst[0], "RUNNING");
	qt_state(src[0], "STOP");
	qt_digests(src, dst, 1);
	mt_log("source arcs: %s", qt_arcs(qt_log(src[0]), arcs, sizeof(arcs)));
	ASSERT_STREQ(QEMU_SRC_ARCS, arcs);
	mt_log("destination arcs: %s", qt_arcs(qt_log(dst[0]), arcs, sizeof(arcs)));
	ASSERT_STREQ(QEMU_DST_ARCS, arcs);
}

/* The latest end of a step into @to, and the earliest start of one. */
static void qt_step_times(const struct dt_log *lg, enum dt_state to,
			  uint64_t *last_end, uint64_t *first_start)
{
	for (size_t i = 0; i < lg->n; i++) {
		if (lg->steps[i].to != to || lg->steps[i].ret)
			continue;
		if (lg->steps[i].end_ns > *last_end)
			*last_end = lg->steps[i].end_ns;
		if (lg->steps[i].start_ns < *first_start)
			*first_start = lg->steps[i].start_ns;
	}
}

TEST_TIMEOUT(four_cx7_devices, 180)
{
	char src[4][MOCKVF_UUID_LEN], dst[4][MOCKVF_UUID_LEN];
	struct qvm_opts in = { .incoming = true };
	uint64_t last_p2p = 0, first_sc = UINT64_MAX, dummy_end = 0,
		 dummy_start = UINT64_MAX;

	qt_devices("cx7", 4, src, dst);
	struct qvm *d = qt_start("dst", dst, 4, &in);
	struct qvm *s = qt_start("src", src, 4, NULL);

	qt_migrate_ok(s, d);
	qt_digests(src, dst, 4);
	for (int i = 0; i < 4; i++) {
		const struct dt_log *lg = qt_log(src[i]);

		qt_step_times(lg, DT_PRE_COPY_P2P, &last_p2p, &dummy_start);
		qt_step_times(lg, DT_STOP_COPY, &dummy_end, &first_sc);
	}
	mt_log("last source reached PRE_COPY_P2P at %llu ns, first entered STOP_COPY at %llu ns",
	       (unsigned long long)last_p2p, (unsigned long long)first_sc);
	ASSERT_TRUE(last_p2p > 0 && first_sc != UINT64_MAX);
	ASSERT_LE(last_p2p, first_sc);
}

TEST_TIMEOUT(switchover_ack_waits_for_initial_data, 180)
{
	static const char *const caps[] = { "return-path", "switchover-ack", NULL };
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct qvm_opts in = { .incoming = true };
	uint64_t first_leave = UINT64_MAX, dummy = 0;

	qt_devices("cx7", 2, src, dst);
	struct qvm *d = qt_start("dst", dst, 2, &in);
	struct qvm *s = qt_start("src", src, 2, NULL);

	qt_caps(d, caps);
	qt_caps(s, caps);
	qt_migrate_ok(s, d);
	qt_digests(src, dst, 2);
	for (int i = 0; i < 2; i++)
		qt_step_times(qt_log(src[i]), DT_PRE_COPY_P2P, &dummy,
			      &first_leave);
	ASSERT_TRUE(first_leave != UINT64_MAX);
	for (int i = 0; i < 2; i++) {
		unsigned long long img = qt_u64(dst[i], "resume_image_ns");
		unsigned long long bytes = qt_u64(dst[i], "resume_bytes");
		unsigned long long size = qt_u64(src[i], "state_size");

		mt_log("dst %d: initial image complete at %llu ns, %llu bytes resumed (state %llu); first source left PRE_COPY at %llu ns",
		       i, img, bytes, size, (unsigned long long)first_leave);
		ASSERT_GT(img, 0);
		ASSERT_GE(bytes, size);
		ASSERT_LT(img, first_leave);
	}
}

TEST_TIMEOUT(multifd_device_state_transfer, 180)
{
	static const char *const caps[] = { "multifd", NULL };
	char src[2][MOCKVF_UUID_LEN], dst[2][MOCKVF_UUID_LEN];
	struct qvm_opts in = {
		.incoming = true,
		.device_props = "x-migration-multifd-transfer=on",
	};
	struct qvm_opts out = { .device_props = "x-migration-multifd-transfer=on" };

	qt_devices("cx7", 2, src, dst);
	struct qvm *d = qt_start("dst", dst, 2, &in);
	struct qvm *s = qt_start("src", src, 2, &out);

	qt_caps(d, caps);
	qt_caps(s, caps);
	qt_migrate_ok(s, d);
	qt_digests(src, dst, 2);
}

/* The migration fails; returns QEMU's error text. */
static void qt_migrate_fails(struct qvm *s, struct qvm *d, char *err,
			     size_t errlen)
{
	int r;

	qt_downtime_limit(s);
	r = qvm_migrate(s, d, QT_MIGRATE_TIMEOUT_MS, NULL, err, errlen);

	mt_log("migration: %s", r ? err : "completed");
	ASSERT_EQ(-1, r);
	ASSERT_TRUE(strstr(err, "failed") != NULL);
}

/*
 * What QEMU does with a device whose step failed: the step into STOP_COPY
 * fails, the migration fails, and QEMU moves the device to its recover
 * state (RUNNING) as the source VM resumes; a device left in ERROR is
 * reset (VFIO_DEVICE_RESET) first.  Either way it must end RUNNING.
 */
TEST_TIMEOUT(fail_stop_copy_source_recovers, 180)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN], err[2048];
	char arcs[1024];
	struct qvm_opts in = { .incoming = true };

	qt_devices("cx7", 1, src, dst);
	qt_set(src[0], "fault", "fail STOP_COPY 1 5");
	struct qvm *d = qt_start("dst", dst, 1, &in);
	struct qvm *s = qt_start("src", src, 1, NULL);

	qt_migrate_fails(s, d, err, sizeof(err));
	qt_wait_running(s);
	qt_state(src[0], "RUNNING");
	mt_log("source arcs: %s", qt_arcs(qt_log(src[0]), arcs, sizeof(arcs)));
	ASSERT_TRUE(strstr(arcs, ">STOP_COPY(failed)") != NULL);
}

/*
 * A corrupt stream: the destination device refuses it (write() or the
 * load at RESUMING->STOP fails), the destination QEMU fails to load and
 * exits, and the source resumes with its device RUNNING.
 */
TEST_TIMEOUT(corrupt_stream_fails_destination_source_resumes, 180)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN], err[2048];
	struct qvm_opts in = { .incoming = true };

	qt_devices("tiny", 1, src, dst);
	qt_set(src[0], "fault", "corrupt 100");
	struct qvm *d = qt_start("dst", dst, 1, &in);
	struct qvm *s = qt_start("src", src, 1, NULL);

	qt_migrate_fails(s, d, err, sizeof(err));
	qt_wait_running(s);
	qt_state(src[0], "RUNNING");
	for (int i = 0; i < 250 && !qvm_exited(d); i++)
		usleep(20000);
	ASSERT_TRUE(qvm_exited(d));
}

/*
 * A source that re-configures during precopy (REINIT source) migrates
 * correctly with a QEMU that does not opt in to PRECOPY_INFOv2: the
 * device never sees the opt-in, so flags stay 0 for QEMU.
 */
TEST_TIMEOUT(reconfiguring_device_without_opt_in, 180)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN], v2[8];
	struct qvm_opts in = { .incoming = true };

	qt_devices("tiny", 1, src, dst);
	qt_set(src[0], "reinit_capable", "1");
	qt_set(src[0], "reconfig_interval_ms", "20");
	struct qvm *d = qt_start("dst", dst, 1, &in);
	struct qvm *s = qt_start("src", src, 1, NULL);

	qt_migrate_ok(s, d);
	qt_attr(src[0], "precopy_info_v2", v2, sizeof(v2));
	ASSERT_STREQ("0", v2);
	qt_digests(src, dst, 1);
}

TEST_TIMEOUT(migrate_there_and_back, 240)
{
	char a[2][MOCKVF_UUID_LEN], b[2][MOCKVF_UUID_LEN];
	struct qvm_opts in = { .incoming = true };

	qt_devices("tiny", 2, a, b);
	struct qvm *d = qt_start("b", b, 2, &in);
	struct qvm *s = qt_start("a", a, 2, NULL);

	qt_migrate_ok(s, d);
	qt_digests(a, b, 2);
	/* The old source lets go of its devices; a new machine receives. */
	qt_stop(s);
	for (int i = 0; i < 2; i++)
		qt_set(a[i], "log", "clear");
	struct qvm *back = qt_start("a2", a, 2, &in);

	qt_migrate_ok(d, back);
	qt_digests(b, a, 2);
	qt_state(a[0], "RUNNING");
}

/*
 * A QEMU that stops answering QMP: the command times out within its
 * bound, the error names the command, and destroying the machine leaves
 * no process behind.
 */
TEST_TIMEOUT(hung_qemu_is_killed, 120)
{
	char src[1][MOCKVF_UUID_LEN], err[1024];
	const char *u[1];
	struct timespec t0, t1;

	qt_create("tiny", src[0]);
	u[0] = src[0];
	struct qvm *vm = qvm_start("hung", u, 1, NULL, err, sizeof(err));

	if (!vm)
		QT_FAIL("%s", err);
	pid_t pid = qvm_pid(vm);

	ASSERT_EQ(0, kill(pid, SIGSTOP));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	json_t *r = qvm_cmd(vm, "query-status", NULL, 1000, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

	mt_log("after %ld ms: %s", ms, err);
	ASSERT_TRUE(r == NULL);
	ASSERT_TRUE(strstr(err, "'query-status'") != NULL);
	ASSERT_LT(ms, 5000);
	qvm_destroy(vm);
	ASSERT_EQ(-1, kill(pid, 0));
	ASSERT_EQ(ESRCH, errno);
}

TEST_MAIN()
