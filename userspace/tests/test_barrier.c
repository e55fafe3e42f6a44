// SPDX-License-Identifier: GPL-2.0
/*
 * test_barrier - the P2P barrier releases nobody before the last arrival,
 * everybody after it, and a broken barrier releases everybody with
 * -ECANCELED; plus the worker pool that drives the phases.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

#define N 8

struct ctx {
	struct vm_barrier b;
	atomic_uint before, after;
	atomic_uint violations;
	int ret[N];
	unsigned delay_us[N];
};

static void *arrive(void *arg)
{
	void **a = arg;
	struct ctx *c = a[0];
	unsigned i = (unsigned)(uintptr_t)a[1];

	usleep(c->delay_us[i]);
	atomic_fetch_add(&c->before, 1);
	c->ret[i] = vm_barrier_arrive_wait(&c->b);
	/* Past the barrier, everybody must have arrived. */
	if (!c->ret[i] && atomic_load(&c->before) != N)
		atomic_fetch_add(&c->violations, 1);
	atomic_fetch_add(&c->after, 1);
	return NULL;
}

static void all_released_after_last(void **state)
{
	static struct ctx c;
	pthread_t th[N];
	void *args[N][2];

	(void)state;
	for (int round = 0; round < 50; round++) {
		vm_barrier_init(&c.b, N);
		atomic_store(&c.before, 0);
		atomic_store(&c.after, 0);
		atomic_store(&c.violations, 0);
		for (unsigned i = 0; i < N; i++) {
			c.delay_us[i] = (i * 37 + (unsigned)round * 11) % 300;
			args[i][0] = &c;
			args[i][1] = (void *)(uintptr_t)i;
			assert_int_equal(0, pthread_create(&th[i], NULL, arrive, args[i]));
		}
		for (unsigned i = 0; i < N; i++)
			pthread_join(th[i], NULL);
		assert_int_equal(0, atomic_load(&c.violations));
		for (unsigned i = 0; i < N; i++)
			assert_int_equal(0, c.ret[i]);
		vm_barrier_destroy(&c.b);
	}
}

