// SPDX-License-Identifier: GPL-2.0
/*
 * regressions - one test per kmod bug found by review (issue 12), each of
 * which failed (splat, hang, mismatch or wrong answer) before its fix:
 *
 *   truncated_record_freed_unlocked  kvfree() of a record truncated away
 *	entirely ran under the save spinlock; vfree() may sleep.  Needs the
 *	debug kernel's fail_page_alloc to make kvmalloc() fall back to
 *	vmalloc (skips elsewhere); the splat is "BUG: sleeping function
 *	called from invalid context".
 *   precopy_start_vs_reconfig  the save producer started before the file
 *	was published as mv->save, so a workload re-configuration in that
 *	window was lost (END digest mismatch at the destination).
 *   reset_vs_region_reads  VFIO_DEVICE_RESET cleared BAR0 without irq_lock
 *	while region reads copy it under irq_lock: readers saw half-reset
 *	BARs.
 *   fail_fault_user_errnos  the "fail" fault accepted kernel-internal
 *	errnos (512..4094, ERESTARTSYS first), which then reached userspace.
 *   set_irqs_data_bool  SET_IRQS with DATA_BOOL signalled the REQ eventfd
 *	whatever the bool said.
 *   delay_fault_killable  a delay fault slept up to 10 s uninterruptibly
 *	under state_mutex: a SIGKILLed task stayed in D state for all of it.
 *   resume_partial_write_efault  write() on a resuming fd returned EFAULT
 *	after it had taken in a record header: the retry desynced the stream.
 *   resume_write_vs_load  (last: before the fix it hangs for good) write()
 *	held the resume file's lock while waiting for a firmware slot, and
 *	RESUMING->STOP held a slot while waiting for that lock: with
 *	fw_max_concurrent=1 and a load bandwidth, both hung, unkillable.
 *	The debug kernel's lockdep reports the order even when the timing
 *	misses (the slot pool is a lockdep map).
 */
#define _GNU_SOURCE
#include "harness.h"
#include "vfio_dev.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IDX(i) ((uint64_t)(i) << 40)
#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

/* How many kernel log lines contain @what. */
static int klog_count(const char *what)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	char *buf, *p;
	int n, hits = 0;

	if (size <= 0)
		return -1;
	buf = calloc(1, size + 1);
	if (!buf)
		return -1;
	n = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, what)) != NULL; p += strlen(what))
		hits++;
	free(buf);
	return hits;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -errno;
}

#define FPA "/sys/kernel/debug/fail_page_alloc/"

static void fpa_off(void *unused)
{
	(void)unused;
	write_file(FPA "probability", "0");
	write_file(FPA "times", "1");
}

