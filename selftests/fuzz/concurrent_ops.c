// SPDX-License-Identifier: GPL-2.0
/*
 * concurrent_ops - several threads fuzz one mockvf device at once.
 *
 * The single-threaded fuzzers cannot reach the races: a reset while a
 * state change holds the state mutex (the deferred reset), a data_fd read
 * or PRECOPY_INFO while the file is being disabled, a close racing the
 * producer, knob and fault writes during transitions.  Here four threads
 * share one device fd and a pool of data_fds (each use goes through a
 * dup(), so a concurrent close never pulls an fd from under a thread) and
 * issue random requests for a few seconds, also changing the firmware
 * model under them (fw_max_concurrent slots, small latencies and
 * bandwidths).  One device is a 16 KiB `tiny`, the other a `cx7` (8 MiB,
 * ConnectX-7 latencies and bandwidths).  Resume writes are valid records
 * (a saved stream of the device, whole or cut at a record boundary) two
 * times in three, so records complete while RESUMING->STOP, resets and
 * closes race them; the run starts with fw_max_concurrent=1 and a load
 * bandwidth on both devices (the resume deadlock of issue 12).  Every
 * call must return
 * promptly; a watchdog prints the kernel stacks of threads that do not
 * finish.  Afterwards a reset must bring the device to RUNNING, it must
 * still migrate to itself with an equal digest, and no reference may be
 * left.
 */
#include "fuzz.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#define NTHREADS 4
#define RUN_S 3.0
#define PROMPT_S 5.0
#define POOL 6

#define NDEVS 2

struct cdev {
	struct vfio_dev d;
	char uuid[MOCKVF_UUID_LEN];
	int created, opened;
};

static struct cdev devs[NDEVS];
static const char *const dev_profile[NDEVS] = { "tiny", "cx7" };
/* a valid STOP_COPY stream of each device, and its record boundaries */
static struct mbuf valid[NDEVS];
static size_t valid_cut[NDEVS][64];
static int valid_ncut[NDEVS];
static atomic_uint n_valid;
static char fw_param_saved[32];

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int pool[POOL] = { -1, -1, -1, -1, -1, -1 };

static double stop_at;
static atomic_uint n_calls, n_slow, n_ok_state, n_fds, n_resets, n_bad;
static atomic_int done[NTHREADS];
static pid_t tids[NTHREADS];
static char slow_what[NTHREADS][96];

#define FW_PARAM "/sys/module/mockvf/parameters/fw_max_concurrent"

