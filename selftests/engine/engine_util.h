/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engine_util.h - helpers shared by the engine selftests: mock devices
 * that remove themselves, and an in-process (local mode) migration that
 * records digests and states before the devices are closed.
 */
#ifndef ENGINE_UTIL_H
#define ENGINE_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mockvf_dev.h"
#include "vfiomig_session.h"

#define EU_MAX 8

static inline void eu_need_mockvf(void)
{
	int r = mockvf_load();

	if (r)
		SKIP("mockvf not loadable (%s): %s", mockvf_ko_path(), strerror(-r));
}

static inline void eu_remove(void *p)
{
	mockvf_remove(p);
	free(p);
}

/* Create a device of @profile that is removed when the test ends. */
static inline void eu_create(const char *profile, char out[MOCKVF_UUID_LEN])
{
	int r = mockvf_create(profile, out);

	if (r == -ENOENT || r == -ENODEV)
		SKIP("mockvf profile %s not available", profile);
	ASSERT_EQ(0, r);
	char *c = strdup(out);
	ASSERT_TRUE(c != NULL);
	mt_defer(eu_remove, c);
}

static inline void eu_attr(const char *uuid, const char *attr, char *buf,
			   size_t len)
{
	if (mockvf_attr_read(uuid, attr, buf, len))
		snprintf(buf, len, "?");
}

static inline void eu_set(const char *uuid, const char *attr, const char *val)
{
	ASSERT_EQ(0, mockvf_attr_write(uuid, attr, val));
}

struct eu_result {
	int src_ret, dst_ret;
	char err[512], dst_err[512];
	char src_digest[EU_MAX][32], dst_digest[EU_MAX][32];
	char src_state[EU_MAX][32], dst_state[EU_MAX][32];
	struct vfiomig_report *rep;	/* source report with the destination merged */
};

struct eu_dst_thread {
	struct vfiomig_device **devs;
	unsigned n;
	struct vfiomig_link *link;
	const struct vfiomig_opts *o;
	struct vfiomig_report *rep;
	int ret;
	char err[512];
};

static inline void *eu_dst_main(void *arg)
{
	struct eu_dst_thread *t = arg;

	t->ret = vfiomig_migrate_dest(t->devs, t->n, t->link, t->o, &t->rep,
				      t->err, sizeof(t->err));
	return NULL;
}

static inline void eu_free_result(void *p)
{
	struct eu_result *r = p;

	vfiomig_report_free(r->rep);
	free(r);
}

/*
 * Migrate src[i] -> dst[i] in this process.  Digests and states are read
 * while the devices are still open (closing a device resets it).
 */
/* Called with the opened devices before the migration starts. */
struct eu_prep {
	void (*fn)(struct vfiomig_device **sd, struct vfiomig_device **dd,
		   unsigned n, void *arg);
	void *arg;
	/* Links to migrate over (both or neither; taken over): else eu_local's own. */
	struct vfiomig_link *ls, *ld;
};

/*
 * The link of eu_local*(): in-memory channels, as 'vfio-migrate local'
 * uses by default, unless a test sets this for socketpairs.
 */
static bool eu_socket_transport;

