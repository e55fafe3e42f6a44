// SPDX-License-Identifier: GPL-2.0
/*
 * ack_account.c - switchover-ack bookkeeping on the source.
 *
 * Legacy mode: one ack from the destination covers every device, sent when
 * each device needing one has loaded its initial data once.  Per-device
 * mode: the source counts requests and acks per device; a device may ask
 * again (REINIT) any number of times; switchover needs zero outstanding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "session_internal.h"

void vm_acks_init(struct vm_acks *a, int mode, unsigned ndev, bool any_precopy)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->ndev = ndev;
	a->legacy_needed = mode == VFIOMIG_ACK_LEGACY && any_precopy;
}

int vm_acks_request(struct vm_acks *a, unsigned dev)
{
	if (dev >= a->ndev)
		return -EINVAL;
	if (a->mode == VFIOMIG_ACK_OFF)
		return 0;
	if (a->frozen)
		return -EBUSY;
	a->requests++;
	if (a->mode == VFIOMIG_ACK_PER_DEVICE) {
		a->pending[dev]++;
		a->outstanding++;
		if (a->owe[dev]) {
			a->owe[dev] = false;
			a->owed--;
		}
	}
	return 0;
}

int vm_acks_reinit(struct vm_acks *a, unsigned dev)
{
	if (dev >= a->ndev)
		return -EINVAL;
	/*
	 * An ack still in flight for the old initial data must not let the
	 * source switch over before the new data is sent and acked.
	 */
	if (a->mode == VFIOMIG_ACK_PER_DEVICE && !a->owe[dev]) {
		a->owe[dev] = true;
		a->owed++;
	}
	return 0;
}

int vm_acks_receive(struct vm_acks *a, unsigned dev)
{
	switch (a->mode) {
	case VFIOMIG_ACK_LEGACY:
		if (dev != VFIOMIG_WIRE_NODEV || a->legacy_acked || !a->legacy_needed)
			return -EPROTO;
		a->legacy_acked = true;
		break;
	case VFIOMIG_ACK_PER_DEVICE:
		if (dev >= a->ndev || !a->pending[dev])
			return -EPROTO;
		a->pending[dev]--;
		a->outstanding--;
		break;
	default:
		return -EPROTO;
	}
	a->acks++;
	return 0;
}

bool vm_acks_ok(const struct vm_acks *a)
{
	switch (a->mode) {
	case VFIOMIG_ACK_LEGACY:
		return !a->legacy_needed || a->legacy_acked;
	case VFIOMIG_ACK_PER_DEVICE:
		return a->outstanding == 0 && a->owed == 0;
	default:
		return true;
	}
}

void vm_acks_freeze(struct vm_acks *a)
{
	a->frozen = true;
}
