/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harness.h - the vfio-migtest selftest harness.
 *
 * A test program is a list of TEST()s and one TEST_MAIN().  Each test runs in
 * a forked child with its own timeout, so a hang or crash fails that test
 * only.  Output is KTAP ("TAP version 13", a plan, one result per test,
 * "# SKIP reason" directives, "# ..." diagnostics); the exit status is 0 when
 * every test passed or was skipped and at least one passed, 4 (KSFT_SKIP) when
 * all were skipped, 1 when any failed.
 *
 *	TEST(loads_module)
 *	{
 *		ASSERT_EQ(0, do_something());
 *	}
 *	TEST_TIMEOUT(slow_one, 300) { ... }
 *	TEST_MAIN()
 *
 * Inside a test, ASSERT_* stop the test on failure (running deferred
 * cleanups first); EXPECT_* record the failure and carry on; SKIP() ends the
 * test as skipped with a reason; mt_defer() registers a cleanup that runs
 * when the test ends however it ends (except on timeout or crash).
 *
 * Command line: "-l" lists tests, "-t NAME" runs only NAME (repeatable);
 * the remaining arguments (devices, see devsel.h) are left for the tests in
 * mt_args()/mt_nargs().
 */
#ifndef VFIO_MIGTEST_HARNESS_H
#define VFIO_MIGTEST_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

#define MT_DEFAULT_TIMEOUT 60

struct mt_test {
	const char *name;
	void (*fn)(void);
	int timeout_s;
	struct mt_test *next;
};

void mt_register(struct mt_test *t);
int mt_main(int argc, char **argv);

/* The command line's positional arguments, after the harness options. */
char **mt_args(void);
int mt_nargs(void);

/* Optional, defined by a test program: see harness.c. */
int mt_precheck(char *why, size_t len);
/* Optional: diagnostics printed after the plan, before the first test. */
void mt_banner(void);

/* Print a KTAP diagnostic line ("# ..."). */
void mt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Mark the current test failed and go on (EXPECT_*). */
void mt_fail_here(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Run deferred cleanups and end the current test as failed/skipped. */
void mt_abort_test(void) __attribute__((noreturn));
void mt_skip(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* Run fn(arg) when the current test ends, last registered first. */
void mt_defer(void (*fn)(void *), void *arg);

#define TEST_TIMEOUT(tname, secs)					\
	static void mt_fn_##tname(void);				\
	static struct mt_test mt_t_##tname = {				\
		.name = #tname, .fn = mt_fn_##tname, .timeout_s = (secs) }; \
	__attribute__((constructor)) static void mt_reg_##tname(void)	\
	{								\
		mt_register(&mt_t_##tname);				\
	}								\
	static void mt_fn_##tname(void)

#define TEST(tname) TEST_TIMEOUT(tname, MT_DEFAULT_TIMEOUT)

#define TEST_MAIN()							\
	int main(int argc, char **argv)					\
	{								\
		return mt_main(argc, argv);				\
	}

#define SKIP(...) mt_skip(__VA_ARGS__)

/*
 * Comparisons evaluate each operand once, as long long, and print both
 * expressions, both values and errno on failure.
 */
#define MT_CMP(a, op, b, fatal) do {					\
	long long mt_a_ = (long long)(a), mt_b_ = (long long)(b);	\
	if (!(mt_a_ op mt_b_)) {					\
		int mt_e_ = errno;					\
		mt_fail_here(__FILE__, __LINE__,			\
			"%s %s %s: %lld vs %lld (errno %d: %s)",	\
			#a, #op, #b, mt_a_, mt_b_, mt_e_, strerror(mt_e_)); \
		if (fatal)						\
			mt_abort_test();				\
	}								\
} while (0)

#define ASSERT_EQ(a, b) MT_CMP(a, ==, b, 1)
#define ASSERT_NE(a, b) MT_CMP(a, !=, b, 1)
#define ASSERT_LT(a, b) MT_CMP(a, <, b, 1)
#define ASSERT_LE(a, b) MT_CMP(a, <=, b, 1)
#define ASSERT_GT(a, b) MT_CMP(a, >, b, 1)
#define ASSERT_GE(a, b) MT_CMP(a, >=, b, 1)
#define ASSERT_TRUE(c) MT_CMP(!!(c), ==, 1, 1)
#define ASSERT_FALSE(c) MT_CMP(!!(c), ==, 0, 1)
#define EXPECT_EQ(a, b) MT_CMP(a, ==, b, 0)
#define EXPECT_NE(a, b) MT_CMP(a, !=, b, 0)
#define EXPECT_LT(a, b) MT_CMP(a, <, b, 0)
#define EXPECT_LE(a, b) MT_CMP(a, <=, b, 0)
#define EXPECT_GT(a, b) MT_CMP(a, >, b, 0)
#define EXPECT_GE(a, b) MT_CMP(a, >=, b, 0)
#define EXPECT_TRUE(c) MT_CMP(!!(c), ==, 1, 0)
#define EXPECT_FALSE(c) MT_CMP(!!(c), ==, 0, 0)

#define ASSERT_STREQ(a, b) do {						\
	const char *mt_sa_ = (a), *mt_sb_ = (b);			\
	if (!mt_sa_ || !mt_sb_ || strcmp(mt_sa_, mt_sb_)) {		\
		mt_fail_here(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", \
			#a, #b, mt_sa_ ? mt_sa_ : "(null)",		\
			mt_sb_ ? mt_sb_ : "(null)");			\
		mt_abort_test();					\
	}								\
} while (0)

#endif /* VFIO_MIGTEST_HARNESS_H */
