// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_workload.c - the modelled guest workload: page dirtying at a rate
 * and periodic re-configurations (the REINIT source).
 *
 * A delayed work runs every MOCKVF_WL_TICK_MS while the device runs
 * (RUNNING or PRE_COPY) and a workload is configured.
 */
#include <linux/ktime.h>
#include <linux/math64.h>

#include "mockvf.h"

#define MOCKVF_WL_TICK_MS 10

void mockvf_workload_kick(struct mockvf_dev *mv)
{
	if (READ_ONCE(mv->dirty_rate) || READ_ONCE(mv->reconfig_ms))
		mod_delayed_work(mockvf_wq, &mv->wl_work, 0);
}

/**
 * mockvf_set_running() - start or stop the workload (device quiesce).
 * @mv: device
 * @running: true in RUNNING and PRE_COPY
 *
 * Once this returns with @running false, the device state no longer
 * changes until it runs again.
 * Context: state_mutex held.
 */
void mockvf_set_running(struct mockvf_dev *mv, bool running)
{
	lockdep_assert_held(&mv->state_mutex);
	mutex_lock(&mv->data_lock);
	mv->running = running;
	mv->wl_last_ns = ktime_get_ns();
	mutex_unlock(&mv->data_lock);
	if (running)
		mockvf_workload_kick(mv);
}

/* Context: data_lock held. */
static void mockvf_reconfig_locked(struct mockvf_dev *mv)
{
	lockdep_assert_held(&mv->data_lock);
	mv->gen++;
	/* the configuration page: its next version */
	mockvf_store_bump(mv->st, 0);
	/* the new full image covers every page */
	bitmap_zero(mv->dirty, mv->state_size / MOCKVF_PAGE);
	mv->nr_dirty = 0;
	if (mv->save)
		mockvf_save_reinit(mv->save, READ_ONCE(mv->precopy_v2));
}

/**
 * mockvf_reconfig() - one re-configuration now: rewrites the configuration
 * page, bumps the generation and, in PRE_COPY, restarts the initial image.
 * @mv: device
 *
 * Context: state_mutex held, device RUNNING or PRE_COPY.
 */
void mockvf_reconfig(struct mockvf_dev *mv)
{
	lockdep_assert_held(&mv->state_mutex);
	mutex_lock(&mv->data_lock);
	mockvf_reconfig_locked(mv);
	mutex_unlock(&mv->data_lock);
}

static void mockvf_dirty_pages(struct mockvf_dev *mv, u64 pages)
{
	unsigned long nbits = mv->state_size / MOCKVF_PAGE, idx;

	lockdep_assert_held(&mv->data_lock);
	pages = min_t(u64, pages, nbits);
	while (pages--) {
		idx = (mockvf_rand(&mv->rng) >> 32) % nbits;
		/* a write to the page: its next generated version */
		mockvf_store_bump(mv->st, idx);
		if (!__test_and_set_bit(idx, mv->dirty))
			mv->nr_dirty++;
	}
}

void mockvf_workload_fn(struct work_struct *work)
{
	struct mockvf_dev *mv = container_of(to_delayed_work(work),
					     struct mockvf_dev, wl_work);
	u64 rate = READ_ONCE(mv->dirty_rate);
	u32 rms = READ_ONCE(mv->reconfig_ms);
	u64 now = ktime_get_ns(), elapsed, budget;

	mutex_lock(&mv->data_lock);
	if (!mv->running) {
		mutex_unlock(&mv->data_lock);
		return;		/* kicked again when it runs */
	}
	elapsed = min_t(u64, now - mv->wl_last_ns, NSEC_PER_SEC);
	mv->wl_last_ns = now;
	if (rate) {
		budget = mv->wl_carry + div_u64(rate * elapsed, NSEC_PER_SEC);
		mockvf_dirty_pages(mv, div_u64(budget, MOCKVF_PAGE));
		mv->wl_carry = budget % MOCKVF_PAGE;
	}
	if (rms) {
		if (!mv->wl_next_reconfig_ns)
			mv->wl_next_reconfig_ns = now + rms * NSEC_PER_MSEC;
		else if (now >= mv->wl_next_reconfig_ns) {
			mockvf_reconfig_locked(mv);
			mv->wl_next_reconfig_ns = now + rms * NSEC_PER_MSEC;
		}
	} else {
		mv->wl_next_reconfig_ns = 0;
	}
	mutex_unlock(&mv->data_lock);
	if (rate || rms)
		queue_delayed_work(mockvf_wq, &mv->wl_work,
				   msecs_to_jiffies(MOCKVF_WL_TICK_MS));
}