TEST(truncated_record_freed_unlocked)
{
	char u[MOCKVF_UUID_LEN];
	struct mbuf b = { 0 };
	struct vfio_dev *d;
	int fd, before, after;

	mvt_require();
	if (access(FPA "min-order", W_OK))
		SKIP("no fail_page_alloc in debugfs (not the debug kernel)");
	before = klog_count("sleeping function called from invalid context");
	ASSERT_GE(before, 0);
	mvt_create("cx7", u);
	d = mvt_open(u);
	mvt_set(u, "timing/save_bw_kbps", "0");
	/* the first DATA record starts after INFO (24-byte header + 16) */
	mvt_set(u, "fault", "truncate 40");
	mvt_goto(d, MT_STOP);
	/*
	 * Fail page allocations of order 7 and more (the 256 KiB record's
	 * kmalloc), so kvmalloc() falls back to vmalloc and kvfree() is a
	 * vfree().  Only for the STOP_COPY step; nothing else here needs
	 * such blocks.
	 */
	mt_defer(fpa_off, NULL);
	ASSERT_EQ(0, write_file(FPA "verbose", "0"));
	ASSERT_EQ(0, write_file(FPA "task-filter", "N"));
	ASSERT_EQ(0, write_file(FPA "ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_file(FPA "ignore-gfp-highmem", "N"));
	ASSERT_EQ(0, write_file(FPA "min-order", "7"));
	ASSERT_EQ(0, write_file(FPA "interval", "1"));
	ASSERT_EQ(0, write_file(FPA "times", "-1"));
	ASSERT_EQ(0, write_file(FPA "probability", "100"));
	fd = mvt_goto(d, MT_STOP_COPY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	fpa_off(NULL);
	close(fd);
	ASSERT_EQ(40, b.len);	/* INFO, then the stream ends */
	mbuf_free(&b);
	after = klog_count("sleeping function called from invalid context");
	ASSERT_EQ(before, after);
}

/*
 * The window was between the producer's start and the publication of the
 * file, a few instructions; it is opened wide by starving the task in the
 * ioctl: SCHED_IDLE, on one CPU with a busy thread, so the producer (a
 * kworker) and the workload's re-configuration (every 10 ms) both run
 * before the ioctl finishes RUNNING->PRE_COPY.
 */
struct hog {
	volatile int on, quit;
};

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *hog_loop(void *p)
{
	struct hog *h = p;

	pin_cpu0();
	while (!h->quit)
		while (h->on && !h->quit)
			;
	return NULL;
}

static int precopy_starved(struct vfio_dev *d, struct hog *h)
{
	struct sched_param idle = { 0 }, other = { 0 };
	int fd = -1, ret;

	h->on = 1;
	sched_setscheduler(0, SCHED_IDLE, &idle);
	ret = vfio_dev_set_state(d, MT_PRE_COPY, &fd);
	sched_setscheduler(0, SCHED_OTHER, &other);
	h->on = 0;
	ASSERT_EQ(0, ret);
	return fd;
}

TEST_TIMEOUT(precopy_start_vs_reconfig, 120)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	uint64_t t_end = vfio_now_ns() + 30ULL * 1000000000ULL;
	struct vfio_dev *src, *dst;
	struct hog h = { 0 };
	pthread_t th;
	int i, sfd, rfd;

	mvt_require();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("needs two CPUs");
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	src = mvt_open(us);
	dst = mvt_open(ud);
	mvt_set(us, "reconfig_interval_ms", "10");
	pin_cpu0();
	ASSERT_EQ(0, pthread_create(&th, NULL, hog_loop, &h));
	for (i = 0; i < 30 && vfio_now_ns() < t_end; i++) {
		struct mbuf b = { 0 };

		sfd = precopy_starved(src, &h);
		ASSERT_GE(sfd, 0);
		ASSERT_EQ(-ENOMSG, vfio_read_stream(sfd, &b));
		ASSERT_EQ(-1, mvt_goto(src, MT_PRE_COPY_P2P));
		ASSERT_EQ(-1, mvt_goto(src, MT_STOP_COPY));
		snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
		ASSERT_EQ(0, vfio_read_stream(sfd, &b));
		close(sfd);
		rfd = mvt_goto(dst, MT_RESUMING);
		ASSERT_GE(rfd, 0);
		ASSERT_EQ(0, vfio_write_all(rfd, b.p, b.len, 100000));
		mbuf_free(&b);
		/* the END digest check of the load fails on a lost change */
		if (vfio_dev_set_state(dst, MT_STOP, NULL)) {
			mt_log("iteration %d: the destination refused the image",
			       i);
			close(rfd);
			break;
		}
		close(rfd);
		if (strcmp(dg, mvt_attr(ud, "digest"))) {
			mt_log("iteration %d: source %s, destination %s", i,
			       dg, mvt_attr(ud, "digest"));
			break;
		}
		mvt_goto(src, MT_RUNNING);
		mvt_goto(dst, MT_RUNNING);
		ASSERT_EQ(0, vfio_dev_reset(dst));
	}
	h.quit = 1;
	pthread_join(th, NULL);
	mt_log("%d starved PRE_COPY entries with re-configurations", i);
	ASSERT_TRUE(i == 30 || vfio_now_ns() >= t_end);
}

struct bar_reader {
	int fd;
	volatile int stop;
	long reads, torn;
};

static void *bar_read_loop(void *p)
{
	struct bar_reader *r = p;
	uint8_t bar[4096];

	while (!r->stop) {
		size_t zero = 0;

		if (pread(r->fd, bar, sizeof(bar),
			  IDX(VFIO_PCI_BAR0_REGION_INDEX)) != sizeof(bar))
			break;
		for (size_t i = 0; i < sizeof(bar); i++)
			zero += !bar[i];
		if (zero && zero != sizeof(bar))
			r->torn++;
		r->reads++;
	}
	return NULL;
}

TEST_TIMEOUT(reset_vs_region_reads, 90)
{
	char u[MOCKVF_UUID_LEN];
	struct bar_reader r = { 0 };
	uint64_t t_end = vfio_now_ns() + 10ULL * 1000000000ULL;
	uint8_t ones[4096];
	struct vfio_dev *d;
	pthread_t th;
	long resets = 0;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	memset(ones, 0xff, sizeof(ones));
	r.fd = d->fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, bar_read_loop, &r));
	while (vfio_now_ns() < t_end && !r.torn) {
		if (pwrite(d->fd, ones, sizeof(ones),
			   IDX(VFIO_PCI_BAR0_REGION_INDEX)) != sizeof(ones))
			break;
		if (vfio_dev_reset(d))
			break;
		resets++;
	}
	r.stop = 1;
	pthread_join(th, NULL);
	mt_log("%ld resets, %ld BAR0 reads, %ld half reset", resets, r.reads,
	       r.torn);
	ASSERT_GT(r.reads, 0);
	ASSERT_GT(resets, 0);
	ASSERT_EQ(0, r.torn);
}

