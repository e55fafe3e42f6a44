// SPDX-License-Identifier: GPL-2.0
/*
 * barrier.c - "all devices reached P2P" barrier.
 *
 * An atomic fetch-add counts arrivals; the arrival that completes the count
 * sets an event that releases everyone.  Unlike pthread_barrier_t it can be
 * broken: when one device fails its P2P transition the others must not
 * wait forever, they must go and recover.
 *
 * The event is a futex word, not a condition variable.  A broadcast wakes
 * every waiter into a queue on the condition's mutex, and each then takes
 * it in turn; under the rig's emulated CPUs 16 devices released that way
 * started their next arc 2-4 ms after the last arrival, all of it in the
 * downtime.  Woken from a futex, a waiter reads the word and goes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "session_internal.h"

#define VM_BARRIER_SET 1
#define VM_BARRIER_BROKEN 2

void vm_barrier_init(struct vm_barrier *b, unsigned total)
{
	atomic_init(&b->arrived, 0);
	b->total = total;
	atomic_init(&b->event, total == 0 ? VM_BARRIER_SET : 0);
}

void vm_barrier_destroy(struct vm_barrier *b)
{
	(void)b;	/* nothing held: kept so that users pair init/destroy */
}

static void event_set(struct vm_barrier *b, int bit)
{
	atomic_fetch_or(&b->event, bit);
	syscall(SYS_futex, &b->event, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
}

int vm_barrier_arrive_wait(struct vm_barrier *b)
{
	int ev;

	if (atomic_fetch_add(&b->arrived, 1) + 1 == b->total)
		event_set(b, VM_BARRIER_SET);
	/* A wait on a word that is no longer 0 returns at once (EAGAIN). */
	while (!(ev = atomic_load(&b->event)))
		syscall(SYS_futex, &b->event, FUTEX_WAIT_PRIVATE, 0, NULL,
			NULL, 0);
	/* Broken wins: a device failed, so nobody goes on with the next phase. */
	return ev & VM_BARRIER_BROKEN ? -ECANCELED : 0;
}

void vm_barrier_break(struct vm_barrier *b)
{
	event_set(b, VM_BARRIER_BROKEN);
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
