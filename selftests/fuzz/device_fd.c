// SPDX-License-Identifier: GPL-2.0
/*
 * device_fd - random I/O and ioctls on the mockvf device fd (the vfio-pci
 * face): pread/pwrite at random region indexes, offsets and sizes,
 * GET_INFO / GET_REGION_INFO / GET_IRQ_INFO / SET_IRQS / RESET and
 * VFIO_DEVICE_FEATURE with random argsz, flags, indexes, payloads and bad
 * pointers.  Accesses of any non-zero size that lie wholly inside the
 * config space or BAR0 must succeed (QEMU reads the config space in one
 * go), everything else must fail; the identity of the
 * device (vendor/device ids) never changes; every call returns promptly;
 * afterwards the device still migrates with an equal digest and no
 * reference (eventfds included) is left.
 */
#include "fuzz.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define ITERS 100000
#define CAP_S 8.0
#define PROMPT_S 5.0
#define CFG_SIZE 256
#define BAR0_SIZE 4096
#define BAR2_SIZE 4096	/* MSI-X table and PBA */

static char uuid[MOCKVF_UUID_LEN];
static struct vfio_dev dev;
static int created, opened;

static void put_dev(void *p)
{
	(void)p;
	if (opened)
		vfio_dev_close(&dev);
	opened = 0;
	if (created)
		fuzz_remove_dev(strdup(uuid));
	created = 0;
}

static uint64_t region_off(unsigned index)
{
	return (uint64_t)index << 40;	/* VFIO_PCI_INDEX_TO_OFFSET */
}

/* Whether an access of @count at region @index offset @off is valid. */
static int access_ok_(unsigned index, uint64_t off, size_t count)
{
	uint64_t size = index == VFIO_PCI_CONFIG_REGION_INDEX ? CFG_SIZE :
			index == VFIO_PCI_BAR0_REGION_INDEX ? BAR0_SIZE :
			index == VFIO_PCI_BAR2_REGION_INDEX ? BAR2_SIZE : 0;

	if (!count)
		return 0;
	return off < size && count <= size - off;
}

static unsigned n_rw_ok, n_rw_err, n_ioctl_ok, n_ioctl_err, n_slow;

static void do_rw(struct frng *g)
{
	static const unsigned idx[] = {
		VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_BAR0_REGION_INDEX,
	};
	unsigned index = frng_one_in(g, 5) ? frng_below(g, 16) :
			 idx[frng_below(g, 2)];
	uint64_t off = frng_one_in(g, 6) ? frng_next(g) & ((1ULL << 40) - 1) :
		       frng_below(g, index == VFIO_PCI_CONFIG_REGION_INDEX ?
					 CFG_SIZE + 16 : BAR0_SIZE + 16);
	size_t count = frng_one_in(g, 5) ? frng_below(g, 70) :
		       (size_t)1 << frng_below(g, 4);
	uint8_t buf[80];
	int wr = frng_one_in(g, 3), ok = access_ok_(index, off, count);
	ssize_t n;

	/* config writes: leave the id registers to the check below */
	frng_fill(g, buf, sizeof(buf));
	n = wr ? pwrite(dev.fd, buf, count, region_off(index) + off)
	       : pread(dev.fd, buf, count, region_off(index) + off);
	if (n >= 0)
		n_rw_ok++;
	else
		n_rw_err++;
	if (count == 0)
		return;		/* the VFS answers 0 without the driver */
	if (ok && n != (ssize_t)count)
		mt_fail_here(__FILE__, __LINE__,
			     "%s region %u off %#llx count %zu: %zd (%s)",
			     wr ? "write" : "read", index,
			     (unsigned long long)off, count, n,
			     strerror(errno));
	if (!ok && n >= 0)
		mt_fail_here(__FILE__, __LINE__,
			     "%s region %u off %#llx count %zu accepted",
			     wr ? "write" : "read", index,
			     (unsigned long long)off, count);
}

