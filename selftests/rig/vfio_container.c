// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_container - /dev/vfio/vfio answers the legacy container API that
 * mock devices are reached through.
 */
#include "harness.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void close_fd(void *p)
{
	close((int)(long)p);
}

static int open_container(void)
{
	int fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		SKIP("/dev/vfio/vfio does not exist (vfio not loaded)");
	ASSERT_GE(fd, 0);
	mt_defer(close_fd, (void *)(long)fd);
	return fd;
}

TEST(api_version)
{
	int fd = open_container();

	ASSERT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
}

TEST(type1v2_iommu_supported)
{
	int fd = open_container();

	ASSERT_EQ(1, ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
}

TEST(set_iommu_without_group_fails)
{
	int fd = open_container();

	/* A container with no group cannot pick an IOMMU model. */
	ASSERT_EQ(-1, ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(EINVAL, errno);
}

TEST_MAIN()
