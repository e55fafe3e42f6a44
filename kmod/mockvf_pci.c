// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_pci.c - the vfio-pci face of the device: config space (PCI
 * Express and MSI-X capabilities, INTx pin), BAR0 (registers, carried in
 * the migration stream), BAR2 (MSI-X table and PBA), GET_INFO /
 * GET_REGION_INFO / GET_IRQ_INFO / SET_IRQS (INTx, MSI-X, REQ) / RESET and
 * the .request callback.
 */
#include <linux/eventfd.h>
#include <linux/pci_regs.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/vfio_pci_core.h>

#include "mockvf.h"

#define MOCKVF_VENDOR	0x1de5	/* test-only ids, never on real hardware */
#define MOCKVF_DEVICE	0x4d56
#define MOCKVF_CLASS	0x020000	/* Ethernet controller */

/* Capability layout (not bare_pci) */
#define MOCKVF_CAP_EXP		0x40	/* PCI Express v2, endpoint */
#define MOCKVF_CAP_MSIX		0x80
#define MOCKVF_MSIX_BIR		2	/* table and PBA in BAR2 */
#define MOCKVF_MSIX_TABLE	0x000
#define MOCKVF_MSIX_PBA		0x800

static void wmask16(struct mockvf_dev *mv, unsigned int off, u16 mask)
{
	put_unaligned_le16(mask, mv->cfg_wmask + off);
}

/**
 * mockvf_pci_init() - build config space for the device's PCI face.
 * @mv: device
 *
 * Type 0 header; BAR0 (registers) and, unless bare_pci, BAR2 (MSI-X table
 * and PBA), a PCI Express endpoint capability, MSI-X with
 * MOCKVF_MSIX_VECTORS vectors and INTx pin A.  Also clears BAR0/BAR2.
 * Context: no user of the device (init, or bare_pci changed while closed).
 */
