// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_mig.c - migration state machine (VFIO uAPI v2), deferred reset,
 * device features and the transition log.
 */
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/uaccess.h>

#include "mockvf.h"

#define S(x) VFIO_DEVICE_STATE_##x

/* ---- transition log ---- */

void mockvf_log_add(struct mockvf_dev *mv, u64 start, u64 end,
		    enum vfio_device_mig_state from,
		    enum vfio_device_mig_state to, int ret,
		    enum mockvf_log_tag tag)
{
	struct mockvf_log_ent *e;

	spin_lock(&mv->log_lock);
	e = &mv->log[mv->log_head];
	e->start_ns = start;
	e->end_ns = end;
	e->from = from;
	e->to = to;
	e->ret = ret;
	e->tag = tag;
	mv->log_head = (mv->log_head + 1) % MOCKVF_LOG_ENTRIES;
	if (mv->log_len < MOCKVF_LOG_ENTRIES)
		mv->log_len++;
	spin_unlock(&mv->log_lock);
}

/* ---- files and reset ---- */

/**
 * mockvf_disable_files() - stop and drop the data_fds of the device.
 * @mv: device
 *
 * Later reads and writes on the files fail with -ENODEV.
 * Context: state_mutex held.
 */
void mockvf_disable_files(struct mockvf_dev *mv)
{
	struct mockvf_save *sf;

	lockdep_assert_held(&mv->state_mutex);
	/* mv->save is also read by the workload under data_lock */
	mutex_lock(&mv->data_lock);
	sf = mv->save;
	mv->save = NULL;
	mutex_unlock(&mv->data_lock);
	if (sf) {
		mockvf_save_disable(sf);
		fput(sf->filp);
	}
	if (mv->resume) {
		mockvf_resume_disable(mv->resume);
		fput(mv->resume->filp);
		mv->resume = NULL;
	}
}

/*
 * mockvf_flr_state() - a function level reset loses the device state (as
 * on a ConnectX VF): it comes back re-randomised, not zeroed, so two
 * devices still never hold the same state.  Context: state_mutex held,
 * no data_fd left.
 */
static void mockvf_flr_state(struct mockvf_dev *mv)
{
	lockdep_assert_held(&mv->state_mutex);
	mutex_lock(&mv->data_lock);
	mockvf_store_reset(mv->st, get_random_u64());
	bitmap_zero(mv->dirty, mv->state_size / MOCKVF_PAGE);
	mv->nr_dirty = 0;
	mv->gen = 0;
	mutex_unlock(&mv->data_lock);
}

static void mockvf_do_reset(struct mockvf_dev *mv)
{
	u64 now = ktime_get_ns();
	enum vfio_device_mig_state from = mv->state;

	lockdep_assert_held(&mv->state_mutex);
	mockvf_disable_files(mv);
	if (!mockvf_compat(mv, MOCKVF_C_RESET_KEEPS_STATE))
		mockvf_flr_state(mv);
	mv->state = S(RUNNING);
	mockvf_set_running(mv, true);
	mockvf_pci_reset(mv);
	mockvf_log_add(mv, now, ktime_get_ns(), from, S(RUNNING), 0,
		       MOCKVF_TAG_RESET);
}

/**
 * mockvf_state_mutex_unlock() - release state_mutex, applying any reset
 * that VFIO_DEVICE_RESET deferred while the mutex was held.
 * @mv: device
 */
void mockvf_state_mutex_unlock(struct mockvf_dev *mv)
{
again:
	spin_lock(&mv->reset_lock);
	if (mv->deferred_reset) {
		mv->deferred_reset = false;
		spin_unlock(&mv->reset_lock);
		mockvf_do_reset(mv);
		goto again;
	}
	mutex_unlock(&mv->state_mutex);
	spin_unlock(&mv->reset_lock);
}

/**
 * mockvf_reset() - VFIO_DEVICE_RESET: back to RUNNING, files disabled.
 * @mv: device
 *
 * If a state change holds state_mutex, the reset is applied by that holder
 * when it unlocks (mlx5's deferred reset), so reset never waits for a
 * firmware command.
 */
void mockvf_reset(struct mockvf_dev *mv)
{
	spin_lock(&mv->reset_lock);
	mv->deferred_reset = true;
	if (!mutex_trylock(&mv->state_mutex)) {
		spin_unlock(&mv->reset_lock);
		return;
	}
	spin_unlock(&mv->reset_lock);
	mockvf_state_mutex_unlock(mv);
}

