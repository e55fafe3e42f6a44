// SPDX-License-Identifier: GPL-2.0
/*
 * dmesg_clean - runs last: the kernel log holds no warning, BUG or oops and
 * the kernel is not tainted by one.  Every line that matched is printed.
 */
#include "harness.h"

#include <stdlib.h>
#include <sys/klog.h>

#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

/* Taint bits that mean the kernel complained: D (die/oops), W (warning). */
#define TAINT_DIE (1u << 7)
#define TAINT_WARN (1u << 9)

static const char *const bad[] = {
	"WARNING:", "BUG:", "Oops", "general protection fault",
	"kernel BUG", "UBSAN:", "KASAN:", "soft lockup", "blocked for more than",
	"INFO: task", "list_add corruption", "list_del corruption",
};

TEST(no_warnings_bugs_or_oopses)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	int n, hits = 0;
	char *buf, *line, *save;

	ASSERT_GT(size, 0);
	buf = calloc(1, size + 1);
	ASSERT_TRUE(buf != NULL);
	n = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	ASSERT_GE(n, 0);
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(line, bad[i])) {
				mt_log("dmesg: %s", line);
				hits++;
				break;
			}
		}
	}
	free(buf);
	ASSERT_EQ(0, hits);
}

TEST(not_tainted_by_warn_or_die)
{
	unsigned long taint = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(1, fscanf(f, "%lu", &taint));
	fclose(f);
	mt_log("taint mask %lu", taint);
	ASSERT_EQ(0, taint & (TAINT_DIE | TAINT_WARN));
}

TEST_MAIN()