static void nobody_passes_early(void **state)
{
	static struct ctx c;
	pthread_t th[N];
	void *args[N][2];

	(void)state;
	vm_barrier_init(&c.b, N);
	atomic_store(&c.before, 0);
	atomic_store(&c.after, 0);
	for (unsigned i = 0; i < N; i++) {
		/* The last one is 100 ms late. */
		c.delay_us[i] = i == N - 1 ? 100000 : 0;
		args[i][0] = &c;
		args[i][1] = (void *)(uintptr_t)i;
		assert_int_equal(0, pthread_create(&th[i], NULL, arrive, args[i]));
	}
	usleep(50000);
	assert_int_equal(0, atomic_load(&c.after));
	for (unsigned i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(N, atomic_load(&c.after));
	vm_barrier_destroy(&c.b);
}

static void break_releases_all(void **state)
{
	static struct ctx c;
	pthread_t th[N - 1];
	void *args[N][2];

	(void)state;
	vm_barrier_init(&c.b, N);
	atomic_store(&c.before, 0);
	atomic_store(&c.after, 0);
	for (unsigned i = 0; i < N - 1; i++) {
		c.delay_us[i] = 0;
		args[i][0] = &c;
		args[i][1] = (void *)(uintptr_t)i;
		assert_int_equal(0, pthread_create(&th[i], NULL, arrive, args[i]));
	}
	usleep(20000);
	assert_int_equal(0, atomic_load(&c.after));
	/* The eighth device failed its P2P transition. */
	vm_barrier_break(&c.b);
	for (unsigned i = 0; i < N - 1; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(-ECANCELED, c.ret[i]);
	}
	vm_barrier_destroy(&c.b);
}

static void single_and_empty(void **state)
{
	struct vm_barrier b;

	(void)state;
	vm_barrier_init(&b, 1);
	assert_int_equal(0, vm_barrier_arrive_wait(&b));
	vm_barrier_destroy(&b);
	/* Nobody to wait for: released at once (a hang ends in SIGALRM). */
	vm_barrier_init(&b, 0);
	alarm(5);
	assert_int_equal(0, vm_barrier_arrive_wait(&b));
	alarm(0);
	vm_barrier_destroy(&b);
}

static atomic_uint ran[N];
static atomic_uint running, max_running;

static int job(void *arg, unsigned idx)
{
	(void)arg;
	unsigned r = atomic_fetch_add(&running, 1) + 1;
	unsigned m = atomic_load(&max_running);
	while (r > m && !atomic_compare_exchange_weak(&max_running, &m, r))
		;
	usleep(5000);
	atomic_fetch_add(&ran[idx], 1);
	atomic_fetch_sub(&running, 1);
	return idx == 3 ? -EIO : 0;
}

static void pool_parallel_and_sequential(void **state)
{
	struct vm_pool p = { 0 };

	(void)state;
	assert_int_equal(0, vm_pool_start(&p, N, "test"));
	atomic_store(&max_running, 0);
	assert_int_equal(-EIO, vm_pool_run(&p, job, NULL, true));
	assert_true(atomic_load(&max_running) > 1);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(1, atomic_load(&ran[i]));
	/* Same threads, second phase, one at a time; stops at the first error. */
	atomic_store(&max_running, 0);
	assert_int_equal(-EIO, vm_pool_run(&p, job, NULL, false));
	assert_int_equal(1, atomic_load(&max_running));
	assert_int_equal(2, atomic_load(&ran[3]));
	assert_int_equal(1, atomic_load(&ran[4]));
	vm_pool_stop(&p);
}

/* Two-phase jobs: nobody's second phase before everybody's first. */
struct phases {
	struct vm_barrier b;
	atomic_uint firsts, early;
	int fail_idx;		/* first phase of this device fails; -1: none */
	uint64_t wait_ns[N];
};

static int phase_one(void *arg, unsigned idx)
{
	struct phases *ph = arg;

	usleep(1000 * (idx + 1));
	if ((int)idx == ph->fail_idx)
		return -EIO;
	atomic_fetch_add(&ph->firsts, 1);
	return 0;
}

static int phase_two(void *arg, unsigned idx)
{
	struct phases *ph = arg;

	(void)idx;
	if (atomic_load(&ph->firsts) != N)
		atomic_fetch_add(&ph->early, 1);
	return 0;
}

static int two_phase_job(void *arg, unsigned idx)
{
	struct phases *ph = arg;

	return vm_barrier_phases(&ph->b, phase_one, phase_two, ph, idx,
				 &ph->wait_ns[idx]);
}

static void barrier_phases(void **state)
{
	struct vm_pool p = { 0 };
	struct phases ph = { .fail_idx = -1 };

	(void)state;
	assert_int_equal(0, vm_pool_start(&p, N, "test"));
	vm_barrier_init(&ph.b, N);
	assert_int_equal(0, vm_pool_run(&p, two_phase_job, &ph, true));
	assert_int_equal(N, atomic_load(&ph.firsts));
	assert_int_equal(0, atomic_load(&ph.early));
	vm_barrier_destroy(&ph.b);

	/* A failed first phase releases the others with an error. */
	memset(&ph, 0, sizeof(ph));
	ph.fail_idx = 2;
	vm_barrier_init(&ph.b, N);
	assert_int_not_equal(0, vm_pool_run(&p, two_phase_job, &ph, true));
	assert_int_equal(0, atomic_load(&ph.early));
	vm_barrier_destroy(&ph.b);
	vm_pool_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_released_after_last),
		cmocka_unit_test(nobody_passes_early),
		cmocka_unit_test(break_releases_all),
		cmocka_unit_test(single_and_empty),
		cmocka_unit_test(pool_parallel_and_sequential),
		cmocka_unit_test(barrier_phases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
