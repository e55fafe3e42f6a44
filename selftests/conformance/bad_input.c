// SPDX-License-Identifier: GPL-2.0
/*
 * bad_input - every other conformance program, given a bad device list,
 * stops before any test with exactly one "Bail out!" line naming the
 * problem and exit status 1: a malformed list, an address with no device
 * behind it, and a pair whose two sides differ in migration flags (two
 * mock devices of different profiles; skipped without mockvf).
 */
#define _GNU_SOURCE
#include "harness.h"
#include "mockvf_dev.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX];

static void find_dir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	ASSERT_GT(n, 0);
	self[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(self));
}

/* Run @prog with @list in the environment; output in @out. */
static int run(const char *prog, const char *list, char *out, size_t len)
{
	char cmd[PATH_MAX * 2];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "VFIO_MIGTEST_DEVICES='%s' %s/%s 2>&1",
		 list, dir, prog);
	p = popen(cmd, "r");
	ASSERT_TRUE(p != NULL);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* Every sibling program bails out on @list naming @needle. */
static void bails(const char *list, const char *needle)
{
	DIR *d;
	struct dirent *e;
	int progs = 0;

	find_dir();
	d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d))) {
		char out[8192];
		int rc;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "bad_input") ||
		    !strcmp(e->d_name, "settings"))
			continue;
		rc = run(e->d_name, list, out, sizeof(out));
		mt_log("%s: exit %d: %s", e->d_name, rc, out);
		EXPECT_EQ(KSFT_FAIL, rc);
		EXPECT_EQ(1, count(out, "Bail out!"));
		EXPECT_TRUE(strstr(out, needle) != NULL);
		/* Before any test: no result line at all. */
		EXPECT_EQ(0, count(out, "\nok "));
		EXPECT_EQ(0, count(out, "not ok"));
		progs++;
	}
	closedir(d);
	ASSERT_GT(progs, 0);
}

TEST(malformed_list_bails_out)
{
	bails("nonsense", "'nonsense'");
}

TEST(address_with_no_device_bails_out)
{
	bails("0000:7f:1f.7", "0000:7f:1f.7 does not exist");
}

static void remove_mock(void *p)
{
	mockvf_remove(p);
	free(p);
}

TEST(pair_with_different_flags_bails_out)
{
	char a[MOCKVF_UUID_LEN], b[MOCKVF_UUID_LEN], list[128];
	int ret = mockvf_load();

	if (ret)
		SKIP("needs two devices with different flags: mockvf not "
		     "loadable (%s): %s", mockvf_ko_path(), strerror(-ret));
	ASSERT_EQ(0, mockvf_create("tiny", a));
	mt_defer(remove_mock, strdup(a));
	ASSERT_EQ(0, mockvf_create("nopre", b));
	mt_defer(remove_mock, strdup(b));
	snprintf(list, sizeof(list), "%s=%s", a, b);
	bails(list, "migration flags differ");
}

TEST_MAIN()
