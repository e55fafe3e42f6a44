// SPDX-License-Identifier: GPL-2.0
/*
 * pci - the vfio-pci face QEMU needs: device/region/irq info, config
 * space (PCI Express and MSI-X capabilities, INTx pin), BAR0 (carried in
 * the migration stream), BAR2 (MSI-X table, PBA), INTx and MSI-X eventfds
 * through VFIO_DEVICE_SET_IRQS, reset, and bare_pci (the original face).
 */
#include "harness.h"
#include "vfio_dev.h"

#include <fcntl.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
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
	ri.index = VFIO_PCI_BAR2_REGION_INDEX;	/* MSI-X table and PBA */
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(4096, ri.size);
	ri.index = VFIO_PCI_BAR1_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(0, ri.size);
	ri.index = VFIO_PCI_NUM_REGIONS;
	ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));

	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(1, ii.count);
	ASSERT_TRUE(ii.flags & VFIO_IRQ_INFO_MASKABLE);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(8, ii.count);
	ASSERT_TRUE(ii.flags & VFIO_IRQ_INFO_EVENTFD);
	ii.index = VFIO_PCI_MSI_IRQ_INDEX;
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

static uint8_t cfg_read8(struct vfio_dev *d, unsigned int off)
{
	uint8_t v = 0;

	ASSERT_EQ(1, pread(d->fd, &v, 1, IDX(VFIO_PCI_CONFIG_REGION_INDEX) +
			   off));
	return v;
}

static uint16_t cfg_read16(struct vfio_dev *d, unsigned int off)
{
	return cfg_read32(d, off & ~3u) >> (8 * (off & 2));
}

/* Offset of capability @id in the list, 0 if absent. */
static unsigned int find_cap(struct vfio_dev *d, uint8_t id)
{
	unsigned int pos = cfg_read8(d, PCI_CAPABILITY_LIST), n = 0;

	if (!(cfg_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	while (pos && n++ < 48) {
		if (cfg_read8(d, pos) == id)
			return pos;
		pos = cfg_read8(d, pos + 1);
	}
	return 0;
}

TEST(capabilities_and_intx_pin)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	unsigned int exp, msix;
	uint32_t v;
	uint16_t ctl;

	mvt_require();
	mvt_create("cx7", u);
	d = mvt_open(u);
	ASSERT_EQ(1, cfg_read8(d, PCI_INTERRUPT_PIN));	/* INTA# */
	exp = find_cap(d, PCI_CAP_ID_EXP);
	ASSERT_NE(0, exp);
	ASSERT_EQ(2, cfg_read16(d, exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_VERS);
	ASSERT_EQ(PCI_EXP_TYPE_ENDPOINT,
		  (cfg_read16(d, exp + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4);
	ASSERT_TRUE(cfg_read32(d, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
	msix = find_cap(d, PCI_CAP_ID_MSIX);
	ASSERT_NE(0, msix);
	ctl = cfg_read16(d, msix + PCI_MSIX_FLAGS);
	ASSERT_EQ(7, ctl & PCI_MSIX_FLAGS_QSIZE);	/* 8 vectors */
	ASSERT_EQ(2, cfg_read32(d, msix + PCI_MSIX_TABLE) & PCI_MSIX_TABLE_BIR);
	ASSERT_EQ(2, cfg_read32(d, msix + PCI_MSIX_PBA) & PCI_MSIX_PBA_BIR);
	ASSERT_LE((cfg_read32(d, msix + PCI_MSIX_TABLE) & ~7u) + 8 * 16, 4096);
	ASSERT_LT(cfg_read32(d, msix + PCI_MSIX_PBA) & ~7u, 4096);
	/* MSI-X enable and function mask are writable, the size is not */
	ctl = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 0x3;
	ASSERT_EQ(2, pwrite(d->fd, &ctl, 2, IDX(VFIO_PCI_CONFIG_REGION_INDEX) +
			    msix + PCI_MSIX_FLAGS));
	ASSERT_EQ(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 7,
		  cfg_read16(d, msix + PCI_MSIX_FLAGS));
	/* BAR2 sizes as 4 KiB */
	v = 0xffffffff;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4,
			    IDX(VFIO_PCI_CONFIG_REGION_INDEX) + 0x18));
	ASSERT_EQ(0xfffff000, cfg_read32(d, 0x18));
	/* the MSI-X table is memory, the PBA reads as nothing pending */
	v = 0x12345678;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4, IDX(VFIO_PCI_BAR2_REGION_INDEX) + 16));
	v = 0;
	ASSERT_EQ(4, pread(d->fd, &v, 4, IDX(VFIO_PCI_BAR2_REGION_INDEX) + 16));
	ASSERT_EQ(0x12345678, v);
	v = ~0u;
	ASSERT_EQ(4, pwrite(d->fd, &v, 4, IDX(VFIO_PCI_BAR2_REGION_INDEX) +
			    (cfg_read32(d, msix + PCI_MSIX_PBA) & ~7u)));
	ASSERT_EQ(4, pread(d->fd, &v, 4, IDX(VFIO_PCI_BAR2_REGION_INDEX) +
			   (cfg_read32(d, msix + PCI_MSIX_PBA) & ~7u)));
	ASSERT_EQ(0, v);
	/* reset: MSI-X disabled again */
	ASSERT_EQ(0, vfio_dev_reset(d));
	ASSERT_EQ(7, cfg_read16(d, msix + PCI_MSIX_FLAGS));
}

static int set_irqs(struct vfio_dev *d, unsigned int index, uint32_t flags,
		    unsigned int start, unsigned int count, const void *data,
		    size_t len)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + 64];
	struct vfio_irq_set *s = (void *)buf;

	memset(buf, 0, sizeof(buf));
	s->argsz = sizeof(*s) + len;
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (len)
		memcpy(s->data, data, len);
	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s) ? -errno : 0;
}