static inline struct eu_result *eu_local_prep(char (*src)[MOCKVF_UUID_LEN],
					      char (*dst)[MOCKVF_UUID_LEN], unsigned n,
					      const struct vfiomig_opts *o,
					      const struct vfiomig_opts *dopt,
					      const struct eu_prep *prep)
{
	struct eu_result *res = calloc(1, sizeof(*res));
	struct vfiomig_device *sd[EU_MAX], *dd[EU_MAX];
	struct vfiomig_link *ls, *ld;
	struct vfiomig_ctx *ctx;
	pthread_t th;

	ASSERT_TRUE(res != NULL);
	mt_defer(eu_free_result, res);
	ASSERT_EQ(0, vfiomig_ctx_new(&ctx));
	for (unsigned i = 0; i < n; i++) {
		int r = vfiomig_device_open(ctx, src[i], &sd[i]);
		if (r)
			mt_log("%s", vfiomig_ctx_errmsg(ctx));
		ASSERT_EQ(0, r);
		r = vfiomig_device_open(ctx, dst[i], &dd[i]);
		if (r)
			mt_log("%s", vfiomig_ctx_errmsg(ctx));
		ASSERT_EQ(0, r);
	}
	if (prep && prep->fn)
		prep->fn(sd, dd, n, prep->arg);
	if (prep && prep->ls) {
		ls = prep->ls;
		ld = prep->ld;
	} else {
		ASSERT_EQ(0, eu_socket_transport ?
			     vfiomig_link_pair(&ls, &ld) :
			     vfiomig_link_memory(&ls, &ld));
	}
	struct eu_dst_thread t = { .devs = dd, .n = n, .link = ld, .o = dopt };
	ASSERT_EQ(0, pthread_create(&th, NULL, eu_dst_main, &t));
	res->src_ret = vfiomig_migrate_source(sd, n, ls, o, &res->rep, res->err,
					      sizeof(res->err));
	if (res->src_ret) {
		/* Make the destination see the end of the stream. */
		vfiomig_link_free(ls);
		ls = NULL;
	}
	pthread_join(th, NULL);
	res->dst_ret = t.ret;
	snprintf(res->dst_err, sizeof(res->dst_err), "%s", t.err);
	if (res->rep)
		vfiomig_report_merge_dest(res->rep, t.rep);
	else
		vfiomig_report_free(t.rep);
	for (unsigned i = 0; i < n; i++) {
		eu_attr(src[i], "digest", res->src_digest[i], 32);
		eu_attr(dst[i], "digest", res->dst_digest[i], 32);
		eu_attr(src[i], "state", res->src_state[i], 32);
		eu_attr(dst[i], "state", res->dst_state[i], 32);
	}
	if (res->src_ret)
		mt_log("source: %s", res->err);
	if (res->dst_ret)
		mt_log("destination: %s", res->dst_err);
	vfiomig_link_free(ls);
	vfiomig_link_free(ld);
	for (unsigned i = 0; i < n; i++) {
		vfiomig_device_close(sd[i]);
		vfiomig_device_close(dd[i]);
	}
	vfiomig_ctx_free(ctx);
	return res;
}

static inline struct eu_result *eu_local2(char (*src)[MOCKVF_UUID_LEN],
					  char (*dst)[MOCKVF_UUID_LEN], unsigned n,
					  const struct vfiomig_opts *o,
					  const struct vfiomig_opts *dopt)
{
	return eu_local_prep(src, dst, n, o, dopt, NULL);
}

static inline struct eu_result *eu_local(char (*src)[MOCKVF_UUID_LEN],
					 char (*dst)[MOCKVF_UUID_LEN], unsigned n,
					 const struct vfiomig_opts *o)
{
	return eu_local2(src, dst, n, o, o);
}

/* Events of @type for device @dev (-2: any device) in report @r. */
static inline int eu_count(const struct vfiomig_report *r, const char *type, int dev)
{
	struct vfiomig_event e;
	int n = 0;

	for (size_t i = 0; r && !vfiomig_report_event(r, i, &e); i++)
		if (!strcmp(e.type, type) && (dev == -2 || e.dev == dev))
			n++;
	return n;
}

/* Create n source and n destination devices of the given profiles. */
static inline void eu_make(const char *sprof, const char *dprof, unsigned n,
			   char (*src)[MOCKVF_UUID_LEN],
			   char (*dst)[MOCKVF_UUID_LEN])
{
	for (unsigned i = 0; i < n; i++) {
		eu_create(sprof, src[i]);
		eu_create(dprof, dst[i]);
	}
}

/* One transition-log line: "<start> <end> <FROM> <TO> <ret>[ tag]". */
struct eu_logline {
	unsigned long long start, end;
	char from[16], to[16];
	int ret;
};

static inline int eu_read_log(const char *uuid, struct eu_logline *out, int max)
{
	char path[256], line[256];
	int n = 0;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mockvf/log", uuid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llu %llu %15s %15s %d", &out[n].start, &out[n].end,
			   out[n].from, out[n].to, &out[n].ret) == 5)
			n++;
	fclose(f);
	return n;
}

#endif /* ENGINE_UTIL_H */
