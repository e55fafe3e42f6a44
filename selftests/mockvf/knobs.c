// SPDX-License-Identifier: GPL-2.0
/*
 * knobs - the per-device sysfs ABI of docs/mockvf.md: formats, EINVAL for
 * invalid values, EBUSY where the migration state forbids a change.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define FW_PARAM "/sys/module/mockvf/parameters/fw_max_concurrent"
#define FW_SAVE_PARAM "/sys/module/mockvf/parameters/fw_max_concurrent_save"

static void expect_einval(const char *u, const char *attr, const char *val)
{
	int ret = mockvf_attr_write(u, attr, val);

	if (ret != -EINVAL)
		mt_log("%s <- '%s': %d", attr, val, ret);
	EXPECT_EQ(-EINVAL, ret);
}

TEST(read_only_files)
{
	static const char *const ro[] = {
		"profile", "state", "digest", "precopy_info_v2",
	};
	char u[MOCKVF_UUID_LEN];
	const char *dg;

	mvt_require();
	mvt_create("cx7", u);
	ASSERT_STREQ("cx7", mvt_attr(u, "profile"));
	ASSERT_STREQ("RUNNING", mvt_attr(u, "state"));
	ASSERT_STREQ("0", mvt_attr(u, "precopy_info_v2"));
	dg = mvt_attr(u, "digest");
	ASSERT_EQ(16, (int)strlen(dg));
	for (int i = 0; i < 16; i++)
		ASSERT_TRUE(isxdigit((unsigned char)dg[i]));
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		EXPECT_EQ(-EACCES, mockvf_attr_write(u, ro[i], "1"));
	/* cx7 defaults: 8 MiB, calibrated latencies */
	ASSERT_EQ(8 << 20, mvt_attr_u64(u, "state_size"));
	ASSERT_EQ(10000, mvt_attr_u64(u, "timing/load_us"));
	ASSERT_EQ(1, mvt_attr_u64(u, "reinit_capable"));
}

TEST(state_size)
{
	char u[MOCKVF_UUID_LEN], d1[17];
	struct vfio_dev *d;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	expect_einval(u, "state_size", "0");
	expect_einval(u, "state_size", "4095");
	expect_einval(u, "state_size", "6000");
	expect_einval(u, "state_size", "abc");
	expect_einval(u, "state_size", "-4096");
	expect_einval(u, "state_size", "8589938688");	/* 8 GiB + 4 KiB */
	expect_einval(u, "state_size", "18446744073709547520");
	ASSERT_EQ(16384, mvt_attr_u64(u, "state_size"));
	snprintf(d1, sizeof(d1), "%s", mvt_attr(u, "digest"));
	mvt_set(u, "state_size", "8192");
	ASSERT_EQ(8192, mvt_attr_u64(u, "state_size"));
	ASSERT_TRUE(strcmp(d1, mvt_attr(u, "digest")) != 0);
	mvt_set(u, "state_size", "0x10000");
	ASSERT_EQ(65536, mvt_attr_u64(u, "state_size"));

	d = mvt_open(u);
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u, "state_size", "8192"));
	fd = mvt_goto(d, MT_RESUMING);
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u, "state_size", "8192"));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(d));
	fd = mvt_goto(d, MT_PRE_COPY);
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u, "state_size", "8192"));
	close(fd);
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));
	mvt_set(u, "state_size", "8192");
}