static int fired(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 0) != 1)
		return 0;
	ASSERT_EQ(8, read(efd, &v, 8));
	return (int)v;
}

TEST(msix_vectors_signal_eventfds)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int32_t fds[8];
	uint8_t on[8] = { 0 };

	mvt_require();
	mvt_create("cx7", u);
	d = mvt_open(u);
	for (int i = 0; i < 8; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_GE(fds[i], 0);
	}
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_EVENTFD |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 8, fds,
			      sizeof(fds)));
	/* loopback trigger of vector 3 only */
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 3, 1, NULL, 0));
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(i == 3, fired(fds[i]));
	on[1] = on[6] = 1;
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_BOOL |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 8, on, 8));
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(i == 1 || i == 6, fired(fds[i]));
	/* out of range, masking (not offered for MSI-X), MSI: refused */
	ASSERT_EQ(-EINVAL, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
				    VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, 7, 2, NULL, 0));
	ASSERT_EQ(-EINVAL, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
				    VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_MASK, 0, 1, NULL, 0));
	ASSERT_EQ(-EINVAL, set_irqs(d, VFIO_PCI_MSI_IRQ_INDEX,
				    VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0));
	/* disable all: a trigger signals nothing */
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL, 0));
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_MSIX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 3, 1, NULL, 0));
	ASSERT_EQ(0, fired(fds[3]));
	for (int i = 0; i < 8; i++)
		close(fds[i]);
}

TEST(intx_eventfd_mask_unmask)
{
	char u[MOCKVF_UUID_LEN];
	struct vfio_dev *d;
	int32_t fd;

	mvt_require();
	mvt_create("tiny", u);
	d = mvt_open(u);
	fd = eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_EVENTFD |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &fd, 4));
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0));
	ASSERT_EQ(1, fired(fd));
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_MASK, 0, 1, NULL, 0));
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0));
	ASSERT_EQ(0, fired(fd));		/* masked */
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, NULL, 0));
	ASSERT_EQ(0, set_irqs(d, VFIO_PCI_INTX_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_NONE |
			      VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0));
	ASSERT_EQ(1, fired(fd));
	close(fd);
}

/* BAR0 registers written on the source are there on the destination. */
static void bar0_migrates(const char *resume_strict)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	struct vfio_dev *src, *dst;
	uint8_t a[4096], b[4096];

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(ud, "resume_strict", resume_strict);
	src = mvt_open(us);
	dst = mvt_open(ud);
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7 + 3);
	ASSERT_EQ(4096, pwrite(src->fd, a, 4096,
			       IDX(VFIO_PCI_BAR0_REGION_INDEX)));
	mvt_migrate(src, dst, 1, dg);
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	ASSERT_EQ(4096, pread(dst->fd, b, 4096,
			      IDX(VFIO_PCI_BAR0_REGION_INDEX)));
	ASSERT_EQ(0, memcmp(a, b, sizeof(a)));
}

TEST(bar0_in_stream_strict) { bar0_migrates("1"); }
TEST(bar0_in_stream_mlx5) { bar0_migrates("0"); }

/* bare_pci=1: the original face (no capabilities, no INTx, no MSI-X). */
TEST(bare_pci_knob)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dg[17];
	struct vfio_dev *d, *dst;
	uint32_t v = 0xfeedf00d;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	ASSERT_STREQ("0", mvt_attr(us, "bare_pci"));
	EXPECT_EQ(-EINVAL, mockvf_attr_write(us, "bare_pci", "2"));
	mvt_set(us, "bare_pci", "1");
	mvt_set(ud, "bare_pci", "1");
	d = mvt_open(us);
	EXPECT_EQ(-EBUSY, mockvf_attr_write(us, "bare_pci", "0"));
	ASSERT_EQ(0, cfg_read8(d, PCI_INTERRUPT_PIN));
	ASSERT_EQ(0, find_cap(d, PCI_CAP_ID_MSIX));
	ASSERT_EQ(0, cfg_read32(d, 0x18));
	ri.index = VFIO_PCI_BAR2_REGION_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	ASSERT_EQ(0, ri.size);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(0, ii.count);
	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	ASSERT_EQ(0, ii.count);
	/* BAR0 is not carried: the destination's stays 0 */
	ASSERT_EQ(4, pwrite(d->fd, &v, 4, IDX(VFIO_PCI_BAR0_REGION_INDEX)));
	dst = mvt_open(ud);
	mvt_migrate(d, dst, 0, dg);
	ASSERT_STREQ(dg, mvt_attr(ud, "digest"));
	v = 1;
	ASSERT_EQ(4, pread(dst->fd, &v, 4, IDX(VFIO_PCI_BAR0_REGION_INDEX)));
	ASSERT_EQ(0, v);
}

TEST_MAIN()