TEST(fail_fault_user_errnos)
{
	static const char *const bad[] = {
		"fail STOP 1 512",	/* ERESTARTSYS */
		"fail STOP 1 516",	/* ERESTART_RESTARTBLOCK */
		"fail STOP 1 4094",
		"fail STOP 1 4095",
	};
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mt_log("%s", bad[i]);
		EXPECT_EQ(-EINVAL, mockvf_attr_write(u, "fault", bad[i]));
	}
	ASSERT_STREQ("", mvt_attr(u, "fault"));
	mvt_set(u, "fault", "fail STOP 1 511");
	mvt_set(u, "fault", "clear");
	mvt_set(u, "fault", "fail STOP 1 133");	/* EHWPOISON, the last */
	ASSERT_EQ(-133, vfio_dev_set_state(d, MT_STOP, NULL));
	ASSERT_EQ(0, vfio_dev_reset(d));
}

static int set_req(struct vfio_dev *d, uint32_t flags, const void *data,
		   size_t len)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + 8];
	struct vfio_irq_set *irq = (void *)buf;

	memset(buf, 0, sizeof(buf));
	irq->argsz = sizeof(*irq) + len;
	irq->flags = flags | VFIO_IRQ_SET_ACTION_TRIGGER;
	irq->index = VFIO_PCI_REQ_IRQ_INDEX;
	irq->start = 0;
	irq->count = 1;
	memcpy(irq->data, data, len);
	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, irq) ? -errno : 0;
}

TEST(set_irqs_data_bool)
{
	char u[MOCKVF_UUID_LEN];
	uint8_t no = 0, yes = 1;
	struct vfio_dev *d;
	uint64_t v;
	int32_t efd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, set_req(d, VFIO_IRQ_SET_DATA_EVENTFD, &efd, 4));
	ASSERT_EQ(0, set_req(d, VFIO_IRQ_SET_DATA_BOOL, &no, 1));
	EXPECT_EQ(-1, read(efd, &v, sizeof(v)));	/* not signalled */
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, set_req(d, VFIO_IRQ_SET_DATA_BOOL, &yes, 1));
	ASSERT_EQ(8, read(efd, &v, sizeof(v)));
	ASSERT_EQ(1, v);
	ASSERT_EQ(0, set_req(d, VFIO_IRQ_SET_DATA_NONE, NULL, 0));
	ASSERT_EQ(8, read(efd, &v, sizeof(v)));
	ASSERT_EQ(1, v);
	close(efd);
}

TEST_TIMEOUT(delay_fault_killable, 60)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	uint64_t t0, dt;
	int pfd[2], status;
	pid_t pid;
	char c;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	/* 10 s on the first arc of RUNNING -> STOP */
	mvt_set(u, "fault", "delay RUNNING RUNNING_P2P 10000000");
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(pfd[0]);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		/* the parent's device fd, inherited */
		vfio_dev_set_state(d, MT_RUNNING_P2P, NULL);
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	usleep(500000);		/* well inside the delay */
	t0 = vfio_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	dt = vfio_now_ns() - t0;
	mt_log("the killed task was gone after %llu ms",
	       (unsigned long long)(dt / 1000000));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_LT(dt, 2000000000ULL);
	/* the device is usable at once */
	mvt_set(u, "fault", "clear");
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(MT_RUNNING, mvt_state(d));
}

/* A stream of @uuid from STOP_COPY (the device ends in STOP). */
static void save_stream(struct vfio_dev *d, struct mbuf *b)
{
	int fd;

	mvt_goto(d, MT_STOP);
	fd = mvt_goto(d, MT_STOP_COPY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, vfio_read_stream(fd, b));
	close(fd);
	mvt_goto(d, MT_STOP);
}