void mockvf_pci_init(struct mockvf_dev *mv)
{
	bool bare = mockvf_compat(mv, MOCKVF_C_BARE_PCI);
	u8 *c = mv->cfg, *x;

	memset(c, 0, sizeof(mv->cfg));
	memset(mv->cfg_wmask, 0, sizeof(mv->cfg_wmask));
	put_unaligned_le16(MOCKVF_VENDOR, c + PCI_VENDOR_ID);
	put_unaligned_le16(MOCKVF_DEVICE, c + PCI_DEVICE_ID);
	put_unaligned_le32(MOCKVF_CLASS << 8 | 0x01, c + PCI_CLASS_REVISION);
	c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put_unaligned_le32(PCI_BASE_ADDRESS_SPACE_MEMORY,
			   c + PCI_BASE_ADDRESS_0);
	put_unaligned_le16(MOCKVF_VENDOR, c + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(MOCKVF_DEVICE, c + PCI_SUBSYSTEM_ID);
	wmask16(mv, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
		PCI_COMMAND_INTX_DISABLE);
	mv->cfg_wmask[PCI_INTERRUPT_LINE] = 0xff;
	memset(mv->bar0, 0, sizeof(mv->bar0));
	memset(mv->bar2, 0, sizeof(mv->bar2));
	if (bare)
		return;

	put_unaligned_le32(PCI_BASE_ADDRESS_SPACE_MEMORY,
			   c + PCI_BASE_ADDRESS_2);
	put_unaligned_le16(PCI_STATUS_CAP_LIST, c + PCI_STATUS);
	c[PCI_CAPABILITY_LIST] = MOCKVF_CAP_EXP;
	c[PCI_INTERRUPT_PIN] = 1;	/* INTA# */

	x = c + MOCKVF_CAP_EXP;
	x[PCI_CAP_LIST_ID] = PCI_CAP_ID_EXP;
	x[PCI_CAP_LIST_NEXT] = MOCKVF_CAP_MSIX;
	put_unaligned_le16(2 | PCI_EXP_TYPE_ENDPOINT << 4, x + PCI_EXP_FLAGS);
	put_unaligned_le32(PCI_EXP_DEVCAP_FLR, x + PCI_EXP_DEVCAP);
	wmask16(mv, MOCKVF_CAP_EXP + PCI_EXP_DEVCTL, 0x7fff);
	/* 16 GT/s x16, as a ConnectX-7 */
	put_unaligned_le32(PCI_EXP_LNKCAP_SLS_16_0GB | 16 << 4,
			   x + PCI_EXP_LNKCAP);
	put_unaligned_le16(PCI_EXP_LNKSTA_CLS_16_0GB | 16 << 4,
			   x + PCI_EXP_LNKSTA);

	x = c + MOCKVF_CAP_MSIX;
	x[PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	put_unaligned_le16(MOCKVF_MSIX_VECTORS - 1, x + PCI_MSIX_FLAGS);
	wmask16(mv, MOCKVF_CAP_MSIX + PCI_MSIX_FLAGS,
		PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	put_unaligned_le32(MOCKVF_MSIX_TABLE | MOCKVF_MSIX_BIR,
			   x + PCI_MSIX_TABLE);
	put_unaligned_le32(MOCKVF_MSIX_PBA | MOCKVF_MSIX_BIR, x + PCI_MSIX_PBA);
}

/**
 * mockvf_pci_reset() - function level reset of the PCI face (the migration
 * state is separate).
 * @mv: device
 *
 * Under irq_lock like every region access, so a reader sees the config
 * space and BAR0 either before or after the reset, never half reset.
 */
void mockvf_pci_reset(struct mockvf_dev *mv)
{
	mutex_lock(&mv->irq_lock);
	put_unaligned_le16(0, mv->cfg + PCI_COMMAND);
	if (!mockvf_compat(mv, MOCKVF_C_BARE_PCI))
		put_unaligned_le16(MOCKVF_MSIX_VECTORS - 1,
				   mv->cfg + MOCKVF_CAP_MSIX + PCI_MSIX_FLAGS);
	memset(mv->bar0, 0, sizeof(mv->bar0));
	memset(mv->bar2, 0, sizeof(mv->bar2));
	mutex_unlock(&mv->irq_lock);
}

/* mockvf_pci_bar0_save() - copy the BAR0 registers (for the stream). */
void mockvf_pci_bar0_save(struct mockvf_dev *mv, u8 *buf)
{
	mutex_lock(&mv->irq_lock);
	memcpy(buf, mv->bar0, MOCKVF_BAR0_SIZE);
	mutex_unlock(&mv->irq_lock);
}

/* mockvf_pci_bar0_load() - restore the BAR0 registers from a stream. */
void mockvf_pci_bar0_load(struct mockvf_dev *mv, const u8 *buf)
{
	mutex_lock(&mv->irq_lock);
	memcpy(mv->bar0, buf, MOCKVF_BAR0_SIZE);
	mutex_unlock(&mv->irq_lock);
}

static void bar_write(struct mockvf_dev *mv, unsigned int off, u32 v,
		      u32 size)
{
	v = (v & ~(size - 1)) | PCI_BASE_ADDRESS_SPACE_MEMORY;
	put_unaligned_le32(v, mv->cfg + off);
}

/* Context: irq_lock held.  @count is 4 for a BAR, else 1. */
static void cfg_write(struct mockvf_dev *mv, unsigned int off, u8 *val,
		      size_t count)
{
	u8 m;

	lockdep_assert_held(&mv->irq_lock);
	if (off == PCI_BASE_ADDRESS_0 && count == 4) {
		bar_write(mv, off, get_unaligned_le32(val), MOCKVF_BAR0_SIZE);
	} else if (off == PCI_BASE_ADDRESS_2 && count == 4) {
		/* BAR2 does not exist on the bare face: it stays 0 */
		if (!mockvf_compat(mv, MOCKVF_C_BARE_PCI))
			bar_write(mv, off, get_unaligned_le32(val),
				  MOCKVF_BAR2_SIZE);
	} else if (count == 1) {
		m = mv->cfg_wmask[off];
		mv->cfg[off] = (mv->cfg[off] & ~m) | (val[0] & m);
	}
	/* everything else is read-only */
}

/*
 * Region access of any size within the region (QEMU reads the whole config
 * space at once).  Config writes are applied per register.
 */
static ssize_t mockvf_rw(struct mockvf_dev *mv, char __user *ubuf,
			 size_t count, loff_t *ppos, bool write)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;
	size_t size, i, n;
	unsigned long left;
	u8 val[4];
	u8 *base;

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		base = mv->cfg;
		size = MOCKVF_CFG_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		base = mv->bar0;
		size = MOCKVF_BAR0_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		if (mockvf_compat(mv, MOCKVF_C_BARE_PCI))
			return -EINVAL;
		base = mv->bar2;
		size = MOCKVF_BAR2_SIZE;
		break;
	default:
		return -EINVAL;
	}
	if (!count || off >= size || count > size - off)
		return -EINVAL;

	left = 0;
	mutex_lock(&mv->irq_lock);
	if (!write) {
		left = copy_to_user(ubuf, base + off, count);
	} else if (base == mv->cfg) {
		for (i = 0; i < count && !left; i += n) {
			n = (off + i == PCI_BASE_ADDRESS_0 ||
			     off + i == PCI_BASE_ADDRESS_2) && count - i >= 4 ?
			    4 : 1;
			left = copy_from_user(val, ubuf + i, n);
			if (!left)
				cfg_write(mv, off + i, val, n);
		}
	} else if (base == mv->bar2 && off + count > MOCKVF_MSIX_PBA) {
		/* the PBA is read-only: nothing is ever pending */
		if (off < MOCKVF_MSIX_PBA)
			left = copy_from_user(base + off, ubuf,
					      MOCKVF_MSIX_PBA - off);
	} else {
		left = copy_from_user(base + off, ubuf, count);
	}
	mutex_unlock(&mv->irq_lock);
	if (left)
		return -EFAULT;
	*ppos += count;
	return count;
}

ssize_t mockvf_read(struct vfio_device *vdev, char __user *buf,
		    size_t count, loff_t *ppos)
{
	return mockvf_rw(vdev_to_mv(vdev), buf, count, ppos, false);
}

ssize_t mockvf_write(struct vfio_device *vdev, const char __user *buf,
		     size_t count, loff_t *ppos)
{
	return mockvf_rw(vdev_to_mv(vdev), (char __user *)buf, count, ppos,
			 true);
}

static int mockvf_region_info(struct mockvf_dev *mv, unsigned long arg)
{
	struct vfio_region_info info;
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
	info.cap_offset = 0;
	info.flags = 0;
	info.size = 0;
	switch (info.index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info.size = MOCKVF_CFG_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		info.size = MOCKVF_BAR0_SIZE;
		break;
	case VFIO_PCI_BAR2_REGION_INDEX:
		if (!mockvf_compat(mv, MOCKVF_C_BARE_PCI))
			info.size = MOCKVF_BAR2_SIZE;
		break;
	}
	if (info.size)
		info.flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

/* Vectors of IRQ index @index (0: none). */
static u32 mockvf_irq_count(struct mockvf_dev *mv, unsigned int index)
{
	bool bare = mockvf_compat(mv, MOCKVF_C_BARE_PCI);

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return bare ? 0 : 1;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return bare ? 0 : MOCKVF_MSIX_VECTORS;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	}
	return 0;
}

static int mockvf_irq_info(struct mockvf_dev *mv, unsigned long arg)
{
	struct vfio_irq_info info;
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info.count = mockvf_irq_count(mv, info.index);
	info.flags = 0;
	if (info.count)
		info.flags = VFIO_IRQ_INFO_EVENTFD;
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX && info.count)
		info.flags |= VFIO_IRQ_INFO_MASKABLE |
			      VFIO_IRQ_INFO_AUTOMASKED;
	else if (info.count)
		info.flags |= VFIO_IRQ_INFO_NORESIZE;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static void put_ctx(struct eventfd_ctx **ctx)
{
	if (*ctx)
		eventfd_ctx_put(*ctx);
	*ctx = NULL;
}

void mockvf_irq_release(struct mockvf_dev *mv)
{
	unsigned int i;

	mutex_lock(&mv->irq_lock);
	put_ctx(&mv->req_trigger);
	put_ctx(&mv->intx_trigger);
	for (i = 0; i < MOCKVF_MSIX_VECTORS; i++)
		put_ctx(&mv->msix_trigger[i]);
	mv->intx_masked = false;
	mutex_unlock(&mv->irq_lock);
}

/**
 * irq_trigger() - ACTION_TRIGGER on vectors [start, start + count) of
 * @ctxs: set or clear their eventfds, or signal them (loopback).
 * @mv: device
 * @ctxs: the index's eventfd slots
 * @nvec: how many slots @ctxs has
 * @hdr: validated SET_IRQS header
 * @data: its payload (s32 fds or u8 bools), NULL for DATA_NONE
 *
 * DATA_NONE with count 0 releases every vector of the index.  INTx is not
 * signalled while masked.
 * Context: irq_lock held.
 * Return: 0 or a negative errno (the eventfds set so far stay set).
 */
static int irq_trigger(struct mockvf_dev *mv, struct eventfd_ctx **ctxs,
		       u32 nvec, const struct vfio_irq_set *hdr,
		       const void *data)
{
	bool intx = hdr->index == VFIO_PCI_INTX_IRQ_INDEX;
	struct eventfd_ctx *ctx;
	u32 i;

	lockdep_assert_held(&mv->irq_lock);
	if ((hdr->flags & VFIO_IRQ_SET_DATA_NONE) && !hdr->count) {
		for (i = 0; i < nvec; i++)
			put_ctx(&ctxs[i]);
		return 0;
	}
	for (i = 0; i < hdr->count; i++) {
		struct eventfd_ctx **slot = &ctxs[hdr->start + i];

		if (hdr->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
			s32 fd = ((const s32 *)data)[i];

			ctx = NULL;
			if (fd >= 0) {
				ctx = eventfd_ctx_fdget(fd);
				if (IS_ERR(ctx))
					return PTR_ERR(ctx);
			}
			put_ctx(slot);
			*slot = ctx;
			continue;
		}
		if ((hdr->flags & VFIO_IRQ_SET_DATA_BOOL) &&
		    !((const u8 *)data)[i])
			continue;
		if (*slot && !(intx && mv->intx_masked))
			eventfd_signal(*slot);
	}
	return 0;
}

/*
 * SET_IRQS: INTx (trigger, mask, unmask), MSI-X (trigger; eventfds per
 * vector, loopback signalling) and REQ (trigger).
 */
static int mockvf_set_irqs(struct mockvf_dev *mv, unsigned long arg)
{
	struct vfio_irq_set hdr;
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	u32 action, nvec;
	size_t data_size = 0;
	void *data = NULL;
	int ret;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	nvec = hdr.index < VFIO_PCI_NUM_IRQS ?
	       mockvf_irq_count(mv, hdr.index) : 0;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, nvec,
						 VFIO_PCI_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;
	if (!nvec)
		return -EINVAL;
	action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER &&
	    hdr.index != VFIO_PCI_INTX_IRQ_INDEX)
		return -EINVAL;
	if (data_size) {
		data = memdup_user((void __user *)(arg + minsz), data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}
	if ((hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD) && !hdr.count) {
		ret = -EINVAL;
		goto out;
	}

	mutex_lock(&mv->irq_lock);
	switch (hdr.index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER) {
			ret = irq_trigger(mv, &mv->intx_trigger, 1, &hdr, data);
		} else if ((hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD)) {
			ret = -EINVAL;	/* no irqfd masking here */
		} else if (hdr.count &&
			   (!(hdr.flags & VFIO_IRQ_SET_DATA_BOOL) ||
			    *(u8 *)data)) {
			mv->intx_masked = action == VFIO_IRQ_SET_ACTION_MASK;
		}
		break;
	case VFIO_PCI_MSIX_IRQ_INDEX:
		ret = irq_trigger(mv, mv->msix_trigger, nvec, &hdr, data);
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		ret = irq_trigger(mv, &mv->req_trigger, 1, &hdr, data);
		break;
	default:
		ret = -EINVAL;
	}
	mutex_unlock(&mv->irq_lock);
out:
	kfree(data);
	return ret;
}

