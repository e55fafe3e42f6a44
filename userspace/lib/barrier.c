// SPDX-License-Identifier: GPL-2.0
/*
 * barrier.c - "all devices reached P2P" barrier.
 *
 * An atomic fetch-add counts arrivals; the arrival that completes the count
 * sets an event that releases everyone.  Unlike pthread_barrier_t it can be
 * broken: when one device fails its P2P transition the others must not
 * wait forever, they must go and recover.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "session_internal.h"

void vm_barrier_init(struct vm_barrier *b, unsigned total)
{
	atomic_init(&b->arrived, 0);
	b->total = total;
	b->set = total == 0;
	b->broken = false;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
}

void vm_barrier_destroy(struct vm_barrier *b)
{
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
}

static void event_set(struct vm_barrier *b, bool broken)
{
	pthread_mutex_lock(&b->lock);
	if (broken)
		b->broken = true;
	else
		b->set = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

int vm_barrier_arrive_wait(struct vm_barrier *b)
{
	int ret;

	if (atomic_fetch_add(&b->arrived, 1) + 1 == b->total)
		event_set(b, false);
	pthread_mutex_lock(&b->lock);
	while (!b->set && !b->broken)
		pthread_cond_wait(&b->cond, &b->lock);
	ret = b->broken ? -ECANCELED : 0;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void vm_barrier_break(struct vm_barrier *b)
{
	event_set(b, true);
}

int vm_barrier_phases(struct vm_barrier *b, vm_job_fn first,
		      vm_job_fn second, void *arg, unsigned idx,
		      uint64_t *wait_ns)
{
	int ret = first(arg, idx);
	uint64_t t0;

	if (ret) {
		vm_barrier_break(b);
		return ret;
	}
	t0 = vfiomig_now_ns();
	ret = vm_barrier_arrive_wait(b);
	*wait_ns += vfiomig_now_ns() - t0;
	return ret ? ret : second(arg, idx);
}
