// SPDX-License-Identifier: GPL-2.0
/*
 * test_switchover - the switchover decision and the switchover-ack
 * accounting (legacy and per-device, re-requests, freeze).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../lib/session_internal.h"

static int decide(struct vm_sw_dev *d, unsigned n, unsigned round,
		  unsigned max_rounds, uint64_t threshold, bool acks_ok,
		  const char **why)
{
	struct vm_sw_input in = { .ndev = n, .devs = d, .round = round,
				  .max_rounds = max_rounds, .threshold = threshold,
				  .acks_ok = acks_ok, .min_time_ok = true };
	return vm_switchover_decide(&in, why);
}

/* Pending = every stop-copy size + initial and dirty bytes of precopy devices. */
static void converged(void **state)
{
	struct vm_sw_dev d[2] = { { true, 0, 10, 100 }, { false, 0, 0, 50 } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_SWITCH, decide(d, 2, 1, 10, UINT64_MAX, true, &why));
	assert_string_equal("converged", why);
	assert_int_equal(VM_SW_SWITCH, decide(d, 2, 1, 10, 160, true, &why));
	assert_int_equal(VM_SW_CONTINUE, decide(d, 2, 1, 10, 159, true, &why));
	assert_string_equal("above-threshold", why);
}

/*
 * An mlx5-like device: MIG_DATA_SIZE is the full image however much
 * precopy moved, so only the dirty bytes tell a busy device from an idle
 * one.  A budget of one image plus 64 KiB fits the idle device and not
 * one with 1 MiB dirty (the stop-copy size alone would fit both).
 */
static void full_image_data_size_busy_device(void **state)
{
	uint64_t image = 8 << 20, budget = image + (64 << 10);
	struct vm_sw_dev d[1] = { { true, 0, 1 << 20, image } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 1, 30, budget, true, &why));
	assert_string_equal("above-threshold", why);
	/* It keeps dirtying: only the round limit ends precopy. */
	assert_int_equal(VM_SW_SWITCH, decide(d, 1, 30, 30, budget, true, &why));
	assert_string_equal("round-limit", why);
	/* Idle (nothing dirty): the full image alone fits. */
	d[0].dirty = 0;
	assert_int_equal(VM_SW_SWITCH, decide(d, 1, 1, 30, budget, true, &why));
	assert_string_equal("converged", why);
	/* Dirty bytes just past the margin are enough to hold it back. */
	d[0].dirty = (64 << 10) + 1;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 1, 30, budget, true, &why));
}

/* Several devices add up; a device out of precopy adds its stop-copy size only. */
static void pending_sums_devices(void **state)
{
	struct vm_sw_dev d[3] = { { true, 0, 7, 100 }, { false, 99, 99, 50 },
				  { true, 0, 3, 40 } };
	struct vm_sw_input in = { .ndev = 3, .devs = d };
	const char *why;

	(void)state;
	assert_int_equal(200, vm_switchover_pending(&in));
	assert_int_equal(VM_SW_CONTINUE, decide(d, 3, 1, 10, 199, true, &why));
	assert_int_equal(VM_SW_SWITCH, decide(d, 3, 1, 10, 200, true, &why));
	/* Saturates instead of wrapping. */
	d[2].dirty = UINT64_MAX - 10;
	assert_true(vm_switchover_pending(&in) == UINT64_MAX);
	assert_int_equal(VM_SW_CONTINUE, decide(d, 3, 1, 10, UINT64_MAX - 1, true, &why));
	assert_int_equal(VM_SW_SWITCH, decide(d, 3, 1, 10, UINT64_MAX, true, &why));
}

static void initial_bytes_block(void **state)
{
	struct vm_sw_dev d[2] = { { true, 4096, 0, 0 }, { true, 0, 0, 0 } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 2, 1, 10, UINT64_MAX, true, &why));
	assert_string_equal("initial-bytes-pending", why);
	/* A device not in precopy has no initial bytes to wait for. */
	d[0].precopy = false;
	assert_int_equal(VM_SW_SWITCH, decide(d, 2, 1, 10, UINT64_MAX, true, &why));
}

static void round_limit(void **state)
{
	struct vm_sw_dev d[1] = { { true, 4096, 1 << 20, 1 << 30 } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 9, 10, 0, true, &why));
	assert_int_equal(VM_SW_SWITCH, decide(d, 1, 10, 10, 0, true, &why));
	assert_string_equal("round-limit", why);
	/* 0 = no limit. */
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 1000, 0, 0, true, &why));
}

static void acks_always_win(void **state)
{
	struct vm_sw_dev d[1] = { { true, 0, 0, 0 } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 1, 10, UINT64_MAX, false, &why));
	assert_string_equal("waiting-for-acks", why);
	/* Even the round limit does not switch over with an outstanding ack. */
	assert_int_equal(VM_SW_CONTINUE, decide(d, 1, 99, 10, UINT64_MAX, false, &why));
}