TEST(resume_partial_write_efault)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	long pg = sysconf(_SC_PAGESIZE);
	struct vfio_dev *src, *dst;
	struct mbuf b = { 0 };
	uint8_t *map;
	ssize_t n;
	int rfd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	src = mvt_open(us);
	dst = mvt_open(ud);
	save_stream(src, &b);
	snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
	ASSERT_GT(b.len, 40);
	/* the INFO header (24 bytes) at the end of a page, its payload
	 * unmapped
	 */
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, mprotect(map + pg, pg, PROT_NONE));
	memcpy(map + pg - 24, b.p, 24);
	rfd = mvt_goto(dst, MT_RESUMING);
	ASSERT_GE(rfd, 0);
	n = write(rfd, map + pg - 24, 40);
	mt_log("write of header + unreadable payload: %zd (%s)", n,
	       n < 0 ? strerror(errno) : "ok");
	munmap(map, 2 * pg);
	/* the header was taken in: say so, or a retry sends it twice */
	ASSERT_EQ(24, n);
	ASSERT_EQ(0, vfio_write_all(rfd, b.p + 24, b.len - 24, 100000));
	ASSERT_EQ(-1, mvt_goto(dst, MT_STOP));
	close(rfd);
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	mbuf_free(&b);
}

#define FW_MAX "/sys/module/mockvf/parameters/fw_max_concurrent"
static char fw_max_old[16];

static void fw_max_restore(void *unused)
{
	(void)unused;
	write_file(FW_MAX, fw_max_old);
}

struct writer {
	int fd;
	const struct mbuf *b;
	ssize_t ret;
	int err;
};

static void *write_whole(void *p)
{
	struct writer *w = p;

	w->ret = write(w->fd, w->b->p, w->b->len);
	w->err = errno;
	return NULL;
}

struct loader {
	struct vfio_dev *d;
	int ret;
};

static void *load_it(void *p)
{
	struct loader *l = p;

	l->ret = vfio_dev_set_state(l->d, MT_STOP, NULL);
	return NULL;
}

TEST_TIMEOUT(resume_write_vs_load, 120)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	struct vfio_dev *src, *dst;
	struct mbuf b = { 0 };
	struct writer w = { 0 };
	struct loader l = { 0 };
	struct timespec until;
	pthread_t tw, tl;
	int fd, rw, rl;
	ssize_t n;

	mvt_require();
	fd = open(FW_MAX, O_RDONLY);
	ASSERT_GE(fd, 0);
	n = read(fd, fw_max_old, sizeof(fw_max_old) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	mt_defer(fw_max_restore, NULL);
	ASSERT_EQ(0, write_file(FW_MAX, "1"));
	mvt_create("cx7", us);
	mvt_create("cx7", ud);
	/* 64 MiB: the writer parses records for a long while */
	mvt_set(us, "state_size", "67108864");
	mvt_set(ud, "state_size", "67108864");
	src = mvt_open(us);
	dst = mvt_open(ud);
	save_stream(src, &b);
	snprintf(dg, sizeof(dg), "%s", mvt_attr(us, "digest"));
	/* 64 MiB at 128 MiB/s: the write holds a slot for about 0.5 s */
	mvt_set(ud, "timing/load_bw_kbps", "131072");
	w.fd = mvt_goto(dst, MT_RESUMING);
	ASSERT_GE(w.fd, 0);
	w.b = &b;
	l.d = dst;
	ASSERT_EQ(0, pthread_create(&tw, NULL, write_whole, &w));
	usleep(5000);		/* the writer is parsing the records */
	ASSERT_EQ(0, pthread_create(&tl, NULL, load_it, &l));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	rw = pthread_timedjoin_np(tw, NULL, &until);
	rl = pthread_timedjoin_np(tl, NULL, &until);
	if (rw || rl) {
		mt_fail_here(__FILE__, __LINE__,
			     "write() %s, RESUMING->STOP %s after 30 s: deadlock",
			     rw ? "stuck" : "returned",
			     rl ? "stuck" : "returned");
		mt_abort_test();
	}
	mt_log("write() %zd, RESUMING->STOP %d", w.ret, l.ret);
	ASSERT_EQ((ssize_t)b.len, w.ret);
	/* the load came after the whole stream, or before any of it */
	if (l.ret == 0)
		ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	close(w.fd);
	mbuf_free(&b);
}

TEST_MAIN()