static void do_ioctl(struct frng *g, int efd)
{
	union {
		struct vfio_device_info info;
		struct vfio_region_info reg;
		struct vfio_irq_info irq;
		struct vfio_irq_set set;
		struct vfio_device_feature feat;
		uint8_t raw[256];
	} u;
	unsigned k = frng_below(g, 7);
	unsigned long cmd;
	void *arg = &u;
	int r;

	frng_fill(g, &u, sizeof(u));
	if (frng_one_in(g, 2))
		u.info.argsz = frng_one_in(g, 3) ? (uint32_t)frng_next(g) :
			       (uint32_t)frng_below(g, 64);
	switch (k) {
	case 0:
		cmd = VFIO_DEVICE_GET_INFO;
		break;
	case 1:
		cmd = VFIO_DEVICE_GET_REGION_INFO;
		u.reg.index = frng_below(g, 12);
		break;
	case 2:
		cmd = VFIO_DEVICE_GET_IRQ_INFO;
		u.irq.index = frng_below(g, 8);
		break;
	case 3:
		cmd = VFIO_DEVICE_SET_IRQS;
		u.set.argsz = sizeof(u.set) + 4 * frng_below(g, 3);
		u.set.index = frng_one_in(g, 2) ? VFIO_PCI_REQ_IRQ_INDEX :
			      frng_below(g, 8);
		u.set.start = frng_one_in(g, 2) ? 0 : frng_below(g, 4);
		u.set.count = frng_below(g, 3);
		u.set.flags = frng_one_in(g, 3) ? (uint32_t)frng_next(g) :
			(frng_one_in(g, 2) ? VFIO_IRQ_SET_DATA_EVENTFD :
			 frng_one_in(g, 2) ? VFIO_IRQ_SET_DATA_NONE :
					     VFIO_IRQ_SET_DATA_BOOL) |
			VFIO_IRQ_SET_ACTION_TRIGGER;
		{
			int32_t fds[] = { efd, -1, dev.group, 100000 };
			int32_t fd = fds[frng_below(g, 4)];

			memcpy(u.raw + sizeof(u.set), &fd, sizeof(fd));
		}
		break;
	case 4:
		cmd = VFIO_DEVICE_FEATURE;
		u.feat.argsz = frng_one_in(g, 2) ? sizeof(u.feat) +
			frng_below(g, 64) : (uint32_t)frng_below(g, 300);
		u.feat.flags = (uint32_t)frng_below(g, 16) |
			       (frng_one_in(g, 4) ? (uint32_t)frng_next(g) &
			       ~0xffffu : (uint32_t)frng_below(g, 8) << 16);
		/* no state changes from here: those are state_requests' */
		if ((u.feat.flags & 0xffff) == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE &&
		    (u.feat.flags & VFIO_DEVICE_FEATURE_SET))
			u.feat.flags &= ~VFIO_DEVICE_FEATURE_SET;
		break;
	case 5:
		cmd = VFIO_DEVICE_RESET;
		break;
	default:	/* unknown commands of the VFIO range */
		cmd = _IO(VFIO_TYPE, VFIO_BASE + 30 + frng_below(g, 40));
		if (cmd == VFIO_DEVICE_FEATURE)
			cmd = VFIO_DEVICE_GET_INFO;
		break;
	}
	if (frng_one_in(g, 10))
		arg = frng_one_in(g, 2) ? NULL : (void *)(uintptr_t)16;
	r = ioctl(dev.fd, cmd, arg);
	if (r >= 0)
		n_ioctl_ok++;
	else
		n_ioctl_err++;
	if (arg != &u && cmd != VFIO_DEVICE_RESET)
		EXPECT_EQ(-1, r);	/* bad pointer: EFAULT or refused */
}

static uint32_t cfg_ids(void)
{
	uint32_t v = 0;

	EXPECT_EQ(4, pread(dev.fd, &v, 4,
			       region_off(VFIO_PCI_CONFIG_REGION_INDEX)));
	return v;
}

TEST_TIMEOUT(device_fd, 90)
{
	struct fuzz_budget bud;
	struct frng g;
	struct mbuf b = { 0 };
	uint32_t ids;
	uint64_t dig;
	unsigned it;
	long ref0;
	int efd, fd;

	frng_init(&g, fuzz_seed("device_fd"));
	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	ASSERT_EQ(0, mockvf_create("tiny", uuid));
	created = 1;
	mt_defer(put_dev, NULL);
	ASSERT_EQ(0, vfio_dev_open(uuid, &dev));
	opened = 1;
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ids = cfg_ids();
	ASSERT_NE(0, ids);
	ASSERT_NE(0, ids & 0xffff);		/* a vendor id */
	ASSERT_NE(0xffff, ids & 0xffff);

	fuzz_budget_init(&bud, ITERS, CAP_S);
	for (it = 0; fuzz_budget_more(&bud, it, "device_fd"); it++) {
		double t0 = fuzz_now();

		if (frng_one_in(&g, 3))
			do_ioctl(&g, efd);
		else
			do_rw(&g);
		if (fuzz_now() - t0 > PROMPT_S && n_slow++ < 5)
			mt_fail_here(__FILE__, __LINE__, "iteration %u took %.2f s",
				     it, fuzz_now() - t0);
	}
	mt_log("%u iterations in %.1f s: rw %u ok / %u refused, ioctl %u ok / %u refused",
	       it, fuzz_now() - bud.t0, n_rw_ok, n_rw_err, n_ioctl_ok,
	       n_ioctl_err);
	ASSERT_GT(n_rw_ok, 0);
	ASSERT_GT(n_ioctl_ok, 0);
	ASSERT_EQ(ids, cfg_ids());

	/* still a migratable device */
	ASSERT_EQ(0, vfio_dev_reset(&dev));
	fuzz_expect_running(&dev);
	ASSERT_EQ(0, vfio_dev_set_state(&dev, MT_STOP_COPY, &fd));
	dig = fuzz_digest(uuid);
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(&dev));
	ASSERT_EQ(0, mockvf_attr_write(uuid, "reconfig", "1"));
	ASSERT_EQ(0, vfio_dev_set_state(&dev, MT_RESUMING, &fd));
	ASSERT_EQ(0, vfio_write_all(fd, b.p, b.len, 4096));
	ASSERT_EQ(0, vfio_dev_set_state(&dev, MT_RUNNING, NULL));
	close(fd);
	ASSERT_EQ(dig, fuzz_digest(uuid));
	mbuf_free(&b);

	/* the eventfd (maybe still the REQ trigger) goes with the device */
	close(efd);
	put_dev(NULL);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
}

FUZZ_TIMEOUT(device_fd, 90)

TEST_MAIN()
