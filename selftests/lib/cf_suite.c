// SPDX-License-Identifier: GPL-2.0
/*
 * cf_suite.c - device set, capability table and shared test helpers of
 * the conformance suite (cf_suite.h).
 */
#define _GNU_SOURCE
#include "cf_suite.h"
#include "mockvf_dev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cf_suite cf;

static const char *names[DEVSEL_MAX * 2];
static uint64_t flags_of[DEVSEL_MAX * 2];
static int nnames;
static const char *psrc[DEVSEL_MAX], *pdst[DEVSEL_MAX];
static int npairs;

const char *cf_errname(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "E?";
}

const char *cf_flags_str(uint64_t flags, char *buf, size_t len)
{
	if (flags == CF_NO_MIGRATION) {
		snprintf(buf, len, "none");
		return buf;
	}
	snprintf(buf, len, "%s%s%s", flags & VFIO_MIGRATION_STOP_COPY ?
		 "STOP_COPY" : "-", flags & VFIO_MIGRATION_P2P ? "|P2P" : "",
		 flags & VFIO_MIGRATION_PRE_COPY ? "|PRE_COPY" : "");
	if (flags & ~(uint64_t)7) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, "|0x%llx",
			 (unsigned long long)(flags & ~(uint64_t)7));
	}
	return buf;
}

static void remove_mocks(void)
{
	for (int i = 0; i < cf.n; i++) {
		mockvf_remove(cf.e[i].name);
		mockvf_remove(cf.e[i].peer);
	}
}

static int make_mocks(char *why, size_t len)
{
	const char *p = getenv("VFIO_MIGTEST_PROFILE");
	int ret;

	cf.profile = p && *p ? p : "tiny";
	cf.origin = "mockvf";
	ret = mockvf_load();
	if (ret) {
		snprintf(why, len, "no devices given and mockvf cannot be "
			 "loaded from %s: %s", mockvf_ko_path(), strerror(-ret));
		return KSFT_SKIP;
	}
	atexit(remove_mocks);
	for (int i = 0; i < 2; i++) {
		ret = mockvf_create(cf.profile, cf.e[i].name);
		if (!ret) {
			ret = mockvf_create(cf.profile, cf.e[i].peer);
			if (ret)
				mockvf_remove(cf.e[i].name);
		}
		if (ret) {
			snprintf(why, len, "creating mockvf-%s devices: %s",
				 cf.profile, strerror(-ret));
			return ret == -ENOENT || ret == -ENODEV ? KSFT_SKIP : 1;
		}
		cf.n++;
	}
	return 0;
}

/* Open @name once: flags, state and sizes for the table. */
static int probe(const char *name, const char *role, uint64_t *flags,
		 char *why, size_t len)
{
	char fl[64], st[24] = "-", sz[32] = "-", v2[32] = "-";
	struct cf_dev d;
	uint64_t bytes;
	int ret, s;

	ret = cf_open(name, &d);
	if (ret) {
		snprintf(why, len, "%s: device %s cannot be opened through "
			 "VFIO (bound to a VFIO driver?): %s", cf.origin, name,
			 strerror(-ret));
		return ret;
	}
	*flags = d.flags;
	if (d.flags != CF_NO_MIGRATION) {
		if (!cf_get_state(&d, &s))
			snprintf(st, sizeof(st), "%s", vfio_state_name(s));
		ret = cf_data_size(&d, &bytes);
		if (ret)
			snprintf(sz, sizeof(sz), "%s", cf_errname(ret));
		else
			snprintf(sz, sizeof(sz), "%llu", (unsigned long long)bytes);
		/* PROBE: asks without opting in, so no test inherits it. */
		ret = cf_precopy_v2(&d, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET);
		snprintf(v2, sizeof(v2), "%s", ret ? cf_errname(ret) : "yes");
	}
	cf_close(&d);
	snprintf(cf.table[cf.ntable++], sizeof(cf.table[0]),
		 "%-36s %-4s %-24s %-12s %-12s %s", d.name, role,
		 cf_flags_str(*flags, fl, sizeof(fl)), st, sz, v2);
	return 0;
}

static void add_name(const char *n, uint64_t fl)
{
	for (int i = 0; i < nnames; i++)
		if (!strcmp(names[i], n))
			return;
	names[nnames] = n;
	flags_of[nnames++] = fl;
}