static int write_str(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void put_dev(void *p)
{
	struct cdev *c = p;

	if (c->opened)
		vfio_dev_close(&c->d);
	c->opened = 0;
	if (c->created)
		fuzz_remove_dev(strdup(c->uuid));
	c->created = 0;
}

static void restore_fw_param(void *p)
{
	(void)p;
	if (fw_param_saved[0])
		write_str(FW_PARAM, fw_param_saved);
}

static void pool_put(struct frng *g, int fd)
{
	int slot = frng_below(g, POOL), old;

	pthread_mutex_lock(&pool_lock);
	old = pool[slot];
	pool[slot] = fd;
	pthread_mutex_unlock(&pool_lock);
	if (old >= 0)
		close(old);
}

/* A private dup of a random pooled fd, or -1. */
static int pool_get(struct frng *g)
{
	int fd;

	pthread_mutex_lock(&pool_lock);
	fd = pool[frng_below(g, POOL)];
	fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_unlock(&pool_lock);
	return fd;
}

static void pool_close_one(struct frng *g)
{
	int slot = frng_below(g, POOL), fd;

	pthread_mutex_lock(&pool_lock);
	fd = pool[slot];
	pool[slot] = -1;
	pthread_mutex_unlock(&pool_lock);
	if (fd >= 0)
		close(fd);
}

static const char *const st_names[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
	"PRE_COPY", "PRE_COPY_P2P",
};

static void one_op(struct frng *g, int self)
{
	unsigned k = frng_below(g, 100);
	uint8_t buf[4096];
	char cmd[96];
	const char *what;
	double t0 = fuzz_now();
	struct cdev *c = &devs[frng_below(g, NDEVS)];
	int fd, st;

	if (k < 35) {
		static const uint32_t odd[] = { 0, 8, 100, 0xffffffffu };
		uint32_t tgt = frng_one_in(g, 8) ? odd[frng_below(g, 4)] :
				1 + frng_below(g, 7);

		what = "set_state";
		if (!vfio_dev_set_state(&c->d, tgt, &fd)) {
			n_ok_state++;
			if (fd >= 0) {
				n_fds++;
				pool_put(g, fd);
			}
			if (tgt == 0 || tgt > 7)
				n_bad++;	/* invalid target accepted */
		}
	} else if (k < 40) {
		what = "get_state";
		if (vfio_dev_get_state(&c->d, &st) || st < 0 || st > 7)
			n_bad++;
	} else if (k < 47) {
		what = "reset";
		if (vfio_dev_reset(&c->d))
			n_bad++;
		n_resets++;
	} else if (k < 62) {
		what = "read";
		fd = pool_get(g);
		if (fd >= 0) {
			fcntl(fd, F_SETFL, O_NONBLOCK);
			if (read(fd, buf, 1 + frng_below(g, sizeof(buf))) > 0 &&
			    frng_one_in(g, 2))
				while (read(fd, buf, sizeof(buf)) > 0 &&
				       fuzz_now() < t0 + 0.05)
					;
			close(fd);
		}
	} else if (k < 67) {
		struct pollfd p = { .events = POLLIN };

		what = "poll";
		p.fd = pool_get(g);
		if (p.fd >= 0) {
			poll(&p, 1, frng_below(g, 10));
			close(p.fd);
		}
	} else if (k < 72 && frng_below(g, 3)) {
		int v = frng_below(g, NDEVS);
		size_t len = valid[v].len;
		ssize_t r;

		/* valid records: the whole stream or a prefix of records */
		what = "write valid";
		fd = pool_get(g);
		if (fd >= 0) {
			if (valid_ncut[v] && frng_one_in(g, 2))
				len = valid_cut[v][frng_below(g, valid_ncut[v])];
			r = write(fd, valid[v].p, len);
			if (r < 0 && errno != EINVAL && errno != EBADF &&
			    errno != ENODEV)
				n_bad++;
			if (r > 0)
				n_valid++;
			close(fd);
		}
	} else if (k < 72) {
		what = "write";
		fd = pool_get(g);
		if (fd >= 0) {
			frng_fill(g, buf, 64);
			le32_put(buf, MVS_MAGIC);
			le16_put(buf + 4, MVS_VERSION);
			le16_put(buf + 6, 1);
			le32_put(buf + 8, 0);
			le32_put(buf + 12, 16);
			fcntl(fd, F_SETFL, O_NONBLOCK);
			if (write(fd, buf, 24 + frng_below(g, 40)) < 0 &&
			    errno != EINVAL && errno != EBADF &&
			    errno != ENODEV)
				n_bad++;
			close(fd);
		}
	} else if (k < 78) {
		struct vm_precopy_info info = { .argsz = sizeof(info) };

		what = "PRECOPY_INFO";
		fd = pool_get(g);
		if (fd >= 0) {
			ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
			close(fd);
		}
	} else if (k < 82) {
		uint64_t b;

		what = "MIG_DATA_SIZE";
		if (vfio_dev_data_size(&c->d, &b))
			n_bad++;
	} else if (k < 87) {
		what = "close";
		pool_close_one(g);
	} else if (k < 92) {
		unsigned a = 1 + frng_below(g, 7), b = 1 + frng_below(g, 7);

		what = "fault";
		if (a == b)
			b = a % 7 + 1;
		switch (frng_below(g, 4)) {
		case 0:
			snprintf(cmd, sizeof(cmd), "fail %s 1 %d", st_names[a],
				 frng_one_in(g, 2) ? EIO : ETIMEDOUT);
			break;
		case 1:
			snprintf(cmd, sizeof(cmd), "delay %s %s %u", st_names[a],
				 st_names[b], (unsigned)frng_below(g, 5001));
			break;
		case 2:
			snprintf(cmd, sizeof(cmd), "%s %u",
				 frng_one_in(g, 2) ? "corrupt" : "truncate",
				 (unsigned)frng_below(g, 20000));
			break;
		default:
			snprintf(cmd, sizeof(cmd), "clear");
		}
		if (mockvf_attr_write(c->uuid, "fault", cmd))
			n_bad++;
	} else if (k < 96) {
		int r;

		what = "reconfig";
		r = mockvf_attr_write(c->uuid, "reconfig", "1");
		if (r && r != -EBUSY)
			n_bad++;
	} else if (k < 98) {
		static const char *const tk[] = {
			"timing/save_bw_kbps", "timing/load_bw_kbps",
			"timing/suspend_initiator_us", "timing/save_start_us",
			"timing/load_us",
		};
		int t = frng_below(g, 5);
		const char *val;

		/* the firmware model: slots and small latencies */
		what = "firmware knobs";
		if (frng_one_in(g, 3)) {
			val = (const char *[]){ "0", "1", "2" }[frng_below(g, 3)];
			if (write_str(FW_PARAM, val))
				n_bad++;
		} else {
			val = t < 2 ? (const char *[]){ "0", "100000",
				"1000000" }[frng_below(g, 3)] :
				(const char *[]){ "0", "200", "2000" }[frng_below(g, 3)];
			if (mockvf_attr_write(c->uuid, tk[t], val))
				n_bad++;
		}
	} else {
		char v[32];
		int r;

		what = "knob";
		r = frng_one_in(g, 2) ?
			mockvf_attr_write(c->uuid, "dirty_rate",
					  frng_one_in(g, 2) ? "0" : "8000000") :
			mockvf_attr_read(c->uuid, frng_one_in(g, 2) ? "digest" :
					 "state", v, sizeof(v));
		if (r)
			n_bad++;
	}
	n_calls++;
	if (fuzz_now() - t0 > PROMPT_S) {
		n_slow++;
		snprintf(slow_what[self], sizeof(slow_what[self]),
			 "%s took %.2f s", what, fuzz_now() - t0);
	}
}

struct worker {
	int self;
	uint64_t seed;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct frng g;

	tids[w->self] = (pid_t)syscall(SYS_gettid);
	frng_init(&g, w->seed);
	while (fuzz_now() < stop_at)
		one_op(&g, w->self);
	done[w->self] = 1;
	return NULL;
}

static void dump_stacks(void)
{
	for (int i = 0; i < NTHREADS; i++) {
		char path[64], buf[2048];
		ssize_t n;
		int fd;

		if (done[i])
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tids[i]);
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		mt_log("thread %d (tid %d) stuck; kernel stack:\n%s", i, tids[i],
		       buf);
	}
}

