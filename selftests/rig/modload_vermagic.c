// SPDX-License-Identifier: GPL-2.0
/*
 * modload_vermagic - the loader reads a .ko's vermagic with libelf and
 * refuses a module built for another kernel with one clear line naming both
 * releases, before the kernel sees it.  The module under test is mockvf.ko
 * when built, else a decompressed copy of the running kernel's vfio.ko.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "modload.h"
#include "mockvf_dev.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static char work[] = "/tmp/vermagic.XXXXXX";

static void rm_work(void *p)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", (char *)p);
	if (system(cmd))
		mt_log("cleanup of %s failed", (char *)p);
}

/* Copy a real module into a scratch dir; return its path. */
static const char *pristine_module(char *path, size_t len)
{
	struct utsname u;
	char cmd[512];

	ASSERT_TRUE(mkdtemp(work) != NULL);
	mt_defer(rm_work, work);
	snprintf(path, len, "%s/mod.ko", work);
	if (!access(mockvf_ko_path(), R_OK)) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", mockvf_ko_path(), path);
	} else {
		uname(&u);
		snprintf(cmd, sizeof(cmd),
			 "xz -dc /lib/modules/%s/kernel/drivers/vfio/vfio.ko.xz > %s",
			 u.release, path);
	}
	if (system(cmd))
		SKIP("no module to test with (%s)", cmd);
	return path;
}

/* Rewrite the release inside "vermagic=<release> ..." in place. */
static void doctor_vermagic(const char *path, const char *release)
{
	char *buf, *p;
	struct stat st;
	int fd;

	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fstat(fd, &st));
	buf = malloc(st.st_size);
	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(st.st_size, read(fd, buf, st.st_size));
	p = memmem(buf, st.st_size, "vermagic=", 9);
	ASSERT_TRUE(p != NULL);
	p += 9;
	/* Same length, so the ELF layout does not move: bump the last digit. */
	ASSERT_TRUE(strncmp(p, release, strlen(release)) == 0);
	p[strcspn(p, " ") - 1] ^= 0x01;
	ASSERT_EQ(st.st_size, pwrite(fd, buf, st.st_size, 0));
	close(fd);
	free(buf);
}

TEST(matching_module_passes)
{
	struct utsname u;
	char path[256], msg[512];

	uname(&u);
	pristine_module(path, sizeof(path));
	if (modload_check_ko(path, u.release, msg, sizeof(msg)) == -ENOEXEC &&
	    strstr(msg, "was built for"))
		SKIP("the module was built for another kernel: %s", msg);
	ASSERT_EQ(0, modload_check_ko(path, u.release, msg, sizeof(msg)));
}

TEST(wrong_vermagic_refused_before_insmod)
{
	struct modload *ml;
	struct utsname u;
	char path[256], msg[512];

	uname(&u);
	pristine_module(path, sizeof(path));
	doctor_vermagic(path, u.release);

	ASSERT_EQ(-ENOEXEC, modload_check_ko(path, u.release, msg, sizeof(msg)));
	mt_log("%s", msg);
	ASSERT_TRUE(strstr(msg, "was built for kernel") != NULL);
	ASSERT_TRUE(strstr(msg, u.release) != NULL);

	/* The loader refuses it too, with the same message. */
	ASSERT_EQ(0, modload_new(NULL, &ml));
	ASSERT_EQ(-ENOEXEC, modload_load(ml, path, NULL));
	ASSERT_TRUE(strstr(modload_error(ml), "was built for kernel") != NULL);
	modload_free(ml);
}

TEST(not_a_module_refused)
{
	char msg[512];

	ASSERT_EQ(-ENOEXEC, modload_check_ko("/bin/sh", NULL, msg, sizeof(msg)));
	ASSERT_TRUE(strstr(msg, ".modinfo") != NULL);
	ASSERT_EQ(-ENOEXEC, modload_check_ko("/etc/hostname", NULL, msg,
					     sizeof(msg)));
}

TEST_MAIN()
