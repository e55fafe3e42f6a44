// SPDX-License-Identifier: GPL-2.0
/*
 * cf_engine.c - engine runs for the conformance suite (cf_engine.h).
 */
#define _GNU_SOURCE
#include "cf_engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void side_close(void *p)
{
	struct cf_side *s = p;

	for (unsigned i = 0; i < s->n; i++)
		vfiomig_device_close(s->dev[i]);
	vfiomig_ctx_free(s->ctx);
}

struct cf_side *cf_side_open(bool dst)
{
	struct cf_side *s = calloc(1, sizeof(*s));

	ASSERT_TRUE(s != NULL);
	mt_defer(free, s);
	cf_need_pairs();
	ASSERT_EQ(0, vfiomig_ctx_new(&s->ctx));
	/* Runs before the free() registered above. */
	mt_defer(side_close, s);
	for (int i = 0; i < cf_npairs(); i++) {
		const char *name = dst ? cf_pair_dst(i) : cf_pair_src(i);
		int ret = vfiomig_device_open(s->ctx, name, &s->dev[i]);

		if (ret == -EOPNOTSUPP)
			SKIP("device %s has no VFIO migration support (%s)",
			     name, vfiomig_ctx_errmsg(s->ctx));
		if (ret)
			mt_log("%s", vfiomig_ctx_errmsg(s->ctx));
		ASSERT_EQ(0, ret);
		s->n++;
	}
	cf_side_reset(s);
	return s;
}

void cf_side_reset(struct cf_side *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		int fd = vfiomig_device_fd(s->dev[i]), st = -1;

		if (ioctl(fd, VFIO_DEVICE_RESET)) {
			mt_fail_here(__FILE__, __LINE__, "dev %s: "
				     "VFIO_DEVICE_RESET: %s (%d)",
				     vfiomig_device_name(s->dev[i]),
				     strerror(errno), -errno);
			mt_abort_test();
		}
		/* Refreshes the engine's cached state too. */
		ASSERT_EQ(0, vfiomig_device_get_state(s->dev[i], &st));
		if (st != VFIOMIG_RUNNING) {
			mt_fail_here(__FILE__, __LINE__, "dev %s: after reset "
				     "in %s, expected RUNNING",
				     vfiomig_device_name(s->dev[i]),
				     vfiomig_state_name(st));
			mt_abort_test();
		}
	}
}

void cf_side_expect(struct cf_side *s, int state, const char *why)
{
	for (unsigned i = 0; i < s->n; i++) {
		int st = -1, ret = vfiomig_device_get_state(s->dev[i], &st);

		if (ret || st != state)
			mt_fail_here(__FILE__, __LINE__, "dev %s: %s: in %s "
				     "(%d), expected %s",
				     vfiomig_device_name(s->dev[i]), why,
				     ret ? "?" : vfiomig_state_name(st), ret,
				     vfiomig_state_name(state));
	}
}

void cf_opts(struct vfiomig_opts *o)
{
	vfiomig_opts_init(o);
	o->io_timeout_ms = 10000;
}

struct dest_thread {
	struct cf_side *s;
	struct vfiomig_link *link;
	const struct vfiomig_opts *o;
	struct vfiomig_report *rep;
	int ret;
	char err[512];
};

static void *dest_main(void *arg)
{
	struct dest_thread *t = arg;

	t->ret = vfiomig_migrate_dest(t->s->dev, t->s->n, t->link, t->o,
				      &t->rep, t->err, sizeof(t->err));
	return NULL;
}

static void free_json(void *p)
{
	json_decref(p);
}

json_t *cf_report_json(const struct vfiomig_report *rep)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_error_t jerr;
	json_t *j;

	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(0, vfiomig_report_write_json(rep, f));
	fclose(f);
	j = json_loads(buf, 0, &jerr);
	if (!j)
		mt_log("engine report is not JSON: %s", jerr.text);
	free(buf);
	ASSERT_TRUE(j != NULL);
	mt_defer(free_json, j);
	return j;
}

