// SPDX-License-Identifier: GPL-2.0
/*
 * state_requests - random migration state requests, data_fd I/O and
 * injected faults on mockvf devices of every small profile.
 *
 * Each episode is a random mix of: state requests (valid states, ERROR,
 * out-of-range numbers, blocked arcs such as STOP_COPY->PRE_COPY),
 * blocking and non-blocking reads, polls, writes and PRECOPY_INFO calls on
 * the data_fds it got, MIG_DATA_SIZE queries, VFIO_DEVICE_RESET, workload
 * knobs and faults armed through the "fault" file (fail, corrupt,
 * truncate, delay).  Every call must return promptly (a blocking read is
 * guarded by an alarm), the state must follow the uAPI rules (a failed
 * request leaves the state as it was or in ERROR; ERROR is left only by a
 * reset), and after each episode VFIO_DEVICE_RESET must bring the device
 * back to RUNNING.  Every saving fd read to its end (EOF in STOP_COPY)
 * whose stream no corrupt/truncate fault touched is loaded into a sink
 * device of the same profile: the load must succeed with the digest its
 * END record carries, which is the source's saved digest.  Besides the
 * small profiles a cx7 device (8 MiB, ConnectX-7 latencies and
 * bandwidths) takes part.  At the end each device still migrates cleanly
 * (save/load with an equal digest) and no reference is leaked.
 */
#include "fuzz.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>

#define EPISODES 3000
#define CAP_S 12.0
#define PROMPT_S 5.0	/* any single call; delays armed are <= 20 ms */
#define MAX_FDS 8

struct dev {
	const char *profile;
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	uint64_t flags;
	int created, opened, v2;
};

struct dfd {
	int fd;
	int saving;	/* else resuming */
	int tainted;	/* a corrupt/truncate fault was armed at its start */
	struct mbuf got;	/* what reads returned, in order */
};

static struct dev devs[] = {
	{ .profile = "tiny" }, { .profile = "nopre" }, { .profile = "nop2p" },
	{ .profile = "cx7" },
};
#define NDEVS ((int)(sizeof(devs) / sizeof(devs[0])))
/* the destinations of the streams read to their end */
static struct dev sinks[NDEVS];
static unsigned n_verified;

/* coverage counters, logged at the end */
static unsigned n_ok, n_fail, n_fd, n_err_state, n_fault, n_read, n_hang,
		n_v2, n_reinit;

