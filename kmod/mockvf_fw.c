// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_fw.c - the firmware timing model.
 *
 * Every firmware command occupies one slot of a parent-wide pool
 * (fw_max_concurrent, 0 = unlimited) for its modelled duration.  SAVE
 * commands (save_start) also take a slot of a second, narrower pool
 * (fw_max_concurrent_save, default 1): the ConnectX firmware serialises the
 * state saves of its VFs, which is what makes parallel switchovers of
 * several VFs cost more than one (the cx7 calibration in docs/mockvf.md).
 * The save slot is always taken before the general one, so the two pools
 * cannot deadlock.  Limits can change at run time, so each pool is a
 * counter under a spinlock with a wait queue rather than a semaphore.
 * Latencies sleep (hrtimer based usleep_range()), they never spin.
 */
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>

#include "mockvf.h"

unsigned int fw_max_concurrent;
unsigned int fw_max_concurrent_save = 1;
static unsigned int fw_active;
static unsigned int fw_save_active;
static DEFINE_SPINLOCK(fw_lock);
static DECLARE_WAIT_QUEUE_HEAD(fw_wq);

/*
 * The pools are counters, invisible to lockdep, yet a pool that runs dry
 * blocks like a lock: holding lock A while waiting for a slot, when a slot
 * holder waits for A, is a deadlock (with fw_max_concurrent=1 at once,
 * with any limit under load).  Each pool is told to lockdep as a lock
 * taken when a slot is requested and released with the slot, so lockdep
 * reports such an order the first time both halves run, whatever the
 * limit.
 */
#ifdef CONFIG_DEBUG_LOCK_ALLOC
static struct lock_class_key fw_slot_key, fw_save_slot_key;
static struct lockdep_map fw_slot_map =
	STATIC_LOCKDEP_MAP_INIT("mockvf_fw_slot", &fw_slot_key);
static struct lockdep_map fw_save_slot_map =
	STATIC_LOCKDEP_MAP_INIT("mockvf_fw_save_slot", &fw_save_slot_key);
#else
static struct lockdep_map fw_slot_map __maybe_unused;
static struct lockdep_map fw_save_slot_map __maybe_unused;
#endif

const char *const mockvf_fw_names[MOCKVF_FW_NR] = {
	[MOCKVF_FW_SUSPEND_INIT] = "suspend_initiator",
	[MOCKVF_FW_SUSPEND_RESP] = "suspend_responder",
	[MOCKVF_FW_RESUME_INIT] = "resume_initiator",
	[MOCKVF_FW_RESUME_RESP] = "resume_responder",
	[MOCKVF_FW_SAVE_START] = "save_start",
	[MOCKVF_FW_LOAD] = "load",
};

static int fw_max_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;

	if (kstrtouint(val, 0, &v))
		return -EINVAL;
	if (v > 1024)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	wake_up_all(&fw_wq);
	return 0;
}

static const struct kernel_param_ops fw_max_ops = {
	.set = fw_max_set,
	.get = param_get_uint,
};
module_param_cb(fw_max_concurrent, &fw_max_ops, &fw_max_concurrent, 0644);
MODULE_PARM_DESC(fw_max_concurrent,
		 "firmware commands running at once, all devices (0 = unlimited)");
module_param_cb(fw_max_concurrent_save, &fw_max_ops, &fw_max_concurrent_save,
		0644);
MODULE_PARM_DESC(fw_max_concurrent_save,
		 "SAVE commands running at once, all devices (0 = unlimited, default 1)");

/* Take a slot of the pool counted by @active and limited by @max_p. */
static bool fw_pool_try_get(unsigned int *active, const unsigned int *max_p)
{
	unsigned int max = READ_ONCE(*max_p);
	bool ok = false;

	spin_lock(&fw_lock);
	if (!max || *active < max) {
		(*active)++;
		ok = true;
	}
	spin_unlock(&fw_lock);
	return ok;
}

static bool fw_try_get(void)
{
	return fw_pool_try_get(&fw_active, &fw_max_concurrent);
}

/**
 * mockvf_fw_get() - take a firmware slot, waiting for one if needed.
 * @cancel: when not NULL, give up (return false) once *@cancel is true;
 *	    the canceller must wake mockvf_fw_wake().
 *
 * Return: true when a slot was taken (release it with mockvf_fw_put()).
 */