int cf_precheck(char *why, size_t len)
{
	struct devsel ds;
	int ret = devsel_user_list(&ds, why, len);
	const char *single = NULL;
	uint64_t single_fl = 0;

	if (ret < 0)
		return 1;
	if (ret > 0) {
		cf.origin = ds.origin;
		cf.n = ds.ndevs;
		for (int i = 0; i < ds.ndevs; i++) {
			cf_canonical(ds.dev[i], cf.e[i].name, CF_NAME_MAX);
			if (ds.peer[i][0])
				cf_canonical(ds.peer[i], cf.e[i].peer,
					     CF_NAME_MAX);
		}
	} else {
		ret = make_mocks(why, len);
		if (ret)
			return ret;
	}
	for (int i = 0; i < cf.n; i++) {
		struct cf_entry *e = &cf.e[i];
		uint64_t pf = 0;
		char a[64], b[64];

		ret = probe(e->name, e->peer[0] ? "src" : "one", &e->flags,
			    why, len);
		if (!ret && e->peer[0])
			ret = probe(e->peer, "dst", &pf, why, len);
		if (ret)
			return 1;
		if (e->peer[0] && pf != e->flags) {
			/* The engine refuses such a pair; so do we, up front. */
			snprintf(why, len, "%s: pair %s=%s: migration flags "
				 "differ (%s vs %s)", cf.origin, e->name,
				 e->peer, cf_flags_str(e->flags, a, sizeof(a)),
				 cf_flags_str(pf, b, sizeof(b)));
			return 1;
		}
		add_name(e->name, e->flags);
		if (e->peer[0]) {
			add_name(e->peer, pf);
			psrc[npairs] = e->name;
			pdst[npairs++] = e->peer;
		} else if (!single) {
			single = e->name;
			single_fl = e->flags;
		} else {
			/* Singles pair up in order, as devsel.h says. */
			if (single_fl != e->flags) {
				snprintf(why, len, "%s: %s and %s would pair "
					 "but their migration flags differ "
					 "(%s vs %s)", cf.origin, single,
					 e->name,
					 cf_flags_str(single_fl, a, sizeof(a)),
					 cf_flags_str(e->flags, b, sizeof(b)));
				return 1;
			}
			psrc[npairs] = single;
			pdst[npairs++] = e->name;
			single = NULL;
		}
	}
	return 0;
}

void cf_banner(void)
{
	mt_log("devices from %s%s%s", cf.origin,
	       cf.profile ? ", profile " : "", cf.profile ? cf.profile : "");
	mt_log("%-36s %-4s %-24s %-12s %-12s %s", "device", "role",
	       "migration flags", "state", "data_size", "precopy_v2");
	for (int i = 0; i < cf.ntable; i++)
		mt_log("%s", cf.table[i]);
	mt_log("%d device(s), %d migration pair(s)", nnames, npairs);
}

int cf_ndevices(void) { return nnames; }
const char *cf_device(int i) { return names[i]; }
uint64_t cf_device_flags(int i) { return flags_of[i]; }
int cf_npairs(void) { return npairs; }

void cf_need_pairs(void)
{
	if (!npairs)
		SKIP("no SRC=DST pairs among the selected devices");
	for (int i = 0; i < nnames; i++)
		if (flags_of[i] == CF_NO_MIGRATION)
			SKIP("device %s has no VFIO migration support "
			     "(VFIO_DEVICE_FEATURE_MIGRATION refused)",
			     names[i]);
}
const char *cf_pair_src(int i) { return psrc[i]; }
const char *cf_pair_dst(int i) { return pdst[i]; }

static void close_dev(void *p)
{
	cf_close(p);
	free(p);
}

struct cf_dev *cf_use(const char *name)
{
	struct cf_dev *d = calloc(1, sizeof(*d));
	int ret;

	ASSERT_TRUE(d != NULL);
	ret = cf_open(name, d);
	if (ret) {
		free(d);
		mt_fail_here(__FILE__, __LINE__, "dev %s: open: %s (%d)", name,
			     strerror(-ret), ret);
		mt_abort_test();
	}
	mt_defer(close_dev, d);
	if (d->flags == CF_NO_MIGRATION)
		SKIP("device %s has no VFIO migration support "
		     "(VFIO_DEVICE_FEATURE_MIGRATION refused)", d->name);
	cf_must_reset(d);
	return d;
}

int cf_state(struct cf_dev *d)
{
	int s = -1, ret = cf_get_state(d, &s);

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: GET device_state: "
			     "%s (%d)", d->name, strerror(-ret), ret);
		mt_abort_test();
	}
	return s;
}

int cf_go(struct cf_dev *d, int to, int *fd)
{
	int from = cf_state(d);
	int ret = cf_set_state(d, to, fd);

	if (ret)
		mt_log("dev %s: %s->%s: %s (%d)", d->name,
		       vfio_state_name(from), vfio_state_name(to),
		       strerror(-ret), ret);
	return ret;
}

int cf_must(struct cf_dev *d, int to)
{
	int fd = -1;

	if (cf_go(d, to, &fd)) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: could not reach %s",
			     d->name, vfio_state_name(to));
		mt_abort_test();
	}
	return fd;
}

void cf_must_reset(struct cf_dev *d)
{
	int ret = cf_reset(d), s;

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: VFIO_DEVICE_RESET: "
			     "%s (%d)", d->name, strerror(-ret), ret);
		mt_abort_test();
	}
	s = cf_state(d);
	if (s != MT_RUNNING) {
		mt_fail_here(__FILE__, __LINE__, "dev %s: after "
			     "VFIO_DEVICE_RESET in %s, expected RUNNING",
			     d->name, vfio_state_name(s));
		mt_abort_test();
	}
}

int cf_read_all(int fd, struct mbuf *b, size_t max)
{
	for (;;) {
		ssize_t n;

		if (b->len + 65536 > b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 1 << 20;
			uint8_t *p = realloc(b->p, cap);

			if (!p)
				return -ENOMEM;
			b->p = p;
			b->cap = cap;
		}
		if (b->len >= max)
			return -EFBIG;
		n = read(fd, b->p + b->len, 65536);
		if (n > 0) {
			b->len += n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return -errno;
	}
}

void cf_need(struct cf_dev *d, uint64_t flag, const char *what)
{
	if (!(d->flags & flag))
		SKIP("device %s lacks %s", d->name, what);
}