void cf_migrate_local(struct cf_side *src, struct cf_side *dst,
		      const struct vfiomig_opts *so,
		      const struct vfiomig_opts *dopt,
		      struct vfiomig_link *ls, struct vfiomig_link *ld,
		      struct cf_run *r)
{
	struct dest_thread t = { .s = dst, .o = dopt };
	struct vfiomig_report *rep = NULL;
	bool own = !ls;
	pthread_t th;

	memset(r, 0, sizeof(*r));
	if (own)
		ASSERT_EQ(0, vfiomig_link_pair(&ls, &ld));
	t.link = ld;
	ASSERT_EQ(0, pthread_create(&th, NULL, dest_main, &t));
	r->sret = vfiomig_migrate_source(src->dev, src->n, ls, so, &rep,
					 r->serr, sizeof(r->serr));
	if (r->sret && own) {
		/* Let the destination see the end of the stream at once. */
		vfiomig_link_free(ls);
		ls = NULL;
	}
	pthread_join(th, NULL);
	r->dret = t.ret;
	snprintf(r->derr, sizeof(r->derr), "%s", t.err);
	if (own) {
		vfiomig_link_free(ls);
		vfiomig_link_free(ld);
	}
	if (rep) {
		vfiomig_report_merge_dest(rep, t.rep);
		r->downtime_ns = vfiomig_report_downtime_ns(rep);
		r->rep = cf_report_json(rep);
		vfiomig_report_free(rep);
	} else {
		vfiomig_report_free(t.rep);
	}
	if (r->sret)
		mt_log("source: %s (%d)", r->serr, r->sret);
	if (r->dret)
		mt_log("destination: %s (%d)", r->derr, r->dret);
}

void cf_expect_ok(const struct cf_run *r)
{
	ASSERT_EQ(0, r->sret);
	ASSERT_EQ(0, r->dret);
	ASSERT_TRUE(r->rep != NULL);
	ASSERT_TRUE(json_is_true(json_object_get(r->rep, "ok")));
}

json_t *cf_endpoint(const struct cf_run *r, const char *role)
{
	json_t *e = r->rep ? json_object_get(r->rep, role) : NULL;

	return json_is_object(e) ? e : NULL;
}

static const char *downtime_path(void)
{
	const char *p = getenv("VFIO_MIGTEST_DOWNTIME_JSON");

	return p && *p ? p : "/tmp/vfio-migtest-downtimes.json";
}

static int write_atomically(json_t *j)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.%d", downtime_path(), (int)getpid());
	if (json_dump_file(j, tmp, JSON_INDENT(2)))
		return -EIO;
	return rename(tmp, downtime_path()) ? -errno : 0;
}

void cf_downtime_init(void)
{
	json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:[]}", "schema",
			      "vfio-migtest-downtimes", "version", 1, "origin",
			      cf.origin ? cf.origin : "?", "profile",
			      cf.profile ? cf.profile : "", "runs");
	json_t *pairs = json_array();

	for (int i = 0; i < cf_npairs(); i++)
		json_array_append_new(pairs, json_pack("{s:s,s:s}", "src",
			cf_pair_src(i), "dst", cf_pair_dst(i)));
	json_object_set_new(j, "pairs", pairs);
	if (write_atomically(j))
		fprintf(stderr, "conformance: cannot write %s\n",
			downtime_path());
	json_decref(j);
}

void cf_record_downtime(const char *mode, const struct cf_run *r)
{
	json_error_t jerr;
	json_t *j = json_load_file(downtime_path(), 0, &jerr);
	const char *method = r->rep ? json_string_value(json_object_get(
				r->rep, "downtime_method")) : NULL;

	mt_log("downtime %s: %.3f ms (%s, %d pair(s))", mode,
	       r->downtime_ns / 1e6, method ? method : "?", cf_npairs());
	if (!j)
		j = json_pack("{s:s,s:i,s:[]}", "schema",
			      "vfio-migtest-downtimes", "version", 1, "runs");
	json_array_append_new(json_object_get(j, "runs"),
		json_pack("{s:s,s:I,s:s,s:i}", "mode", mode, "downtime_ns",
			  (json_int_t)r->downtime_ns, "downtime_method",
			  method ? method : "?", "pairs", cf_npairs()));
	if (write_atomically(j))
		mt_log("cannot write %s", downtime_path());
	json_decref(j);
}