static void mbuf_add(struct mbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ASSERT_TRUE(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Whether a save stream armed now would be corrupted or truncated. */
static int stream_fault_armed(struct dev *v)
{
	char f[512];

	if (mockvf_attr_read(v->uuid, "fault", f, sizeof(f)))
		return 1;
	return strstr(f, "corrupt") || strstr(f, "truncate");
}

/*
 * A stream read to its end: well formed up to an END record, it loads into
 * the sink with the END digest, which is the source's saved digest.
 */
static void verify_stream(struct dev *v, struct dfd *f, unsigned ep)
{
	struct dev *s = &sinks[v - devs];
	uint64_t end = 0, saved;
	size_t off = 0;
	char buf[64];
	int fd = -1, have_end = 0, ret;

	while (off + MVS_HDR <= f->got.len) {
		const uint8_t *h = f->got.p + off;
		uint32_t len = le32_get(h + 12);

		if (off + MVS_HDR + len > f->got.len)
			break;
		if ((h[6] | h[7] << 8) == 3 && len >= 8) {
			end = le64_get(h + MVS_HDR);
			have_end = 1;
		}
		off += MVS_HDR + len;
	}
	if (off != f->got.len || !have_end) {
		mt_fail_here(__FILE__, __LINE__,
			     "episode %u: %s stream of %zu bytes read to EOF is not whole (%zu parsed, END %d)",
			     ep, v->profile, f->got.len, off, have_end);
		return;
	}
	ASSERT_EQ(0, mockvf_attr_read(v->uuid, "saved_digest", buf,
				      sizeof(buf)));
	saved = strtoull(buf, NULL, 16);
	EXPECT_EQ(saved, end);
	ASSERT_EQ(0, vfio_dev_set_state(&s->d, MT_RESUMING, &fd));
	ASSERT_GE(fd, 0);
	ret = vfio_write_all(fd, f->got.p, f->got.len, 1 << 20);
	EXPECT_EQ(0, ret);
	ret = vfio_dev_set_state(&s->d, MT_STOP, NULL);
	close(fd);
	if (ret)
		mt_fail_here(__FILE__, __LINE__,
			     "episode %u: a clean %s stream did not load: %s",
			     ep, v->profile, strerror(-ret));
	else
		EXPECT_EQ(end, fuzz_digest(s->uuid));
	ASSERT_EQ(0, vfio_dev_reset(&s->d));
	n_verified++;
}

static const char *const st_names[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
	"PRE_COPY", "PRE_COPY_P2P",
};

static void dev_put(void *p)
{
	struct dev *v = p;

	if (v->opened)
		vfio_dev_close(&v->d);
	v->opened = 0;
	if (v->created)
		fuzz_remove_dev(strdup(v->uuid));
	v->created = 0;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Whether the device of @v supports state @s at all. */
static int supported(struct dev *v, unsigned s)
{
	if (s == MT_RUNNING_P2P)
		return !!(v->flags & VFIO_MIGRATION_P2P);
	if (s == MT_PRE_COPY)
		return !!(v->flags & VFIO_MIGRATION_PRE_COPY);
	if (s == MT_PRE_COPY_P2P)
		return (v->flags & VFIO_MIGRATION_PRE_COPY) &&
		       (v->flags & VFIO_MIGRATION_P2P);
	return s >= MT_STOP && s <= MT_RESUMING;
}

static int cur_state(struct dev *v)
{
	int st = -1;

	ASSERT_EQ(0, vfio_dev_get_state(&v->d, &st));
	return st;
}

static void arm_fault(struct frng *g, struct dev *v, char *desc, size_t len)
{
	static const int errs[] = { EIO, ENOMEM, ETIMEDOUT, EBUSY, EAGAIN,
				    EINVAL, ENODEV, EFAULT, ENOSPC, EPERM };
	unsigned k = frng_below(g, 10);
	int ret;

	if (k < 4) {
		unsigned s = 1 + frng_below(g, 7);
		int e = frng_one_in(g, 4) ? 1 + (int)frng_below(g, 133) :
			errs[frng_below(g, sizeof(errs) / sizeof(errs[0]))];

		snprintf(desc, len, "fail %s %u %d", st_names[s],
			 1 + (unsigned)frng_below(g, 3), e);
	} else if (k < 6) {
		snprintf(desc, len, "%s %llu",
			 frng_one_in(g, 2) ? "corrupt" : "truncate",
			 (unsigned long long)frng_below(g, 20000));
	} else if (k < 9) {
		unsigned a = 1 + frng_below(g, 7), b = 1 + frng_below(g, 7);

		if (a == b)
			b = a % 7 + 1;
		snprintf(desc, len, "delay %s %s %u", st_names[a],
			 st_names[b], (unsigned)frng_below(g, 20001));
	} else {
		snprintf(desc, len, "clear");
	}
	n_fault++;
	ret = mockvf_attr_write(v->uuid, "fault", desc);
	if (ret)
		mt_fail_here(__FILE__, __LINE__, "fault '%s': %s", desc,
			     strerror(-ret));
}

static uint32_t pick_target(struct frng *g)
{
	static const uint32_t odd[] = { 0, 8, 9, 100, 0xffffffffu,
					0x80000000u, 0x7fffffffu };
	unsigned k = frng_below(g, 20);

	if (k < 16)
		return 1 + frng_below(g, 7);
	if (k < 19)
		return odd[frng_below(g, sizeof(odd) / sizeof(odd[0]))];
	return (uint32_t)frng_next(g);
}

static void check_prompt(double t0, const char *what, struct dev *v)
{
	double dt = fuzz_now() - t0;

	if (dt > PROMPT_S)
		mt_fail_here(__FILE__, __LINE__, "%s on %s (%s) took %.2f s",
			     what, v->uuid, v->profile, dt);
}

static void close_fd(struct dfd *f, int *n, int i)
{
	close(f[i].fd);
	mbuf_free(&f[i].got);
	f[i] = f[--*n];
}

/* One random episode on @v; returns the number of calls made. */
static unsigned episode(struct frng *g, struct dev *v, unsigned ep)
{
	struct dfd fds[MAX_FDS];
	int nfds = 0, nops = 4 + frng_below(g, 14);
	unsigned calls = 0;
	char desc[128];
	uint8_t buf[8192];

	if (frng_one_in(g, 6))
		mockvf_attr_write(v->uuid, "dirty_rate",
				  frng_one_in(g, 2) ? "0" : "4000000");
	if (frng_one_in(g, 8)) {
		/* periodic re-configurations: REINIT during PRE_COPY */
		char ms[16];

		snprintf(ms, sizeof(ms), "%u", 10 + (unsigned)frng_below(g, 30));
		EXPECT_EQ(0, mockvf_attr_write(v->uuid, "reconfig_interval_ms",
					       ms));
	}
	if ((v->flags & VFIO_MIGRATION_PRE_COPY) && !v->v2 &&
	    frng_one_in(g, 20)) {
		/* opt in to PRECOPY_INFOv2 (kept for the rest of the open) */
		EXPECT_EQ(0, mockvf_attr_write(v->uuid, "reinit_capable", "1"));
		EXPECT_EQ(0, vfio_dev_precopy_v2(&v->d));
		v->v2 = 1;
		n_v2++;
	}
	for (int op = 0; op < nops; op++, calls++) {
		unsigned k = frng_below(g, 100);
		double t0 = fuzz_now();

		if (k < 12) {
			arm_fault(g, v, desc, sizeof(desc));
		} else if (k < 50) {
			uint32_t tgt = pick_target(g);
			int before = cur_state(v), after, fd = -1, ret;
			int tainted = stream_fault_armed(v);

			ret = vfio_dev_set_state(&v->d, tgt, &fd);
			check_prompt(t0, "set_state", v);
			after = cur_state(v);
			EXPECT_EQ(after, fuzz_sysfs_state(v->uuid));
			if (!ret) {
				n_ok++;
				n_fd += fd >= 0;
				/* reached exactly, never from ERROR */
				EXPECT_EQ(tgt, after);
				EXPECT_NE(MT_ERROR, before);
				EXPECT_TRUE(supported(v, tgt));
				if (fd >= 0) {
					EXPECT_TRUE(tgt == MT_STOP_COPY ||
						    tgt == MT_RESUMING ||
						    tgt == MT_PRE_COPY ||
						    tgt == MT_PRE_COPY_P2P);
					EXPECT_NE(before, tgt);
					if (nfds == MAX_FDS)
						close_fd(fds, &nfds,
							 frng_below(g, nfds));
					fds[nfds].fd = fd;
					fds[nfds].saving = tgt != MT_RESUMING;
					fds[nfds].tainted = tainted;
					fds[nfds].got = (struct mbuf){ 0 };
					nfds++;
				}
			} else {
				int blocked = before == MT_STOP_COPY &&
					      (tgt == MT_PRE_COPY ||
					       tgt == MT_PRE_COPY_P2P);

				n_fail++;
				n_err_state += after == MT_ERROR &&
					       before != MT_ERROR;
				EXPECT_EQ(-1, fd);
				/*
				 * failed: unchanged, or ERROR after a step;
				 * with error_on_fail=0 (mlx5, cx7's default)
				 * a multi-step request stops in the last
				 * state it reached.
				 */
				unsigned long long eof = 1;

				mockvf_attr_u64(v->uuid, "error_on_fail", &eof);
				if (eof && after != before && after != MT_ERROR)
					mt_fail_here(__FILE__, __LINE__,
						     "episode %u: %s -> %u failed (%d) but left %s",
						     ep, vfio_state_name(before), tgt,
						     ret, vfio_state_name(after));
				if (tgt == MT_ERROR || tgt > MT_PRE_COPY_P2P ||
				    blocked || before == MT_ERROR ||
				    !supported(v, tgt)) {
					EXPECT_EQ(-EINVAL, ret);
					EXPECT_EQ(before, after);
				}
			}
		} else if (k < 64 && nfds) {
			/* read: non-blocking, or blocking under an alarm */
			struct dfd *f = &fds[frng_below(g, nfds)];
			size_t len = 1 + frng_below(g, sizeof(buf));
			int block = frng_one_in(g, 3);
			ssize_t n;

			fcntl(f->fd, F_SETFL, block ? 0 : O_NONBLOCK);
			if (block)
				alarm(5);
			n = read(f->fd, buf, len);
			n_read++;
			if (block) {
				int e = errno;

				alarm(0);
				errno = e;
			}
			if (n < 0 && errno == EINTR && ++n_hang)
				mt_fail_here(__FILE__, __LINE__,
					     "episode %u: blocking read on a %s fd (device %s) hung",
					     ep, f->saving ? "saving" : "resuming",
					     vfio_state_name(cur_state(v)));
			if (!f->saving) {
				EXPECT_EQ(-1, n);	/* write-only */
				EXPECT_EQ(EBADF, errno);
			}
			EXPECT_LE(n, (ssize_t)len);
			check_prompt(t0, "read", v);
			if (f->saving && n > 0)
				mbuf_add(&f->got, buf, n);
			if (f->saving && n == 0 && f->got.len && !f->tainted) {
				verify_stream(v, f, ep);
				f->tainted = 1;	/* once */
			}
		} else if (k < 72 && nfds) {
			struct pollfd p = {
				.fd = fds[frng_below(g, nfds)].fd,
				.events = POLLIN | POLLOUT,
			};
			int r = poll(&p, 1, frng_below(g, 20));

			EXPECT_GE(r, 0);
			check_prompt(t0, "poll", v);
		} else if (k < 78 && nfds) {
			struct dfd *f = &fds[frng_below(g, nfds)];
			size_t len = 1 + frng_below(g, sizeof(buf));
			ssize_t n;

			frng_fill(g, buf, len);
			if (frng_one_in(g, 2)) {
				/* a plausible record header first */
				le32_put(buf, MVS_MAGIC);
				le16_put(buf + 4, MVS_VERSION);
				le16_put(buf + 6, 1);
				le32_put(buf + 8, 0);
				le32_put(buf + 12, 16);
			}
			fcntl(f->fd, F_SETFL, O_NONBLOCK);
			n = write(f->fd, buf, len);
			if (f->saving) {
				EXPECT_EQ(-1, n);	/* read-only */
				EXPECT_EQ(EBADF, errno);
			} else {
				/* garbage is never accepted whole */
				EXPECT_TRUE(n == -1 || (size_t)n <= len);
			}
			check_prompt(t0, "write", v);
		} else if (k < 85 && nfds) {
			struct dfd *f = &fds[frng_below(g, nfds)];
			struct vm_precopy_info info;
			int r;

			frng_fill(g, &info, sizeof(info));
			info.argsz = frng_one_in(g, 4) ?
				(uint32_t)frng_below(g, 2 * sizeof(info)) :
				sizeof(info);
			r = ioctl(f->fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
			if (!f->saving) {
				EXPECT_EQ(-1, r);
				EXPECT_EQ(ENOTTY, errno);
			} else if (!r) {
				int st = cur_state(v);

				EXPECT_TRUE(st == MT_PRE_COPY ||
					    st == MT_PRE_COPY_P2P);
				EXPECT_GE(info.argsz, 24);
				if (v->v2) {
					/* only REINIT is defined */
					EXPECT_EQ(0, info.flags &
						  ~VFIO_PRECOPY_INFO_REINIT);
					n_reinit += !!info.flags;
				}
			}
			check_prompt(t0, "PRECOPY_INFO", v);
		} else if (k < 90) {
			uint64_t bytes = 0;
			int r = vfio_dev_data_size(&v->d, &bytes);

			EXPECT_EQ(0, r);
			EXPECT_LT(bytes, 1ULL << 30);
			check_prompt(t0, "MIG_DATA_SIZE", v);
		} else if (k < 93 && nfds) {
			close_fd(fds, &nfds, frng_below(g, nfds));
			check_prompt(t0, "close", v);
		} else if (k < 96) {
			int r = mockvf_attr_write(v->uuid, "reconfig", "1");
			int st = cur_state(v);

			if (st == MT_RUNNING || st == MT_PRE_COPY)
				EXPECT_EQ(0, r);
			else
				EXPECT_EQ(-EBUSY, r);
			check_prompt(t0, "reconfig", v);
		} else {
			ASSERT_EQ(0, vfio_dev_reset(&v->d));
			check_prompt(t0, "reset", v);
			fuzz_expect_running(&v->d);
		}
	}

	/* end of the episode: reset must bring the device back */
	while (nfds && frng_one_in(g, 2))
		close_fd(fds, &nfds, frng_below(g, nfds));
	{
		double t0 = fuzz_now();

		ASSERT_EQ(0, vfio_dev_reset(&v->d));
		check_prompt(t0, "reset", v);
	}
	fuzz_expect_running(&v->d);
	while (nfds) {
		/* disabled files: ENODEV, EBADF for the wrong direction */
		ssize_t n = fds[0].saving ? read(fds[0].fd, buf, 16) :
					    write(fds[0].fd, buf, 16);

		EXPECT_EQ(-1, n);
		EXPECT_EQ(ENODEV, errno);
		close_fd(fds, &nfds, 0);
	}
	ASSERT_EQ(0, mockvf_attr_write(v->uuid, "fault", "clear"));
	mockvf_attr_write(v->uuid, "dirty_rate", "0");
	mockvf_attr_write(v->uuid, "reconfig_interval_ms", "0");
	return calls;
}

/* Save the device's state and load it back: the digest must not change. */
static void roundtrip(struct dev *v)
{
	struct mbuf b = { 0 };
	uint64_t dig;
	int fd;

	ASSERT_EQ(0, vfio_dev_set_state(&v->d, MT_STOP_COPY, &fd));
	dig = fuzz_digest(v->uuid);
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(&v->d));
	ASSERT_EQ(0, mockvf_attr_write(v->uuid, "reconfig", "1"));
	ASSERT_NE(dig, fuzz_digest(v->uuid));
	ASSERT_EQ(0, vfio_dev_set_state(&v->d, MT_RESUMING, &fd));
	ASSERT_EQ(0, vfio_write_all(fd, b.p, b.len, 4096));
	ASSERT_EQ(0, vfio_dev_set_state(&v->d, MT_RUNNING, NULL));
	close(fd);
	ASSERT_EQ(dig, fuzz_digest(v->uuid));
	mbuf_free(&b);
}

TEST_TIMEOUT(state_requests, 110)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct fuzz_budget bud;
	struct frng g;
	unsigned ep, calls = 0, per[NDEVS] = { 0 };
	long ref0;
	int ret;

	frng_init(&g, fuzz_seed("state_requests"));
	sigaction(SIGALRM, &sa, NULL);
	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	for (int i = 0; i < NDEVS; i++) {
		struct dev *v = &devs[i];

		ret = mockvf_create(v->profile, v->uuid);
		if (ret) {
			mt_fail_here(__FILE__, __LINE__, "create %s: %s",
				     v->profile, strerror(-ret));
			mt_abort_test();
		}
		v->created = 1;
		mt_defer(dev_put, v);
		ASSERT_EQ(0, vfio_dev_open(v->uuid, &v->d));
		v->opened = 1;
		ASSERT_EQ(0, vfio_dev_mig_flags(&v->d, &v->flags));
		sinks[i].profile = v->profile;
		ASSERT_EQ(0, mockvf_create(v->profile, sinks[i].uuid));
		sinks[i].created = 1;
		mt_defer(dev_put, &sinks[i]);
		ASSERT_EQ(0, vfio_dev_open(sinks[i].uuid, &sinks[i].d));
		sinks[i].opened = 1;
	}

	fuzz_budget_init(&bud, EPISODES, CAP_S);
	for (ep = 0; fuzz_budget_more(&bud, ep, "state_requests"); ep++) {
		int i = frng_below(&g, NDEVS);

		calls += episode(&g, &devs[i], ep);
		per[i]++;
	}
	mt_log("%u episodes (%u tiny, %u nopre, %u nop2p, %u cx7), %u calls in %.1f s; %u streams read to their end loaded back and verified",
	       ep, per[0], per[1], per[2], per[3], calls,
	       fuzz_now() - bud.t0, n_verified);
	mt_log("requests: %u ok (%u data_fds), %u failed (%u into ERROR); %u faults armed, %u reads; %u opt-ins to PRECOPY_INFOv2, %u REINIT seen",
	       n_ok, n_fd, n_fail, n_err_state, n_fault, n_read, n_v2,
	       n_reinit);
	ASSERT_GE(ep, 10);
	ASSERT_EQ(0, n_hang);

	for (int i = 0; i < NDEVS; i++)
		roundtrip(&devs[i]);
	for (int i = 0; i < NDEVS; i++) {
		dev_put(&devs[i]);
		dev_put(&sinks[i]);
	}
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

FUZZ_TIMEOUT(state_requests, 110)

TEST_MAIN()
