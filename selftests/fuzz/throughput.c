// SPDX-License-Identifier: GPL-2.0
/*
 * throughput - volume: many ioctls and many resume streams, fast.
 *
 * Two threads, each with its own one-page device (state_size 4096, no
 * modelled latencies), loop over: a burst of cheap ioctls (GET_STATE,
 * MIG_DATA_SIZE, GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, an unknown
 * feature), then one resume stream - STOP->RESUMING, the device's own
 * stream written whole (half of the time) or mutated (a bit flip, a cut,
 * a dropped or repeated byte run), RESUMING->STOP, reset.  A valid stream
 * must load with its digest, a mutated one may be refused (it nearly
 * always is: every record is checksummed) and a refused one must leave
 * the device state unchanged (digests checked one stream in 64).
 *
 * Short by default (20000 ioctls and 2000 streams, a few seconds);
 * FUZZ_OPS=N (make fuzz FUZZ_OPS=1000000) runs until both counts reach N,
 * capped at 30 minutes, and prints the counts and rates.
 */
#include "fuzz.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#define NTHREADS 2
#define CAP_S (30 * 60.0)

static atomic_ullong n_ioctl, n_stream, n_loaded, n_refused;
static unsigned long long want_ioctl, want_stream;
static atomic_int failed;
static char fail_msg[256];

struct tdev {
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	int created, opened;
	struct mbuf stream;
	uint64_t seed;
};

static struct tdev tdevs[NTHREADS];

static void tdev_put(void *p)
{
	struct tdev *t = p;

	if (t->opened)
		vfio_dev_close(&t->d);
	t->opened = 0;
	if (t->created)
		fuzz_remove_dev(strdup(t->uuid));
	t->created = 0;
	mbuf_free(&t->stream);
}

static void fail(const char *msg, long v)
{
	if (!atomic_exchange(&failed, 1))
		snprintf(fail_msg, sizeof(fail_msg), "%s (%ld)", msg, v);
}

static int cheap_ioctls(struct tdev *t, struct frng *g)
{
	int n = 8 + frng_below(g, 9);

	for (int i = 0; i < n; i++) {
		union {
			struct vfio_device_info info;
			struct vfio_region_info reg;
			struct vfio_irq_info irq;
			struct vfio_device_feature feat;
		} u;
		uint64_t b;
		int st, r;

		memset(&u, 0, sizeof(u));
		switch (frng_below(g, 6)) {
		case 0:
			r = vfio_dev_get_state(&t->d, &st);
			if (r || st != MT_RUNNING)
				return fail("GET_STATE", r ? r : st), -1;
			break;
		case 1:
			if (vfio_dev_data_size(&t->d, &b))
				return fail("MIG_DATA_SIZE", 0), -1;
			break;
		case 2:
			u.info.argsz = sizeof(u.info);
			if (ioctl(t->d.fd, VFIO_DEVICE_GET_INFO, &u.info))
				return fail("GET_INFO", errno), -1;
			break;
		case 3:
			u.reg.argsz = sizeof(u.reg);
			u.reg.index = frng_below(g, 12);
			r = ioctl(t->d.fd, VFIO_DEVICE_GET_REGION_INFO, &u.reg);
			if (r && (u.reg.index < VFIO_PCI_NUM_REGIONS ||
				  errno != EINVAL))
				return fail("GET_REGION_INFO", errno), -1;
			break;
		case 4:
			u.irq.argsz = sizeof(u.irq);
			u.irq.index = frng_below(g, 8);
			r = ioctl(t->d.fd, VFIO_DEVICE_GET_IRQ_INFO, &u.irq);
			if (r && (u.irq.index < VFIO_PCI_NUM_IRQS ||
				  errno != EINVAL))
				return fail("GET_IRQ_INFO", errno), -1;
			break;
		default:
			u.feat.argsz = sizeof(u.feat);
			u.feat.flags = VFIO_DEVICE_FEATURE_GET | 200;
			if (!ioctl(t->d.fd, VFIO_DEVICE_FEATURE, &u.feat))
				return fail("unknown feature accepted", 0), -1;
			break;
		}
		n_ioctl++;
	}
	return 0;
}

/* Mutate @len bytes at @p in place; returns the new length. */
static size_t mutate(struct frng *g, uint8_t *p, size_t len)
{
	size_t off = frng_below(g, len), n;

	switch (frng_below(g, 4)) {
	case 0:
		p[off] ^= 1u << frng_below(g, 8);
		return len;
	case 1:
		return off ? off : 1;		/* cut */
	case 2:					/* drop a run */
		n = 1 + frng_below(g, len - off);
		memmove(p + off, p + off + n, len - off - n);
		return len - n ? len - n : 1;
	default:				/* repeat a byte over a run */
		n = 1 + frng_below(g, len - off);
		memset(p + off, p[off], n);
		return len;
	}
}