TEST_TIMEOUT(concurrent_ops, 100)
{
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	struct frng g;
	struct mbuf b = { 0 };
	double t0;
	uint64_t seed, dig;
	long ref0;
	int fd, all;

	seed = fuzz_seed("concurrent_ops");
	frng_init(&g, seed);
	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	for (int i = 0; i < NDEVS; i++) {
		ASSERT_EQ(0, mockvf_create(dev_profile[i], devs[i].uuid));
		devs[i].created = 1;
		mt_defer(put_dev, &devs[i]);
		ASSERT_EQ(0, vfio_dev_open(devs[i].uuid, &devs[i].d));
		devs[i].opened = 1;
		/* its stream, cut points at record ends (headers carry len) */
		ASSERT_EQ(0, vfio_dev_set_state(&devs[i].d, MT_STOP_COPY, &fd));
		ASSERT_EQ(0, vfio_read_stream(fd, &valid[i]));
		close(fd);
		ASSERT_EQ(0, vfio_dev_reset(&devs[i].d));
		for (size_t off = 0; off + MVS_HDR <= valid[i].len &&
		     valid_ncut[i] < 64;) {
			off += MVS_HDR + le32_get(valid[i].p + off + 12);
			valid_cut[i][valid_ncut[i]++] = off;
		}
	}
	{
		int pfd = open(FW_PARAM, O_RDONLY | O_CLOEXEC);
		ssize_t n = pfd >= 0 ? read(pfd, fw_param_saved,
					    sizeof(fw_param_saved) - 1) : -1;

		if (pfd >= 0)
			close(pfd);
		fw_param_saved[n > 0 ? n : 0] = '\0';
		fw_param_saved[strcspn(fw_param_saved, "\n")] = '\0';
		mt_defer(restore_fw_param, NULL);
	}
	/* one firmware slot and a load bandwidth to begin with */
	ASSERT_EQ(0, write_str(FW_PARAM, "1"));
	for (int i = 0; i < NDEVS; i++)
		ASSERT_EQ(0, mockvf_attr_write(devs[i].uuid,
					       "timing/load_bw_kbps", "100000"));

	t0 = fuzz_now();
	stop_at = t0 + RUN_S * fuzz_scale();
	for (int i = 0; i < NTHREADS; i++) {
		w[i].self = i;
		w[i].seed = frng_next(&g);
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker_fn, &w[i]));
	}
	/* watchdog: the workers stop at stop_at; allow PROMPT_S + slack */
	do {
		usleep(20000);
		all = 1;
		for (int i = 0; i < NTHREADS; i++)
			all &= done[i];
	} while (!all && fuzz_now() < stop_at + PROMPT_S + 5);
	if (!all) {
		dump_stacks();
		mt_fail_here(__FILE__, __LINE__,
			     "workers hung (seed %#llx); the device cannot be cleaned up",
			     (unsigned long long)seed);
		fflush(stdout);
		_exit(KSFT_FAIL);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	mt_log("%u calls by %d threads in %.1f s: %u state changes (%u data_fds), %u resets, %u valid-record writes",
	       n_calls, NTHREADS, fuzz_now() - t0, n_ok_state, n_fds, n_resets,
	       n_valid);
	for (int i = 0; i < NTHREADS; i++)
		if (slow_what[i][0])
			mt_log("thread %d: %s", i, slow_what[i]);
	EXPECT_EQ(0, n_slow);
	EXPECT_EQ(0, n_bad);
	ASSERT_GT(n_calls, 100);

	/* back to a clean device */
	for (int i = 0; i < POOL; i++)
		if (pool[i] >= 0)
			close(pool[i]);
	restore_fw_param(NULL);
	for (int i = 0; i < NDEVS; i++) {
		struct cdev *c = &devs[i];
		static const char *const tk[] = {
			"timing/save_bw_kbps", "timing/load_bw_kbps",
			"timing/suspend_initiator_us", "timing/save_start_us",
			"timing/load_us",
		};

		for (int t = 0; t < 5; t++)
			ASSERT_EQ(0, mockvf_attr_write(c->uuid, tk[t], "0"));
		ASSERT_EQ(0, mockvf_attr_write(c->uuid, "fault", "clear"));
		ASSERT_EQ(0, mockvf_attr_write(c->uuid, "dirty_rate", "0"));
		ASSERT_EQ(0, vfio_dev_reset(&c->d));
		fuzz_expect_running(&c->d);
		ASSERT_EQ(0, vfio_dev_set_state(&c->d, MT_STOP_COPY, &fd));
		dig = fuzz_digest(c->uuid);
		b.len = 0;
		ASSERT_EQ(0, vfio_read_stream(fd, &b));
		close(fd);
		ASSERT_EQ(0, vfio_dev_reset(&c->d));
		ASSERT_EQ(0, mockvf_attr_write(c->uuid, "reconfig", "1"));
		ASSERT_EQ(0, vfio_dev_set_state(&c->d, MT_RESUMING, &fd));
		ASSERT_EQ(0, vfio_write_all(fd, b.p, b.len, 8192));
		ASSERT_EQ(0, vfio_dev_set_state(&c->d, MT_RUNNING, NULL));
		close(fd);
		ASSERT_EQ(dig, fuzz_digest(c->uuid));
	}
	mbuf_free(&b);
	for (int i = 0; i < NDEVS; i++)
		mbuf_free(&valid[i]);

	for (int i = 0; i < NDEVS; i++)
		put_dev(&devs[i]);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

FUZZ_TIMEOUT(concurrent_ops, 100)

TEST_MAIN()
