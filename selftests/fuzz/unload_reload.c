// SPDX-License-Identifier: GPL-2.0
/*
 * unload_reload - the leak and hang check that closes the fuzz
 * collection (it sorts after the fuzz programs).
 *
 * With every mockvf device removed, nothing may still hold the module
 * (refcnt 0: a leaked data_fd or device reference keeps it busy), no
 * vmalloc area allocated by mockvf may remain (/proc/vmallocinfo), and
 * unloading through the libkmod loader must succeed.  The module must
 * then load again and serve a device.  Finally the kernel must not have
 * logged a warning, BUG or hung task nor been tainted by one (the same
 * signs rig/dmesg_clean looks for at the very end of a full run).
 */
#include "fuzz.h"

#include <sys/klog.h>

#define MDEV_DIR "/sys/bus/mdev/devices"

/* Remove every mockvf device; returns how many there were. */
static int remove_all(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(MDEV_DIR);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char link[512], target[256];
		ssize_t len;
		const char *base;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), MDEV_DIR "/%s/mdev_type",
			 de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		if (strncmp(base, "mockvf-", 7))
			continue;
		mt_log("removing left-over device %s (%s)", de->d_name, base);
		EXPECT_EQ(0, mockvf_remove(de->d_name));
		n++;
	}
	closedir(d);
	return n;
}

/* Lines of /proc/vmallocinfo whose caller is in mockvf. */
static int mockvf_vmallocs(int print)
{
	FILE *f = fopen("/proc/vmallocinfo", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[mockvf]"))
			continue;
		n++;
		if (print && n <= 20) {
			line[strcspn(line, "\n")] = '\0';
			mt_log("vmallocinfo: %s", line);
		}
	}
	fclose(f);
	return n;
}

TEST_TIMEOUT(no_leaks_unload_reload, 60)
{
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	struct mbuf b = { 0 };
	long ref;
	int n, fd;

	mvt_require();
	n = remove_all();
	if (n)
		mt_log("%d device(s) were left over by earlier tests", n);

	ref = fuzz_wait_refcnt(0);
	if (ref != 0)
		mt_log("mockvf still referenced %ld time(s) with no device: a leaked data_fd or device reference",
		       ref);
	ASSERT_EQ(0, ref);
	n = mockvf_vmallocs(1);
	if (n > 0)
		mt_log("%d vmalloc area(s) of mockvf outlive every device", n);
	EXPECT_LE(n, 0);

	ASSERT_EQ(0, mockvf_unload());
	ASSERT_NE(0, access("/sys/module/mockvf", F_OK));

	ASSERT_EQ(0, mockvf_load());
	ASSERT_EQ(0, access("/sys/class/mdev_bus/mockvf", F_OK));
	ASSERT_EQ(0, mockvf_create("tiny", uuid));
	ASSERT_EQ(0, vfio_dev_open(uuid, &d));
	ASSERT_EQ(0, vfio_dev_set_state(&d, MT_STOP_COPY, &fd));
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	ASSERT_GT(b.len, 16384);
	close(fd);
	mbuf_free(&b);
	vfio_dev_close(&d);
	ASSERT_EQ(0, mockvf_remove(uuid));
	ASSERT_EQ(0, fuzz_wait_refcnt(0));
}

TEST(kernel_log_clean)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "general protection fault",
		"UBSAN:", "KASAN:", "KFENCE:", "soft lockup", "blocked for more than",
		"INFO: task", "list_add corruption", "list_del corruption",
		"refcount_t:", "Poison overwritten", "Redzone",
	};
	int size = klogctl(10 /* SIZE_BUFFER */, NULL, 0), n, hits = 0;
	unsigned long taint = 0;
	char *buf, *line, *save;
	FILE *f;

	ASSERT_GT(size, 0);
	buf = calloc(1, size + 1);
	ASSERT_TRUE(buf != NULL);
	n = klogctl(3 /* READ_ALL */, buf, size);
	ASSERT_GE(n, 0);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(line, bad[i])) {
				if (hits++ < 40)
					mt_log("dmesg: %s", line);
				break;
			}
		}
	}
	free(buf);
	f = fopen("/proc/sys/kernel/tainted", "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_EQ(1, fscanf(f, "%lu", &taint));
	fclose(f);
	if (hits || (taint & ((1u << 7) | (1u << 9))))
		mt_log("kernel complained (taint %#lx): see the lines above; they may come from any test run before this one",
		       taint);
	EXPECT_EQ(0, hits);
	EXPECT_EQ(0, taint & ((1u << 7) | (1u << 9)));
}

TEST_MAIN()
