// SPDX-License-Identifier: GPL-2.0
/*
 * pci - the vfio-pci face QEMU needs: device/region/irq info, config
 * space, BAR0, reset.
 */
#include "harness.h"
#include "vfio_dev.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define IDX(i) ((uint64_t)(i) << 40)

static uint32_t cfg_read32(struct vfio_dev *d, unsigned int off)
{
	uint32_t v = 0;

	ASSERT_EQ(4, pread(d->fd, &v, 4, IDX(VFIO_PCI_CONFIG_REGION_INDEX) +
			   off));
	return v;
}

TEST(device_api)
{
	char buf[64];
	int fd = -1;
	ssize_t n;

	mvt_require();
	fd = open("/sys/class/mdev_bus/mockvf/mdev_supported_types/"
		  "mockvf-tiny/device_api", O_RDONLY);
	ASSERT_GE(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	ASSERT_STREQ("vfio-pci\n", buf);
}

TEST(info)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_INFO, &di));
	ASSERT_TRUE(di.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_TRUE(di.flags & VFIO_DEVICE_FLAGS_RESET);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, di.num_regions);
	ASSERT_EQ(VFIO_PCI_NUM_IRQS, di.num_irqs);

	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(256, ri.size);
	ASSERT_EQ(IDX(VFIO_PCI_CONFIG_REGION_INDEX), ri.offset);
	ASSERT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		  ri.flags);
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(4096, ri.size);
	ri.index = VFIO_PCI_BAR2_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(0, ri.size);
	ri.index = VFIO_PCI_NUM_REGIONS;
	ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));

	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(0, ii.count);
	ii.index = VFIO_PCI_REQ_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(1, ii.count);
	ASSERT_TRUE(ii.flags & VFIO_IRQ_INFO_EVENTFD);
}

TEST(no_dma_logging)
{
	struct {
		struct vfio_device_feature hdr;
		uint64_t page_size;
		uint32_t num_ranges;
		uint32_t pad;
		uint64_t ranges;
	} f = { .hdr.argsz = sizeof(f) };
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	f.hdr.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
		      6;	/* DMA_LOGGING_START */
	ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_FEATURE, &f));
	ASSERT_EQ(ENOTTY, errno);
}

TEST(config_and_bar)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	uint64_t bar = IDX(VFIO_PCI_BAR0_REGION_INDEX);
	uint32_t v;
	uint16_t cmd = 0x6;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	v = cfg_read32(d, 0);
	ASSERT_EQ(0x4d561de5, v);		/* device << 16 | vendor */
	ASSERT_EQ(0x020000, cfg_read32(d, 8) >> 8);	/* Ethernet */
	/* BAR sizing */
	v = 0xffffffff;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4,
			    IDX(VFIO_PCI_CONFIG_REGION_INDEX) + 0x10));
	ASSERT_EQ(0xfffff000, cfg_read32(d, 0x10));
	/* command register: memory + bus master stick */
	ASSERT_EQ(2, pwrite(d->fd, &cmd, 2,
			    IDX(VFIO_PCI_CONFIG_REGION_INDEX) + 4));
	ASSERT_EQ(0x6, cfg_read32(d, 4) & 0xffff);
	/* vendor id is read-only */
	v = 0;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4, IDX(VFIO_PCI_CONFIG_REGION_INDEX)));
	ASSERT_EQ(0x4d561de5, cfg_read32(d, 0));
	/* BAR0 is plain memory */
	v = 0xdeadbeef;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4, bar + 0x100));
	v = 0;
	ASSERT_EQ(4, pread(d->fd, &v, 4, bar + 0x100));
	ASSERT_EQ(0xdeadbeef, v);
	ASSERT_EQ(-1, pread(d->fd, &v, 4, bar + 4096));
	ASSERT_EQ(-1, pread(d->fd, &v, 4, bar + 4094));	/* crosses the end */
	ASSERT_EQ(3, pread(d->fd, &v, 3, bar + 0x100));
	/* QEMU reads the whole config space in one go */
	{
		uint8_t cfg[256];

		ASSERT_EQ(256, pread(d->fd, cfg, 256,
				     IDX(VFIO_PCI_CONFIG_REGION_INDEX)));
		ASSERT_EQ(0xe5, cfg[0]);
		ASSERT_EQ(0x1d, cfg[1]);
		ASSERT_EQ(0x06, cfg[4]);
		ASSERT_EQ(-1, pread(d->fd, cfg, 256,
				    IDX(VFIO_PCI_CONFIG_REGION_INDEX) + 1));
		/* and may write it back whole: read-only parts stay */
		memset(cfg, 0, sizeof(cfg));
		ASSERT_EQ(256, pwrite(d->fd, cfg, 256,
				      IDX(VFIO_PCI_CONFIG_REGION_INDEX)));
		ASSERT_EQ(0x4d561de5, cfg_read32(d, 0));
		ASSERT_EQ(0, cfg_read32(d, 4) & 0xffff);
		cmd = 0x6;
		ASSERT_EQ(2, pwrite(d->fd, &cmd, 2,
				    IDX(VFIO_PCI_CONFIG_REGION_INDEX) + 4));
	}
	/* reset: command cleared, BAR memory cleared */
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(0, cfg_read32(d, 4) & 0xffff);
	ASSERT_EQ(4, pread(d->fd, &v, 4, bar + 0x100));
	ASSERT_EQ(0, v);
}

TEST_MAIN()