long mockvf_ioctl(struct vfio_device *vdev, unsigned int cmd,
		  unsigned long arg)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);
	struct vfio_device_info info;
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, (void __user *)arg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = VFIO_PCI_NUM_IRQS;
		return copy_to_user((void __user *)arg, &info, minsz) ?
		       -EFAULT : 0;
	case VFIO_DEVICE_GET_REGION_INFO:
		return mockvf_region_info(mv, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return mockvf_irq_info(mv, arg);
	case VFIO_DEVICE_SET_IRQS:
		return mockvf_set_irqs(mv, arg);
	case VFIO_DEVICE_RESET:
		mockvf_reset(mv);
		return 0;
	}
	return -ENOTTY;
}

/**
 * mockvf_request() - the core asks us to make the user release the device
 * (device removal while open).  Reset the device (its data_fds fail with
 * -ENODEV, so nothing stays blocked in them), then signal the REQ eventfd
 * if the user set one.
 * @vdev: device
 * @count: how many times the core asked
 */
void mockvf_request(struct vfio_device *vdev, unsigned int count)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	/*
	 * Reset before signalling: a user woken by the eventfd must already
	 * find its data_fds dead, not race the reset.
	 */
	mockvf_reset(mv);

	mutex_lock(&mv->irq_lock);
	if (mv->req_trigger) {
		if (!(count % 10))
			dev_notice_ratelimited(&mv->mdev->dev,
				"relaying device request to user (#%u)\n",
				count);
		eventfd_signal(mv->req_trigger);
	} else if (count == 0) {
		dev_notice(&mv->mdev->dev,
			   "no device request channel, removal waits for the user to close the device\n");
	}
	mutex_unlock(&mv->irq_lock);
}
