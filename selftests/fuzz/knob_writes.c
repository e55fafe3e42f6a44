// SPDX-License-Identifier: GPL-2.0
/*
 * knob_writes - random strings into every writable file of a mockvf
 * device's mockvf/ and mockvf/timing/ directories.
 *
 * docs/mockvf.md: "Invalid writes fail with EINVAL; writes that cannot
 * apply in the current migration state fail with EBUSY."  So each write
 * must succeed or fail with EINVAL or EBUSY; the only other error allowed
 * is E2BIG for a write longer than a page, which sysfs itself refuses
 * before mockvf sees it.  Strings: empty, short printable, binary (NULs,
 * high bytes), very long, negative, huge and odd numbers (hex, octal,
 * whitespace, signs), near-valid values and fault-command grammar.  Every
 * readable file must still read after each round.  Rounds run with the
 * device closed (RUNNING) and opened in STOP_COPY (EBUSY paths).
 */
#include "fuzz.h"

#include <sys/stat.h>

#define ROUNDS 100
#define CAP_S 8.0
#define MAX_FILES 64
#define MDEV_DIR "/sys/bus/mdev/devices"

struct knob {
	char rel[300];		/* "fault", "timing/load_us" */
	int writable, readable;
};

static struct knob knobs[MAX_FILES];
static int nknobs;
static unsigned n_writes, n_ok, n_einval, n_ebusy, n_e2big, n_bad, n_erange;

static void scan_dir(const char *uuid, const char *sub)
{
	char path[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), MDEV_DIR "/%s/mockvf%s%s", uuid,
		 *sub ? "/" : "", sub);
	d = opendir(path);
	ASSERT_TRUE(d != NULL);
	while ((de = readdir(d)) && nknobs < MAX_FILES) {
		char full[512];
		struct stat st;
		struct knob *k = &knobs[nknobs];

		if (de->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(k->rel, sizeof(k->rel), "%s%s%s", sub, *sub ? "/" : "",
			 de->d_name);
		k->writable = !!(st.st_mode & S_IWUSR);
		k->readable = !!(st.st_mode & S_IRUSR);
		nknobs++;
	}
	closedir(d);
}

static const char *const states[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
	"PRE_COPY", "PRE_COPY_P2P", "running", "STOP_COPYX", "",
};

static const char *const odd_numbers[] = {
	"-1", "-0", "-4096", "+5", " 5", "5 ", "5\n", "5\n\n", "0x", "0x1g",
	"0777", "08", "1e3", "1.5", "18446744073709551615",
	"18446744073709551616", "99999999999999999999999999999",
	"4294967295", "4294967296", "-9223372036854775808", "0x10000000000000000",
	"67108864", "67108865", "1073741824", "1073741825", "10000000",
	"10000001", "104857600", "104857601", "3600000", "3600001", "9", "10",
	"0", "1", "2", "4096", "16384", "\n", " ", "\t1", "1\t",
};

static void rand_number(struct frng *g, char *s, size_t cap)
{
	switch (frng_below(g, 5)) {
	case 0:
		snprintf(s, cap, "%llu", (unsigned long long)frng_next(g));
		break;
	case 1:
		snprintf(s, cap, "%u", (unsigned)frng_next(g));
		break;
	case 2:
		snprintf(s, cap, "%llu",
			 (unsigned long long)frng_below(g, 100001));
		break;
	case 3:
		snprintf(s, cap, "%llu",
			 (unsigned long long)frng_below(g, 64) * 4096);
		break;
	default:
		snprintf(s, cap, "%#llx", (unsigned long long)frng_next(g) >>
			 frng_below(g, 64));
		break;
	}
}

/* Build a random fault command out of its grammar's pieces. */
static size_t rand_fault(struct frng *g, char *s, size_t cap)
{
	static const char *const verbs[] = {
		"fail", "corrupt", "truncate", "delay", "clear", "FAIL", "x",
	};
	static const char *const seps[] = { " ", "  ", "\t", "\n", " \n" };
	int ntok = frng_below(g, 7);
	size_t n = 0;

	for (int i = 0; i < ntok && n + 48 < cap; i++) {
		char tok[40];
		unsigned k = frng_below(g, 4);

		if (i == 0 || k == 0)
			snprintf(tok, sizeof(tok), "%s",
				 verbs[frng_below(g, sizeof(verbs) /
						  sizeof(verbs[0]))]);
		else if (k == 1)
			snprintf(tok, sizeof(tok), "%s",
				 states[frng_below(g, sizeof(states) /
						   sizeof(states[0]))]);
		else if (k == 2)
			snprintf(tok, sizeof(tok), "%s",
				 odd_numbers[frng_below(g, sizeof(odd_numbers) /
							sizeof(odd_numbers[0]))]);
		else
			rand_number(g, tok, sizeof(tok));
		n += snprintf(s + n, cap - n, "%s%s", i ? seps[frng_below(g, 5)]
						      : "", tok);
	}
	if (frng_one_in(g, 3) && n + 1 < cap)
		s[n++] = '\n';
	return n;
}

