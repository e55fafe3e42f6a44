// SPDX-License-Identifier: GPL-2.0
/*
 * worker.c - one long-lived thread per device.
 *
 * Threads are created once per session and reused for every phase
 * (RESUMING, loading, P2P, STOP_COPY, resume), so no thread creation cost
 * lands inside the downtime window.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "session_internal.h"

void vm_thread_name(pthread_t th, const char *fmt, ...)
{
	char name[16];	/* the kernel's TASK_COMM_LEN */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	pthread_setname_np(th, name);	/* a name is a courtesy: no error */
}

static void *worker_main(void *arg)
{
	struct vm_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->fn && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->quit && !w->fn)
			break;
		vm_job_fn fn = w->fn;
		void *a = w->arg;
		pthread_mutex_unlock(&w->lock);
		int ret = fn(a, w->idx);
		pthread_mutex_lock(&w->lock);
		w->ret = ret;
		w->fn = NULL;
		w->busy = false;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int vm_pool_start(struct vm_pool *p, unsigned n, const char *role)
{
	p->n = n;
	p->w = calloc(n, sizeof(*p->w));
	if (!p->w)
		return -ENOMEM;
	/* All initialised first: a partial start is stopped as a whole. */
	for (unsigned i = 0; i < n; i++) {
		p->w[i].idx = i;
		pthread_mutex_init(&p->w[i].lock, NULL);
		pthread_cond_init(&p->w[i].cond, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		struct vm_worker *w = &p->w[i];

		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			vm_pool_stop(p);
			return -EAGAIN;
		}
		w->started = true;
		vm_thread_name(w->thread, "%s-dev%u", role, i);
	}
	return 0;
}

void vm_pool_stop(struct vm_pool *p)
{
	if (!p->w)
		return;
	for (unsigned i = 0; i < p->n; i++) {
		struct vm_worker *w = &p->w[i];

		if (!w->started)
			continue;
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	for (unsigned i = 0; i < p->n; i++) {
		pthread_mutex_destroy(&p->w[i].lock);
		pthread_cond_destroy(&p->w[i].cond);
	}
	free(p->w);
	p->w = NULL;
}

void vm_pool_submit(struct vm_pool *p, unsigned idx, vm_job_fn fn, void *arg)
{
	struct vm_worker *w = &p->w[idx];

	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
	w->fn = fn;
	w->arg = arg;
	w->busy = true;
	w->ret = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int vm_pool_wait(struct vm_pool *p, unsigned idx)
{
	struct vm_worker *w = &p->w[idx];
	int ret;

	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
	ret = w->ret;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

int vm_pool_run(struct vm_pool *p, vm_job_fn fn, void *arg, bool parallel)
{
	int first = 0;

	if (parallel) {
		for (unsigned i = 0; i < p->n; i++)
			vm_pool_submit(p, i, fn, arg);
		for (unsigned i = 0; i < p->n; i++) {
			int ret = vm_pool_wait(p, i);
			if (ret && !first)
				first = ret;
		}
		return first;
	}
	for (unsigned i = 0; i < p->n; i++) {
		vm_pool_submit(p, i, fn, arg);
		int ret = vm_pool_wait(p, i);
		if (ret)
			return ret;
	}
	return 0;
}
