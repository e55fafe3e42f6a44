// SPDX-License-Identifier: GPL-2.0
/*
 * cli_cmds.c - the vfio-migrate commands: local, send, receive, info.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "timeline.h"

struct opened {
	struct vfiomig_ctx *ctx;
	struct vfiomig_device *dev[2][CLI_MAX_DEVS];
	unsigned n[2];
};

static void close_all(struct opened *op)
{
	for (int k = 0; k < 2; k++)
		for (unsigned i = 0; i < op->n[k]; i++)
			vfiomig_device_close(op->dev[k][i]);
	vfiomig_ctx_free(op->ctx);
}

static int open_list(struct opened *op, int k, const char **names, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int ret = vfiomig_device_open(op->ctx, names[i], &op->dev[k][i]);
		if (ret) {
			fprintf(stderr, "vfio-migrate: %s\n", vfiomig_ctx_errmsg(op->ctx));
			return ret;
		}
		op->n[k] = i + 1;
	}
	return 0;
}

static int finish(const struct cli_args *a, struct vfiomig_report *r, int ret,
		  const char *err)
{
	if (r && !a->quiet)
		vfiomig_report_print(r, stdout);
	if (r && a->json) {
		FILE *f = fopen(a->json, "w");
		if (!f || vfiomig_report_write_json(r, f)) {
			fprintf(stderr, "vfio-migrate: cannot write %s: %s\n", a->json,
				strerror(errno));
			if (!ret)
				ret = -EIO;
		}
		if (f)
			fclose(f);
	}
	vfiomig_report_free(r);
	if (ret) {
		fprintf(stderr, "vfio-migrate: migration failed: %s\n",
			err && *err ? err : strerror(-ret));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

struct dst_thread {
	struct cli_args *a;
	struct vfiomig_device **devs;
	unsigned n;
	struct vfiomig_link *link;
	struct vfiomig_report *rep;
	int ret;
	char err[512];
};

static void *dst_main(void *arg)
{
	struct dst_thread *t = arg;

	t->ret = vfiomig_migrate_dest(t->devs, t->n, t->link, &t->a->o, &t->rep,
				      t->err, sizeof(t->err));
	return NULL;
}

static int cmd_local(struct cli_args *a)
{
	struct opened op = { 0 };
	struct vfiomig_link *ls = NULL, *ld = NULL;
	struct vfiomig_report *rep = NULL;
	char err[512] = "";
	pthread_t th;
	int ret;

	if ((ret = vfiomig_ctx_new(&op.ctx)))
		return CLI_EXIT_FAILED;
	if (open_list(&op, 0, a->src, a->nsrc) || open_list(&op, 1, a->dst, a->ndst)) {
		close_all(&op);
		return CLI_EXIT_FAILED;
	}
	ret = a->socket_transport ? vfiomig_link_pair(&ls, &ld) :
				    vfiomig_link_memory(&ls, &ld);
	if (ret) {
		close_all(&op);
		return CLI_EXIT_FAILED;
	}
	struct dst_thread t = { .a = a, .devs = op.dev[1], .n = op.n[1], .link = ld };
	if (pthread_create(&th, NULL, dst_main, &t)) {
		fprintf(stderr, "vfio-migrate: cannot start the destination thread\n");
		ret = CLI_EXIT_FAILED;
		goto out;
	}
	pthread_setname_np(th, "dst-session");
	ret = vfiomig_migrate_source(op.dev[0], op.n[0], ls, &a->o, &rep, err,
				     sizeof(err));
	/* The destination ends when the stream does; close our end first if we failed. */
	if (ret) {
		vfiomig_link_free(ls);
		ls = NULL;
	}
	pthread_join(th, NULL);
	if (!ret && t.ret) {
		ret = t.ret;
		snprintf(err, sizeof(err), "destination: %.490s", t.err);
	}
	if (rep)
		vfiomig_report_merge_dest(rep, t.rep);
	else
		vfiomig_report_free(t.rep);
	ret = finish(a, rep, ret, err);
out:
	vfiomig_link_free(ls);
	vfiomig_link_free(ld);
	close_all(&op);
	return ret;
}

/* One end of a two-process migration: a context and its device list. */
static int open_endpoint(struct cli_args *a, struct opened *op)
{
	if (vfiomig_ctx_new(&op->ctx))
		return -1;
	if (open_list(op, 0, a->src, a->nsrc)) {
		close_all(op);
		return -1;
	}
	return 0;
}