/* A random value for a knob; returns its length (may contain NULs). */
static size_t rand_value(struct frng *g, char *s, size_t cap)
{
	size_t n;

	switch (frng_below(g, 12)) {
	case 0:
		return 0;
	case 1:		/* short printable */
		n = 1 + frng_below(g, 16);
		for (size_t i = 0; i < n; i++)
			s[i] = 32 + frng_below(g, 95);
		return n;
	case 2:		/* binary */
		n = 1 + frng_below(g, 64);
		frng_fill(g, s, n);
		if (frng_one_in(g, 2))
			s[frng_below(g, n)] = '\0';
		return n;
	case 3:		/* long digits, up to a page and beyond */
		n = 20 + frng_below(g, cap - 20);
		for (size_t i = 0; i < n; i++)
			s[i] = '0' + frng_below(g, 10);
		if (frng_one_in(g, 2))
			memset(s, '0', n - 3);	/* leading zeros: small */
		return n;
	case 4:		/* long garbage */
		n = 1 + frng_below(g, cap);
		frng_fill(g, s, n);
		return n;
	case 5: case 6:
		return snprintf(s, cap, "%s",
				odd_numbers[frng_below(g, sizeof(odd_numbers) /
						       sizeof(odd_numbers[0]))]);
	case 7:
		rand_number(g, s, cap);
		if (frng_one_in(g, 3))
			s[0] = '-';
		return strlen(s);
	case 8: case 9:
		return rand_fault(g, s, cap);
	case 10:
		return snprintf(s, cap, "%s",
				(const char *[]){ "clear", "clear\n", "clear ",
						  "CLEAR", "cle", "clear clear",
						  "1", "0", "1\n" }[frng_below(g, 9)]);
	default:
		n = snprintf(s, cap, "clear");
		s[n] = '\0';
		frng_fill(g, s + n + 1, 4);
		return n + 5;	/* a NUL, then junk */
	}
}

static void show(char *out, size_t cap, const char *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = v[i];

		if (c >= 32 && c < 127 && c != '\\')
			out[o++] = c;
		else
			o += snprintf(out + o, cap - o, "\\x%02x", c);
	}
	if (len > 0 && o + 5 >= cap)
		o += snprintf(out + o, cap - o, "...");
	out[o < cap ? o : cap - 1] = '\0';
	if (o < cap)
		out[o] = '\0';
}

static void write_one(const char *uuid, const struct knob *k, const char *v,
		      size_t len)
{
	char path[2048], shown[160];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), MDEV_DIR "/%s/mockvf/%.300s", uuid, k->rel);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	n = write(fd, v, len);
	e = errno;
	close(fd);
	n_writes++;
	if (n >= 0) {
		n_ok++;
		/* sysfs hands a store at most a page and reports the rest unwritten */
		if (len > 4096)
			EXPECT_EQ(4096, n);
		else
			EXPECT_EQ((ssize_t)len, n);
		return;
	}
	if (e == EINVAL) {
		n_einval++;
		return;
	}
	if (e == EBUSY) {
		n_ebusy++;
		return;
	}
	if (e == E2BIG && len > 4096) {
		n_e2big++;
		return;
	}
	n_bad++;
	if (e == ERANGE)
		n_erange++;
	show(shown, sizeof(shown), v, len < 64 ? len : 64);
	if (n_bad > 12)
		return;		/* enough examples: counted, checked at the end */
	mt_fail_here(__FILE__, __LINE__,
		     "%s <- \"%s\" (%zu bytes): errno %d (%s), want EINVAL or EBUSY",
		     k->rel, shown, len, e, strerror(e));
}