bool mockvf_fw_get(const bool *cancel)
{
	bool got = false;

	lock_map_acquire(&fw_slot_map);
	/* TASK_IDLE: a long queue for the firmware is not a hung task */
	wait_event_idle(fw_wq, (got = fw_try_get()) ||
		   (cancel && READ_ONCE(*cancel)));
	if (!got)
		lock_map_release(&fw_slot_map);
	return got;
}

void mockvf_fw_put(void)
{
	spin_lock(&fw_lock);
	fw_active--;
	spin_unlock(&fw_lock);
	lock_map_release(&fw_slot_map);
	wake_up_all(&fw_wq);
}

void mockvf_fw_wake(void)
{
	wake_up_all(&fw_wq);
}

/**
 * mockvf_fw_get_save() - take a SAVE slot, then a firmware slot.
 *
 * Release both with mockvf_fw_put_save().
 */
void mockvf_fw_get_save(void)
{
	lock_map_acquire(&fw_save_slot_map);
	wait_event_idle(fw_wq, fw_pool_try_get(&fw_save_active,
						&fw_max_concurrent_save));
	mockvf_fw_get(NULL);
}

void mockvf_fw_put_save(void)
{
	spin_lock(&fw_lock);
	fw_active--;
	fw_save_active--;
	spin_unlock(&fw_lock);
	lock_map_release(&fw_slot_map);
	lock_map_release(&fw_save_slot_map);
	wake_up_all(&fw_wq);
}

/* Longest single sleep of mockvf_sleep_until(), µs. */
#define MOCKVF_SLEEP_SLICE_US	5000

/**
 * mockvf_sleep_until() - sleep until CLOCK_MONOTONIC reaches @deadline_ns.
 * @deadline_ns: ktime_get_ns() value
 * @cancel: when not NULL, return early once *@cancel is true
 *
 * Modelled latencies (up to ~20 s with a delay fault) are slept in slices
 * of at most 5 ms, checking @cancel and, in a user task, for a fatal
 * signal: a killed task does not wait for the modelled firmware (the step
 * it runs completes early), and no single uninterruptible sleep is long
 * enough to look like a hung task.
 */
void mockvf_sleep_until(u64 deadline_ns, const bool *cancel)
{
	for (;;) {
		u64 now = ktime_get_ns();
		u64 left;

		if (now >= deadline_ns || (cancel && READ_ONCE(*cancel)))
			return;
		if (fatal_signal_pending(current))
			return;
		left = div_u64(deadline_ns - now, NSEC_PER_USEC);
		if (left > MOCKVF_SLEEP_SLICE_US)
			left = MOCKVF_SLEEP_SLICE_US;
		if (!left)
			return;
		usleep_range(left, left + 50);
	}
}

/* mockvf_bw_ns() - time to move @bytes at @kbps KiB/s (0 = instant). */
u64 mockvf_bw_ns(u64 bytes, u32 kbps)
{
	if (!kbps)
		return 0;
	return div64_u64(bytes * NSEC_PER_SEC, (u64)kbps * 1024);
}

/**
 * mockvf_fw_cmd() - run one modelled firmware command synchronously.
 * @mv: device
 * @cmd: which command; its latency is timing/<name>_us
 * @extra_us: added latency (delay faults)
 *
 * Context: state_mutex held.
 * Return: 0.
 */
int mockvf_fw_cmd(struct mockvf_dev *mv, enum mockvf_fw_cmd cmd, u64 extra_us)
{
	u64 us = READ_ONCE(mv->timing.us[cmd]) + extra_us;
	u64 start;

	lockdep_assert_held(&mv->state_mutex);
	if (!us)
		return 0;
	if (cmd == MOCKVF_FW_SAVE_START)
		mockvf_fw_get_save();
	else
		mockvf_fw_get(NULL);
	start = ktime_get_ns();
	mockvf_sleep_until(start + us * NSEC_PER_USEC, NULL);
	if (cmd == MOCKVF_FW_SAVE_START)
		mockvf_fw_put_save();
	else
		mockvf_fw_put();
	return 0;
}