TEST(workload_knobs)
{
	char u[MOCKVF_UUID_LEN], d1[17];
	struct vfio_dev *d;
	int fd;

	mvt_require();
	mvt_create("tiny", u);
	expect_einval(u, "dirty_rate", "abc");
	expect_einval(u, "dirty_rate", "1073741825");
	expect_einval(u, "dirty_rate", "-1");
	mvt_set(u, "dirty_rate", "1000000");
	ASSERT_EQ(1000000, mvt_attr_u64(u, "dirty_rate"));
	/* a running workload changes the state */
	snprintf(d1, sizeof(d1), "%s", mvt_attr(u, "digest"));
	usleep(100000);
	ASSERT_TRUE(strcmp(d1, mvt_attr(u, "digest")) != 0);
	mvt_set(u, "dirty_rate", "0");

	expect_einval(u, "reconfig_interval_ms", "5");
	expect_einval(u, "reconfig_interval_ms", "3600001");
	expect_einval(u, "reconfig_interval_ms", "x");
	mvt_set(u, "reconfig_interval_ms", "10");
	ASSERT_EQ(10, mvt_attr_u64(u, "reconfig_interval_ms"));
	mvt_set(u, "reconfig_interval_ms", "0");

	expect_einval(u, "reconfig", "0");
	expect_einval(u, "reconfig", "2");
	expect_einval(u, "reconfig", "yes");
	snprintf(d1, sizeof(d1), "%s", mvt_attr(u, "digest"));
	mvt_set(u, "reconfig", "1");
	ASSERT_TRUE(strcmp(d1, mvt_attr(u, "digest")) != 0);
	d = mvt_open(u);
	ASSERT_EQ(-1, mvt_goto(d, MT_STOP));
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u, "reconfig", "1"));
	fd = mvt_goto(d, MT_PRE_COPY);
	mvt_set(u, "reconfig", "1");
	ASSERT_EQ(-1, mvt_goto(d, MT_PRE_COPY_P2P));
	ASSERT_EQ(-EBUSY, mockvf_attr_write(u, "reconfig", "1"));
	close(fd);

	expect_einval(u, "reinit_capable", "2");
	expect_einval(u, "reinit_capable", "x");
	mvt_set(u, "reinit_capable", "0");
	ASSERT_EQ(0, mvt_attr_u64(u, "reinit_capable"));
}

TEST(timing_knobs)
{
	static const char *const us[] = {
		"timing/suspend_initiator_us", "timing/suspend_responder_us",
		"timing/resume_initiator_us", "timing/resume_responder_us",
		"timing/save_start_us", "timing/load_us",
	};
	char u[MOCKVF_UUID_LEN];

	mvt_require();
	mvt_create("tiny", u);
	for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
		ASSERT_EQ(0, mvt_attr_u64(u, us[i]));	/* tiny: instant */
		expect_einval(u, us[i], "10000001");
		expect_einval(u, us[i], "-1");
		expect_einval(u, us[i], "fast");
		mvt_set(u, us[i], "1234");
		ASSERT_EQ(1234, mvt_attr_u64(u, us[i]));
		mvt_set(u, us[i], "0");
	}
	expect_einval(u, "timing/save_bw_kbps", "104857601");
	expect_einval(u, "timing/load_bw_kbps", "x");
	mvt_set(u, "timing/save_bw_kbps", "2048");
	ASSERT_EQ(2048, mvt_attr_u64(u, "timing/save_bw_kbps"));
}

static int write_path(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

TEST(fw_max_concurrent_param)
{
	char buf[32] = "";
	int fd;

	mvt_require();
	EXPECT_EQ(-EINVAL, write_path(FW_PARAM, "x"));
	EXPECT_EQ(-EINVAL, write_path(FW_PARAM, "2000"));
	ASSERT_EQ(0, write_path(FW_PARAM, "3"));
	fd = open(FW_PARAM, O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ASSERT_EQ(3, atoi(buf));
	ASSERT_EQ(0, write_path(FW_PARAM, "0"));
}

/* The SAVE pool: default 1 (the firmware serialises saves), 0..1024. */
TEST(fw_max_concurrent_save_param)
{
	char buf[32] = "";
	int fd;

	mvt_require();
	fd = open(FW_SAVE_PARAM, O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ASSERT_EQ(1, atoi(buf));
	EXPECT_EQ(-EINVAL, write_path(FW_SAVE_PARAM, "x"));
	EXPECT_EQ(-EINVAL, write_path(FW_SAVE_PARAM, "1025"));
	EXPECT_EQ(-EINVAL, write_path(FW_SAVE_PARAM, "-1"));
	ASSERT_EQ(0, write_path(FW_SAVE_PARAM, "0"));
	ASSERT_EQ(0, write_path(FW_SAVE_PARAM, "1"));
}

TEST_MAIN()