/* ---- one step ---- */

static u64 mockvf_final_digest(struct mockvf_dev *mv)
{
	u64 d;

	mutex_lock(&mv->data_lock);
	d = mockvf_store_digest(mv->st);
	mutex_unlock(&mv->data_lock);
	return d;
}

/* Save start (query + SAVE) that also snapshots the final digest. */
static u64 mockvf_fw_save_start(struct mockvf_dev *mv, u64 extra_us)
{
	u64 us = READ_ONCE(mv->timing.us[MOCKVF_FW_SAVE_START]) + extra_us;
	u64 start, d;

	mockvf_fw_get_save();
	start = ktime_get_ns();
	d = mockvf_final_digest(mv);
	mockvf_sleep_until(start + us * NSEC_PER_USEC, NULL);
	mockvf_fw_put_save();
	return d;
}

/*
 * RESUMING->STOP.  Strict resume: validate and commit the stream here.
 * load_at_stop: the fixed load_us is paid here (otherwise write() paid
 * it per image, as mlx5 does, and only a delay fault costs time here).
 */
static int mockvf_fw_load(struct mockvf_dev *mv, u64 extra_us)
{
	struct mockvf_resume *rf = mv->resume;
	u64 us = extra_us, start, bytes = 0;
	int ret = 0;

	lockdep_assert_held(&mv->state_mutex);
	if (!rf->cost_in_write)
		us += READ_ONCE(mv->timing.us[MOCKVF_FW_LOAD]);
	/*
	 * Commit before taking a slot: write() holds rf->lock while it waits
	 * for one, so a slot holder must never wait for rf->lock.
	 */
	if (rf->strict) {
		ret = mockvf_resume_load(rf, &bytes);
		if (ret)
			return ret;
	}
	if (!us)
		return 0;
	/* the data itself was loaded (and paid for) as it was written */
	mockvf_fw_get(NULL);
	start = ktime_get_ns();
	mockvf_sleep_until(start + us * NSEC_PER_USEC, NULL);
	mockvf_fw_put();
	return 0;
}

/*
 * mockvf_note_saved() - remember the digest a STOP_COPY stream carries, so
 * tests can compare a destination with its source after the source has
 * been closed and returned to RUNNING (where a workload changes it again).
 */
static void mockvf_note_saved(struct mockvf_dev *mv, u64 digest)
{
	WRITE_ONCE(mv->saved_digest, digest);
}

static struct file *mockvf_new_save(struct mockvf_dev *mv, bool final,
				    u64 digest)
{
	struct mockvf_save *sf;

	if (final)
		mockvf_note_saved(mv, digest);
	sf = mockvf_save_create(mv, final, digest);
	if (IS_ERR(sf))
		return ERR_CAST(sf);
	return sf->filp;
}

/**
 * mockvf_arc() - perform one arc of the FSM (no multi-step).
 * @mv: device
 * @cur: current state
 * @next: the adjacent state chosen by vfio_mig_get_next_state()
 * @extra: added latency in µs (delay fault) for the first command
 *
 * Context: state_mutex held.
 * Return: a data_fd file, NULL, or an ERR_PTR.
 */
