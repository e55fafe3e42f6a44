// SPDX-License-Identifier: GPL-2.0
/*
 * switchover.c - when the source stops precopy and stops the devices.
 *
 * Order of the rules matters: an outstanding switchover ack always wins
 * (switching over before the destination has loaded a device's initial
 * data would move that work into the downtime, which is exactly what the
 * ack exists to prevent); the round limit then overrides the convergence
 * rules so that a device that keeps dirtying cannot stall us forever.
 * Because acks win over the round limit, a destination that never acks
 * would keep a busy source (one that always has bytes to move, so never
 * idles into the I/O timeout) in precopy forever: an ack stall longer
 * than its limit fails the migration instead.
 *
 * Convergence counts what is still pending the way QEMU's VFIO migration
 * does: every device's stop-copy size (MIG_DATA_SIZE) plus, for a device
 * in precopy, the initial and dirty bytes PRECOPY_INFO reports.  Devices
 * like mlx5 report the full image as MIG_DATA_SIZE whatever precopy has
 * moved, so the stop-copy size alone never shrinks and says nothing about
 * a device that keeps dirtying; the precopy bytes are what tell a busy
 * device from an idle one.  For drivers whose MIG_DATA_SIZE already
 * includes the unread precopy bytes this counts them twice, as QEMU does:
 * it errs towards a shorter downtime.
 */
#define _GNU_SOURCE
#include "session_internal.h"

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

uint64_t vm_switchover_pending(const struct vm_sw_input *in)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < in->ndev; i++) {
		const struct vm_sw_dev *d = &in->devs[i];

		sum = add_sat(sum, d->stopcopy_est);
		if (d->precopy)
			sum = add_sat(sum, add_sat(d->initial, d->dirty));
	}
	return sum;
}

int vm_switchover_decide(const struct vm_sw_input *in, const char **reason)
{
	if (!in->acks_ok) {
		if (in->ack_stall_limit_ms && in->ack_stall_ms >= in->ack_stall_limit_ms) {
			*reason = "ack-timeout";
			return VM_SW_FAIL;
		}
		*reason = "waiting-for-acks";
		return VM_SW_CONTINUE;
	}
	if (!in->min_time_ok) {
		*reason = "min-precopy-time";
		return VM_SW_CONTINUE;
	}
	if (in->max_rounds && in->round >= in->max_rounds) {
		*reason = "round-limit";
		return VM_SW_SWITCH;
	}
	/*
	 * Stricter than QEMU: the initial data is always moved before the
	 * devices stop, even under an unlimited threshold, because it is
	 * what the destination loads while the source still runs.
	 */
	for (unsigned i = 0; i < in->ndev; i++)
		if (in->devs[i].precopy && in->devs[i].initial) {
			*reason = "initial-bytes-pending";
			return VM_SW_CONTINUE;
		}
	if (vm_switchover_pending(in) > in->threshold) {
		*reason = "above-threshold";
		return VM_SW_CONTINUE;
	}
	*reason = "converged";
	return VM_SW_SWITCH;
}