/* A busy source and a destination that never acks: precopy must end. */
static void ack_stall_is_bounded(void **state)
{
	struct vm_sw_dev d[1] = { { true, 0, 1 << 20, 1 << 20 } };
	struct vm_sw_input in = { .ndev = 1, .devs = d, .round = 5000, .max_rounds = 10,
				  .threshold = UINT64_MAX, .min_time_ok = true,
				  .ack_stall_ms = 29999, .ack_stall_limit_ms = 30000 };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, vm_switchover_decide(&in, &why));
	assert_string_equal("waiting-for-acks", why);
	in.ack_stall_ms = 30000;
	assert_int_equal(VM_SW_FAIL, vm_switchover_decide(&in, &why));
	assert_string_equal("ack-timeout", why);
	/* Without the round limit the stall bound still holds. */
	in.max_rounds = 0;
	assert_int_equal(VM_SW_FAIL, vm_switchover_decide(&in, &why));
	/* Once acked, the stall clock is irrelevant. */
	in.acks_ok = true;
	in.max_rounds = 10;
	assert_int_equal(VM_SW_SWITCH, vm_switchover_decide(&in, &why));
}

static void min_precopy_time(void **state)
{
	struct vm_sw_dev d[1] = { { true, 0, 0, 0 } };
	struct vm_sw_input in = { .ndev = 1, .devs = d, .round = 50, .max_rounds = 10,
				  .threshold = UINT64_MAX, .acks_ok = true };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, vm_switchover_decide(&in, &why));
	assert_string_equal("min-precopy-time", why);
	in.min_time_ok = true;
	assert_int_equal(VM_SW_SWITCH, vm_switchover_decide(&in, &why));
}

static void estimate_overflow(void **state)
{
	struct vm_sw_dev d[2] = { { false, 0, 0, UINT64_MAX }, { false, 0, 0, 5 } };
	const char *why;

	(void)state;
	assert_int_equal(VM_SW_CONTINUE, decide(d, 2, 1, 10, UINT64_MAX - 1, true, &why));
}

static void acks_per_device(void **state)
{
	struct vm_acks a;

	(void)state;
	vm_acks_init(&a, VFIOMIG_ACK_PER_DEVICE, 3, true);
	assert_true(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_int_equal(0, vm_acks_request(&a, 1));
	assert_false(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_receive(&a, 0));
	assert_false(vm_acks_ok(&a));
	/* REINIT: device 0 asks again. */
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_int_equal(0, vm_acks_receive(&a, 1));
	assert_false(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_receive(&a, 0));
	assert_true(vm_acks_ok(&a));
	assert_int_equal(3, a.requests);
	assert_int_equal(3, a.acks);
	/* Unsolicited or duplicate acks are protocol errors. */
	assert_int_equal(-EPROTO, vm_acks_receive(&a, 0));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, 2));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, VFIOMIG_WIRE_NODEV));
	assert_int_equal(-EINVAL, vm_acks_request(&a, 3));
	/* After the switchover decision a request fails the migration. */
	vm_acks_freeze(&a);
	assert_int_equal(-EBUSY, vm_acks_request(&a, 2));
}

/* REINIT while a request is in flight: its ack does not clear the device. */
static void acks_reinit_voids_inflight_ack(void **state)
{
	struct vm_acks a;

	(void)state;
	vm_acks_init(&a, VFIOMIG_ACK_PER_DEVICE, 2, true);
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_int_equal(0, vm_acks_reinit(&a, 0));
	assert_int_equal(0, vm_acks_reinit(&a, 0));	/* owed once */
	assert_int_equal(0, vm_acks_receive(&a, 0));
	assert_false(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_false(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_receive(&a, 0));
	assert_true(vm_acks_ok(&a));
	assert_int_equal(-EINVAL, vm_acks_reinit(&a, 2));
	/* Other modes keep no per-device debt. */
	vm_acks_init(&a, VFIOMIG_ACK_OFF, 2, true);
	assert_int_equal(0, vm_acks_reinit(&a, 1));
	assert_true(vm_acks_ok(&a));
}

static void acks_legacy(void **state)
{
	struct vm_acks a;

	(void)state;
	vm_acks_init(&a, VFIOMIG_ACK_LEGACY, 2, true);
	assert_false(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_int_equal(0, vm_acks_request(&a, 1));
	assert_false(vm_acks_ok(&a));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, 0));	/* legacy acks are global */
	assert_int_equal(0, vm_acks_receive(&a, VFIOMIG_WIRE_NODEV));
	assert_true(vm_acks_ok(&a));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, VFIOMIG_WIRE_NODEV));	/* one-shot */
	/* No precopy device: nothing to wait for, and an ack is unsolicited. */
	vm_acks_init(&a, VFIOMIG_ACK_LEGACY, 2, false);
	assert_true(vm_acks_ok(&a));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, VFIOMIG_WIRE_NODEV));
}

static void acks_off(void **state)
{
	struct vm_acks a;

	(void)state;
	vm_acks_init(&a, VFIOMIG_ACK_OFF, 2, true);
	assert_true(vm_acks_ok(&a));
	assert_int_equal(0, vm_acks_request(&a, 0));
	assert_true(vm_acks_ok(&a));
	assert_int_equal(-EPROTO, vm_acks_receive(&a, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(converged),
		cmocka_unit_test(full_image_data_size_busy_device),
		cmocka_unit_test(pending_sums_devices),
		cmocka_unit_test(initial_bytes_block),
		cmocka_unit_test(round_limit),
		cmocka_unit_test(acks_always_win),
		cmocka_unit_test(min_precopy_time),
		cmocka_unit_test(ack_stall_is_bounded),
		cmocka_unit_test(estimate_overflow),
		cmocka_unit_test(acks_per_device),
		cmocka_unit_test(acks_reinit_voids_inflight_ack),
		cmocka_unit_test(acks_legacy),
		cmocka_unit_test(acks_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
