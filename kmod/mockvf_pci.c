// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_pci.c - the vfio-pci face of the device: config space, BAR0,
 * GET_INFO / GET_REGION_INFO / GET_IRQ_INFO / SET_IRQS (REQ) / RESET and
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

void mockvf_pci_init(struct mockvf_dev *mv)
{
	u8 *c = mv->cfg;

	memset(c, 0, sizeof(mv->cfg));
	put_unaligned_le16(MOCKVF_VENDOR, c + PCI_VENDOR_ID);
	put_unaligned_le16(MOCKVF_DEVICE, c + PCI_DEVICE_ID);
	put_unaligned_le32(MOCKVF_CLASS << 8 | 0x01, c + PCI_CLASS_REVISION);
	c[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put_unaligned_le32(PCI_BASE_ADDRESS_SPACE_MEMORY,
			   c + PCI_BASE_ADDRESS_0);
	put_unaligned_le16(MOCKVF_VENDOR, c + PCI_SUBSYSTEM_VENDOR_ID);
	put_unaligned_le16(MOCKVF_DEVICE, c + PCI_SUBSYSTEM_ID);
	memset(mv->bar0, 0, sizeof(mv->bar0));
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
	memset(mv->bar0, 0, sizeof(mv->bar0));
	mutex_unlock(&mv->irq_lock);
}

static void cfg_write(struct mockvf_dev *mv, unsigned int off, u8 *val,
		      size_t count)
{
	u32 v;

	if (off >= PCI_COMMAND && off + count <= PCI_COMMAND + 2) {
		u16 cmd = get_unaligned_le16(mv->cfg + PCI_COMMAND);
		u8 *p = (u8 *)&cmd;

		memcpy(p + (off - PCI_COMMAND), val, count);
		cmd &= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
		       PCI_COMMAND_INTX_DISABLE;
		put_unaligned_le16(cmd, mv->cfg + PCI_COMMAND);
	} else if (off == PCI_BASE_ADDRESS_0 && count == 4) {
		v = get_unaligned_le32(val);
		v = (v & ~(MOCKVF_BAR0_SIZE - 1)) |
		    PCI_BASE_ADDRESS_SPACE_MEMORY;
		put_unaligned_le32(v, mv->cfg + PCI_BASE_ADDRESS_0);
	} else if (off == PCI_INTERRUPT_LINE && count == 1) {
		mv->cfg[PCI_INTERRUPT_LINE] = val[0];
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
			n = (off + i == PCI_BASE_ADDRESS_0 && count - i >= 4) ?
			    4 : 1;
			left = copy_from_user(val, ubuf + i, n);
			if (!left)
				cfg_write(mv, off + i, val, n);
		}
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
	}
	if (info.size)
		info.flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static int mockvf_irq_info(unsigned long arg)
{
	struct vfio_irq_info info;
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info.flags = 0;
	info.count = 0;
	if (info.index == VFIO_PCI_REQ_IRQ_INDEX) {
		info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
		info.count = 1;
	}
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

void mockvf_irq_release(struct mockvf_dev *mv)
{
	mutex_lock(&mv->irq_lock);
	if (mv->req_trigger)
		eventfd_ctx_put(mv->req_trigger);
	mv->req_trigger = NULL;
	mutex_unlock(&mv->irq_lock);
}

/* SET_IRQS: only the REQ index (eventfd, trigger, or none to disable). */
static int mockvf_set_irqs(struct mockvf_dev *mv, unsigned long arg)
{
	struct vfio_irq_set hdr;
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	size_t data_size = 0;
	struct eventfd_ctx *ctx;
	s32 fd;
	int ret;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr,
			hdr.index == VFIO_PCI_REQ_IRQ_INDEX ? 1 : 0,
			VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	if (hdr.index != VFIO_PCI_REQ_IRQ_INDEX)
		return -EINVAL;
	if (!(hdr.flags & VFIO_IRQ_SET_ACTION_TRIGGER))
		return -EINVAL;

	if (hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
		if (!hdr.count)
			return -EINVAL;
		if (copy_from_user(&fd, (void __user *)(arg + minsz),
				   sizeof(fd)))
			return -EFAULT;
		ctx = NULL;
		if (fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
		mutex_lock(&mv->irq_lock);
		if (mv->req_trigger)
			eventfd_ctx_put(mv->req_trigger);
		mv->req_trigger = ctx;
		mutex_unlock(&mv->irq_lock);
		return 0;
	}
	if (!hdr.count) {	/* DATA_NONE, count 0: disable */
		mockvf_irq_release(mv);
		return 0;
	}
	if (hdr.flags & VFIO_IRQ_SET_DATA_BOOL) {
		u8 trigger;

		if (copy_from_user(&trigger, (void __user *)(arg + minsz),
				   sizeof(trigger)))
			return -EFAULT;
		if (!trigger)
			return 0;
	}
	mutex_lock(&mv->irq_lock);
	if (mv->req_trigger)
		eventfd_signal(mv->req_trigger);
	mutex_unlock(&mv->irq_lock);
	return 0;
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
		return mockvf_irq_info(arg);
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
