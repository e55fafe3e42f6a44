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
 */
#define _GNU_SOURCE
#include "session_internal.h"

int vm_switchover_decide(const struct vm_sw_input *in, const char **reason)
{
	uint64_t est = 0;

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
	for (unsigned i = 0; i < in->ndev; i++) {
		const struct vm_sw_dev *d = &in->devs[i];

		if (d->precopy && d->initial) {
			*reason = "initial-bytes-pending";
			return VM_SW_CONTINUE;
		}
		est += d->stopcopy_est;
		if (est < d->stopcopy_est)
			est = UINT64_MAX;
	}
	if (est > in->threshold) {
		*reason = "above-threshold";
		return VM_SW_CONTINUE;
	}
	*reason = "converged";
	return VM_SW_SWITCH;
}