static int cmd_send(struct cli_args *a)
{
	struct opened op = { 0 };
	struct vfiomig_link *l = NULL;
	struct vfiomig_report *rep = NULL;
	char err[512] = "";
	int ret;

	if (open_endpoint(a, &op))
		return CLI_EXIT_FAILED;
	ret = vfiomig_link_connect(a->addr, &l);
	if (ret) {
		fprintf(stderr, "vfio-migrate: cannot connect to %s: %s\n", a->addr,
			strerror(-ret));
		close_all(&op);
		return CLI_EXIT_FAILED;
	}
	ret = vfiomig_migrate_source(op.dev[0], op.n[0], l, &a->o, &rep, err,
				     sizeof(err));
	ret = finish(a, rep, ret, err);
	vfiomig_link_free(l);
	close_all(&op);
	return ret;
}

static int cmd_receive(struct cli_args *a)
{
	struct opened op = { 0 };
	struct vfiomig_link *l = NULL;
	struct vfiomig_report *rep = NULL;
	char err[512] = "";
	int ret;

	if (open_endpoint(a, &op))
		return CLI_EXIT_FAILED;
	ret = vfiomig_link_listen(a->addr, &l);
	if (ret) {
		fprintf(stderr, "vfio-migrate: cannot listen on %s: %s\n", a->addr,
			strerror(-ret));
		close_all(&op);
		return CLI_EXIT_FAILED;
	}
	if (a->port_file) {
		/* Written only once listening, so a waiting sender can connect at once. */
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", a->port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", vfiomig_link_port(l)) < 0 || fclose(f) ||
		    rename(tmp, a->port_file)) {
			fprintf(stderr, "vfio-migrate: cannot write %s\n", a->port_file);
			vfiomig_link_free(l);
			close_all(&op);
			return CLI_EXIT_FAILED;
		}
	}
	ret = vfiomig_migrate_dest(op.dev[0], op.n[0], l, &a->o, &rep, err,
				   sizeof(err));
	ret = finish(a, rep, ret, err);
	vfiomig_link_free(l);
	close_all(&op);
	return ret;
}

static int cmd_info(struct cli_args *a)
{
	struct opened op = { 0 };
	int status = CLI_EXIT_OK;

	if (vfiomig_ctx_new(&op.ctx))
		return CLI_EXIT_FAILED;
	for (unsigned i = 0; i < a->nsrc; i++) {
		struct vfiomig_device *d;
		char fl[64];
		int st;
		uint64_t sz;

		if (vfiomig_device_open(op.ctx, a->src[i], &d)) {
			fprintf(stderr, "vfio-migrate: %s\n", vfiomig_ctx_errmsg(op.ctx));
			status = CLI_EXIT_FAILED;
			continue;
		}
		printf("%s:\n  flags: %s\n", a->src[i],
		       vfiomig_flags_str(vfiomig_device_flags(d), fl, sizeof(fl)));
		if (vfiomig_device_get_state(d, &st))
			printf("  state: ? (%s)\n", vfiomig_device_errmsg(d));
		else
			printf("  state: %s\n", vfiomig_state_name(st));
		if (vfiomig_device_data_size(d, &sz))
			printf("  stop-copy size: unknown (%s)\n", vfiomig_device_errmsg(d));
		else
			printf("  stop-copy size: %llu bytes\n", (unsigned long long)sz);
		vfiomig_device_close(d);
	}
	vfiomig_ctx_free(op.ctx);
	return status;
}

static int cmd_plot(struct cli_args *a)
{
	char err[256];
	int ret = timeline_plot(a->src[0], a->output, err, sizeof(err));

	if (ret) {
		fprintf(stderr, "vfio-migrate: plot: %s\n", err);
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int cli_run(struct cli_args *a)
{
	switch (a->cmd) {
	case CLI_LOCAL:
		return cmd_local(a);
	case CLI_SEND:
		return cmd_send(a);
	case CLI_RECEIVE:
		return cmd_receive(a);
	case CLI_INFO:
		return cmd_info(a);
	case CLI_PLOT:
		return cmd_plot(a);
	}
	return CLI_EXIT_USAGE;
}