static void read_all(const char *uuid)
{
	char path[2048], *buf = malloc(65536);
	ssize_t n;
	int fd;

	ASSERT_TRUE(buf != NULL);
	for (int i = 0; i < nknobs; i++) {
		if (!knobs[i].readable)
			continue;
		snprintf(path, sizeof(path), MDEV_DIR "/%s/mockvf/%.300s", uuid,
			 knobs[i].rel);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		n = read(fd, buf, 65536);
		if (n < 0)
			mt_fail_here(__FILE__, __LINE__, "read %s: %s",
				     knobs[i].rel, strerror(errno));
		close(fd);
	}
	free(buf);
}

static void restore_defaults(const char *uuid)
{
	static const char *const zero[] = {
		"dirty_rate", "reconfig_interval_ms",
	};

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		mockvf_attr_write(uuid, zero[i], "0");
	mockvf_attr_write(uuid, "fault", "clear");
	for (int i = 0; i < nknobs; i++)
		if (!strncmp(knobs[i].rel, "timing/", 7) && knobs[i].writable)
			mockvf_attr_write(uuid, knobs[i].rel, "0");
}

struct devref {
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	int created, opened;
};

static void devref_put(void *p)
{
	struct devref *r = p;

	if (r->opened)
		vfio_dev_close(&r->d);
	r->opened = 0;
	if (r->created)
		fuzz_remove_dev(strdup(r->uuid));
	r->created = 0;
}

TEST_TIMEOUT(knob_writes, 110)
{
	static struct devref dev;
	struct fuzz_budget bud;
	struct frng g;
	char *val = malloc(8192);
	unsigned round;
	int nw = 0, fd = -1;
	long ref0;

	ASSERT_TRUE(val != NULL);
	frng_init(&g, fuzz_seed("knob_writes"));
	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	ASSERT_EQ(0, mockvf_create("tiny", dev.uuid));
	dev.created = 1;
	mt_defer(devref_put, &dev);
	scan_dir(dev.uuid, "");
	scan_dir(dev.uuid, "timing");
	for (int i = 0; i < nknobs; i++)
		nw += knobs[i].writable;
	mt_log("%d files, %d writable", nknobs, nw);
	ASSERT_GE(nw, 12);	/* 6 knobs, fault, log, 8 timing files */

	fuzz_budget_init(&bud, ROUNDS, CAP_S);
	for (round = 0; fuzz_budget_more(&bud, round, "knob_writes"); round++) {
		int busy = round % 2;	/* odd rounds: open, in STOP_COPY */

		if (busy) {
			restore_defaults(dev.uuid);
			ASSERT_EQ(0, vfio_dev_open(dev.uuid, &dev.d));
			dev.opened = 1;
			ASSERT_EQ(0, vfio_dev_set_state(&dev.d, MT_STOP_COPY,
							&fd));
		}
		for (int i = 0; i < nknobs; i++) {
			int reps = 1 + frng_below(&g, 4);

			if (!knobs[i].writable)
				continue;
			for (int r = 0; r < reps; r++) {
				size_t len = rand_value(&g, val, 8192);

				write_one(dev.uuid, &knobs[i], val, len);
			}
		}
		read_all(dev.uuid);
		if (busy) {
			char st[32];

			/* the knobs did not move the device */
			ASSERT_EQ(0, mockvf_attr_read(dev.uuid, "state", st,
						      sizeof(st)));
			ASSERT_STREQ("STOP_COPY", st);
			close(fd);
			vfio_dev_close(&dev.d);
			dev.opened = 0;
		}
	}
	mt_log("%u rounds, %u writes in %.1f s: %u ok, %u EINVAL, %u EBUSY, %u E2BIG, %u other (%u ERANGE)",
	       round, n_writes, fuzz_now() - bud.t0, n_ok, n_einval, n_ebusy,
	       n_e2big, n_bad, n_erange);
	EXPECT_EQ(0, n_bad);
	ASSERT_GE(round, 2);
	ASSERT_GT(n_ok, 0);
	ASSERT_GT(n_einval, 0);

	/* still a working device */
	restore_defaults(dev.uuid);
	ASSERT_EQ(0, mockvf_attr_write(dev.uuid, "state_size", "16384"));
	ASSERT_EQ(0, vfio_dev_open(dev.uuid, &dev.d));
	dev.opened = 1;
	ASSERT_EQ(0, vfio_dev_set_state(&dev.d, MT_STOP_COPY, &fd));
	{
		struct mbuf b = { 0 };

		ASSERT_EQ(0, vfio_read_stream(fd, &b));
		ASSERT_GT(b.len, 16384);
		mbuf_free(&b);
	}
	close(fd);
	devref_put(&dev);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
	free(val);
}

FUZZ_TIMEOUT(knob_writes, 110)

TEST_MAIN()