static struct file *mockvf_arc(struct mockvf_dev *mv, u32 cur, u32 next,
			       u64 extra)
{
	struct file *f;
	u64 d;
	int ret;

	lockdep_assert_held(&mv->state_mutex);

	if (cur == S(RUNNING) && next == S(RUNNING_P2P)) {
		mockvf_set_running(mv, false);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_INIT, extra);
		return NULL;
	}
	if (cur == S(PRE_COPY) && next == S(PRE_COPY_P2P)) {
		mockvf_set_running(mv, false);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_INIT, extra);
		return NULL;
	}
	if ((cur == S(RUNNING_P2P) && next == S(RUNNING)) ||
	    (cur == S(PRE_COPY_P2P) && next == S(PRE_COPY))) {
		mockvf_fw_cmd(mv, MOCKVF_FW_RESUME_INIT, extra);
		mockvf_set_running(mv, true);
		return NULL;
	}
	if (cur == S(RUNNING_P2P) && next == S(STOP)) {
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_RESP, extra);
		return NULL;
	}
	if (cur == S(STOP) && next == S(RUNNING_P2P)) {
		mockvf_fw_cmd(mv, MOCKVF_FW_RESUME_RESP, extra);
		return NULL;
	}
	if (cur == S(RUNNING) && next == S(STOP)) {	/* no P2P */
		mockvf_set_running(mv, false);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_INIT, extra);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_RESP, 0);
		return NULL;
	}
	if (cur == S(STOP) && next == S(RUNNING)) {	/* no P2P */
		mockvf_fw_cmd(mv, MOCKVF_FW_RESUME_RESP, extra);
		mockvf_fw_cmd(mv, MOCKVF_FW_RESUME_INIT, 0);
		mockvf_set_running(mv, true);
		return NULL;
	}
	if ((cur == S(RUNNING) && next == S(PRE_COPY)) ||
	    (cur == S(RUNNING_P2P) && next == S(PRE_COPY_P2P))) {
		mockvf_fw_cmd(mv, MOCKVF_FW_SAVE_START, extra);
		return mockvf_new_save(mv, false, 0);
	}
	if ((cur == S(PRE_COPY) && next == S(RUNNING)) ||
	    (cur == S(PRE_COPY_P2P) && next == S(RUNNING_P2P)) ||
	    (cur == S(STOP_COPY) && next == S(STOP))) {
		mockvf_disable_files(mv);
		if (extra)
			mockvf_sleep_until(ktime_get_ns() +
					   extra * NSEC_PER_USEC, NULL);
		return NULL;
	}
	if (cur == S(PRE_COPY_P2P) && next == S(STOP_COPY)) {
		if (WARN_ON(!mv->save))
			return ERR_PTR(-EIO);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_RESP, extra);
		d = mockvf_fw_save_start(mv, 0);
		mockvf_save_final(mv->save, d);
		mockvf_note_saved(mv, d);
		return NULL;
	}
	if (cur == S(PRE_COPY) && next == S(STOP_COPY)) {	/* no P2P */
		if (WARN_ON(!mv->save))
			return ERR_PTR(-EIO);
		mockvf_set_running(mv, false);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_INIT, extra);
		mockvf_fw_cmd(mv, MOCKVF_FW_SUSPEND_RESP, 0);
		d = mockvf_fw_save_start(mv, 0);
		mockvf_save_final(mv->save, d);
		mockvf_note_saved(mv, d);
		return NULL;
	}
	if (cur == S(STOP) && next == S(STOP_COPY)) {
		d = mockvf_fw_save_start(mv, extra);
		return mockvf_new_save(mv, true, d);
	}
	if (cur == S(STOP) && next == S(RESUMING)) {
		struct mockvf_resume *rf = mockvf_resume_create(mv);

		if (IS_ERR(rf))
			return ERR_CAST(rf);
		get_file(rf->filp);
		mv->resume = rf;
		if (extra)
			mockvf_sleep_until(ktime_get_ns() +
					   extra * NSEC_PER_USEC, NULL);
		return rf->filp;
	}
	if (cur == S(RESUMING) && next == S(STOP)) {
		if (WARN_ON(!mv->resume))
			return ERR_PTR(-EIO);
		ret = mockvf_fw_load(mv, extra);
		/* on failure the file stays unless the step enters ERROR */
		if (ret)
			return ERR_PTR(ret);
		mockvf_disable_files(mv);
		return NULL;
	}
	f = ERR_PTR(-EINVAL);
	return f;
}

/*
 * One logged step: injected faults first, then the arc.  A failed step
 * leaves the device in the state it was in, with its files, as mlx5 does
 * (mlx5vf_pci_set_device_state() keeps the last state reached); with
 * error_on_fail it enters ERROR instead (files disabled), which only
 * VFIO_DEVICE_RESET leaves.
 */
static struct file *mockvf_step(struct mockvf_dev *mv, u32 next)
{
	struct mockvf_faults *fl = &mv->faults;
	enum mockvf_log_tag tag = MOCKVF_TAG_NONE;
	u32 cur = mv->state;
	u64 start = ktime_get_ns();
	u64 extra = fl->delay_us[cur][next];
	struct file *res;
	int ret = 0;

	lockdep_assert_held(&mv->state_mutex);
	if (extra)
		tag = MOCKVF_TAG_DELAY;