static int one_stream(struct tdev *t, struct frng *g, uint8_t *buf,
		      uint64_t dig)
{
	int fd = -1, r, check = frng_one_in(g, 64), valid = frng_one_in(g, 2);
	size_t len = t->stream.len;
	uint64_t before = check ? fuzz_digest(t->uuid) : 0;
	ssize_t w;

	memcpy(buf, t->stream.p, len);
	if (!valid)
		len = mutate(g, buf, len);
	r = vfio_dev_set_state(&t->d, MT_RESUMING, &fd);
	n_ioctl++;
	if (r || fd < 0)
		return fail("STOP->RESUMING", r), -1;
	w = write(fd, buf, len);
	if (valid && w != (ssize_t)len)
		return fail("a valid stream was refused by write", errno), -1;
	r = vfio_dev_set_state(&t->d, MT_STOP, NULL);
	n_ioctl++;
	close(fd);
	if (valid && r)
		return fail("a valid stream did not load", r), -1;
	if (r)
		n_refused++;
	else
		n_loaded++;
	/* loaded: the stream's digest; refused: the state untouched */
	if (check && (valid || r) && fuzz_digest(t->uuid) != (r ? before : dig))
		return fail(r ? "a refused stream changed the state" :
			    "a valid stream loaded another digest", valid), -1;
	if (vfio_dev_reset(&t->d))
		return fail("reset", errno), -1;
	n_ioctl++;
	n_stream++;
	return 0;
}

static void *worker(void *p)
{
	struct tdev *t = p;
	uint8_t *buf = malloc(t->stream.len);
	uint64_t dig = fuzz_digest(t->uuid);
	double cap = fuzz_now() + CAP_S;
	struct frng g;

	if (!buf)
		return fail("malloc", 0), NULL;
	frng_init(&g, t->seed);
	while (!failed && fuzz_now() < cap &&
	       (n_ioctl < want_ioctl || n_stream < want_stream)) {
		if (cheap_ioctls(t, &g) || one_stream(t, &g, buf, dig))
			break;
	}
	free(buf);
	return NULL;
}

TEST_TIMEOUT(throughput, 60)
{
	const char *ops = getenv("FUZZ_OPS");
	struct frng g;
	pthread_t th[NTHREADS];
	double t0, dt;
	long ref0;
	int fd;

	frng_init(&g, fuzz_seed("throughput"));
	mvt_require();
	want_ioctl = 20000ULL * fuzz_scale();
	want_stream = 2000ULL * fuzz_scale();
	if (ops && strtoull(ops, NULL, 0))
		want_ioctl = want_stream = strtoull(ops, NULL, 0);
	ref0 = fuzz_mockvf_refcnt();
	for (int i = 0; i < NTHREADS; i++) {
		struct tdev *t = &tdevs[i];
		static const char *const tk[] = {
			"suspend_initiator_us", "suspend_responder_us",
			"resume_initiator_us", "resume_responder_us",
			"save_start_us", "load_us", "save_bw_kbps",
			"load_bw_kbps",
		};

		ASSERT_EQ(0, mockvf_create("tiny", t->uuid));
		t->created = 1;
		mt_defer(tdev_put, t);
		ASSERT_EQ(0, mockvf_attr_write(t->uuid, "state_size", "4096"));
		for (size_t k = 0; k < sizeof(tk) / sizeof(tk[0]); k++) {
			char a[64];

			snprintf(a, sizeof(a), "timing/%s", tk[k]);
			ASSERT_EQ(0, mockvf_attr_write(t->uuid, a, "0"));
		}
		ASSERT_EQ(0, vfio_dev_open(t->uuid, &t->d));
		t->opened = 1;
		ASSERT_EQ(0, vfio_dev_set_state(&t->d, MT_STOP_COPY, &fd));
		ASSERT_EQ(0, vfio_read_stream(fd, &t->stream));
		close(fd);
		ASSERT_EQ(0, vfio_dev_reset(&t->d));
		t->seed = frng_next(&g);
	}
	t0 = fuzz_now();
	for (int i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker, &tdevs[i]));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	dt = fuzz_now() - t0;
	mt_log("%llu ioctls and %llu resume streams (%llu loaded, %llu refused) in %.1f s: %.0f ioctls/s, %.0f streams/s",
	       (unsigned long long)n_ioctl, (unsigned long long)n_stream,
	       (unsigned long long)n_loaded, (unsigned long long)n_refused,
	       dt, n_ioctl / dt, n_stream / dt);
	if (failed) {
		mt_fail_here(__FILE__, __LINE__, "%s", fail_msg);
		mt_abort_test();
	}
	EXPECT_GE(n_ioctl, want_ioctl);
	EXPECT_GE(n_stream, want_stream);
	for (int i = 0; i < NTHREADS; i++)
		tdev_put(&tdevs[i]);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

/* The harness timeout follows FUZZ_OPS: the 30 minute cap plus slack. */
__attribute__((constructor)) static void throughput_timeout(void)
{
	const char *ops = getenv("FUZZ_OPS");

	mt_t_throughput.timeout_s = ops && strtoull(ops, NULL, 0) ?
		(unsigned)CAP_S + 300 : 60 * fuzz_scale();
}

TEST_MAIN()