	if (fl->fail_count[next]) {
		fl->fail_count[next]--;
		res = ERR_PTR(-(int)fl->fail_errno[next]);
		tag = MOCKVF_TAG_FAULT;
		if (extra)
			mockvf_sleep_until(start + extra * NSEC_PER_USEC, NULL);
	} else {
		res = mockvf_arc(mv, cur, next, extra);
	}

	if (IS_ERR(res)) {
		ret = PTR_ERR(res);
		if (mockvf_compat(mv, MOCKVF_C_ERROR_ON_FAIL)) {
			mockvf_disable_files(mv);
			mockvf_set_running(mv, false);
			mv->state = S(ERROR);
		}
	} else {
		mv->state = next;
		if (mv->save && res == mv->save->filp) {
			if (mv->save->truncate_at != U64_MAX)
				tag = MOCKVF_TAG_TRUNCATE;
			else if (mv->save->corrupt_at != U64_MAX)
				tag = MOCKVF_TAG_CORRUPT;
		}
	}
	mockvf_log_add(mv, start, ktime_get_ns(), cur, next, ret, tag);
	return res;
}

static bool mockvf_blocked(u32 cur, u32 new)
{
	if (new >= MOCKVF_NR_STATES || new == S(ERROR) || cur == S(ERROR))
		return true;
	/* 6.12's vfio_mig_get_next_state() would spin on these. */
	return cur == S(STOP_COPY) &&
	       (new == S(PRE_COPY) || new == S(PRE_COPY_P2P));
}

static struct file *
mockvf_set_state(struct vfio_device *vdev, enum vfio_device_mig_state new)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);
	struct file *res = NULL;
	enum vfio_device_mig_state next;
	int ret;

	/* interruptible: a queue behind long modelled commands is no hang */
	if (mutex_lock_interruptible(&mv->state_mutex))
		return ERR_PTR(-ERESTARTSYS);
	if (mockvf_blocked(mv->state, new)) {
		res = ERR_PTR(-EINVAL);
		goto out;
	}
	while (mv->state != new) {
		ret = vfio_mig_get_next_state(vdev, mv->state, new, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = mockvf_step(mv, next);
		if (IS_ERR(res))
			break;
		if (WARN_ON(res && mv->state != new)) {
			/* Only the last step may produce a data_fd. */
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
out:
	mockvf_state_mutex_unlock(mv);
	return res;
}

static int mockvf_get_state(struct vfio_device *vdev,
			    enum vfio_device_mig_state *state)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	*state = mv->state;
	mockvf_state_mutex_unlock(mv);
	return 0;
}

static int mockvf_get_data_size(struct vfio_device *vdev,
				unsigned long *len)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	*len = mockvf_save_estimate(mv);
	mockvf_state_mutex_unlock(mv);
	return 0;
}

const struct vfio_migration_ops mockvf_mig_ops = {
	.migration_set_state = mockvf_set_state,
	.migration_get_state = mockvf_get_state,
	.migration_get_data_size = mockvf_get_data_size,
};

/**
 * mockvf_device_feature() - features the 6.12 core does not handle.
 * @vdev: device
 * @flags: VFIO_DEVICE_FEATURE flags and index
 * @arg: user payload (unused)
 * @argsz: payload size
 *
 * Index 12 (MIG_PRECOPY_INFOv2, SET, no payload) opts this open of the
 * device in to PRECOPY_INFO output flags (REINIT); close_device clears it.
 *
 * Return: 0, -EINVAL (not supported or refused), -ENOTTY (unknown index).
 */
int mockvf_device_feature(struct vfio_device *vdev, u32 flags,
			  void __user *arg, size_t argsz)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);
	int ret;

	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		if (!(vdev->migration_flags & VFIO_MIGRATION_PRE_COPY) ||
		    !READ_ONCE(mv->reinit_capable))
			return -EINVAL;
		ret = vfio_check_feature(flags, argsz,
					 VFIO_DEVICE_FEATURE_SET, 0);
		if (ret != 1)
			return ret;
		if (mutex_lock_interruptible(&mv->state_mutex))
			return -ERESTARTSYS;
		if (mv->reinit_capable)
			mv->precopy_v2 = true;
		else
			ret = -EINVAL;
		mockvf_state_mutex_unlock(mv);
		return ret == 1 ? 0 : ret;
	default:
		return -ENOTTY;
	}
}
