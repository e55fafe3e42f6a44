// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_main.c - mdev parent, profiles, device life cycle, module init.
 *
 * mockvf registers an mdev parent "mockvf" whose types are profiles.  Each
 * mdev is a VFIO device (device_api vfio-pci) with migration uAPI v2,
 * registered through vfio_register_emulated_iommu_dev().
 */
#include <linux/device.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <linux/vmalloc.h>

#include "mockvf.h"

static unsigned int max_instances = 64;
module_param(max_instances, uint, 0444);
MODULE_PARM_DESC(max_instances, "instances available across all profiles");

struct workqueue_struct *mockvf_wq;

const char *const mockvf_state_names[MOCKVF_NR_STATES] = {
	[VFIO_DEVICE_STATE_ERROR] = "ERROR",
	[VFIO_DEVICE_STATE_STOP] = "STOP",
	[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
	[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
	[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

#define MIG_ALL (VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
		 VFIO_MIGRATION_PRE_COPY)

/*
 * cx7: 380 ms of firmware time per device on the downtime path, 350 of it
 * on the source, calibrated with QEMU itself (its reported downtime for
 * 1, 2 and 4 devices against the seed's): "cx7 calibration" in
 * docs/mockvf.md.
 */
#define CX7_TIMING {							\
	.us = {								\
		[MOCKVF_FW_SUSPEND_INIT] = 120000,			\
		[MOCKVF_FW_SUSPEND_RESP] = 170000,			\
		[MOCKVF_FW_RESUME_INIT] = 10000,			\
		[MOCKVF_FW_RESUME_RESP] = 10000,			\
		[MOCKVF_FW_SAVE_START] = 60000,				\
		[MOCKVF_FW_LOAD] = 10000,				\
	},								\
	.save_bw_kbps = 1048576,					\
	.load_bw_kbps = 1048576,					\
}

static struct mockvf_profile mockvf_profiles[] = {
	{
		.name = "tiny",
		.mig_flags = MIG_ALL,
		.state_size = 4 * MOCKVF_PAGE,
		.compat = MOCKVF_C_ALL,
	}, {
		.name = "cx7",
		.mig_flags = MIG_ALL,
		.state_size = 8UL << 20,
		.compat = 0,		/* mlx5_vfio_pci's behaviour */
		.timing = CX7_TIMING,
	}, {
		.name = "nopre",
		.mig_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
		.state_size = 4 * MOCKVF_PAGE,
		.compat = MOCKVF_C_ALL,
	}, {
		.name = "nop2p",
		.mig_flags = VFIO_MIGRATION_STOP_COPY |
			     VFIO_MIGRATION_PRE_COPY,
		.state_size = 4 * MOCKVF_PAGE,
		.compat = MOCKVF_C_ALL,
	},
};

static struct mdev_type *mockvf_types[ARRAY_SIZE(mockvf_profiles)];
static struct mdev_parent mockvf_parent;
static struct class *mockvf_class;
static struct device *mockvf_parent_dev;

/* ---- hashing and pseudo-random content ---- */

u64 mockvf_hash_init(void)
{
	return 0xcbf29ce484222325ULL;
}

/**
 * mockvf_hash64() - FNV-1a style hash over little-endian 64-bit words.
 * @h: running value (mockvf_hash_init() to start)
 * @buf: data
 * @len: bytes; a final partial word is zero padded, so only the last call
 *	 of a chain may pass a length that is not a multiple of 8.
 *
 * Each step is a bijection of @h for a fixed word, so two inputs of the same
 * length that differ in one word always hash differently.
 *
 * Return: the new running value.
 */
u64 mockvf_hash64(u64 h, const void *buf, size_t len)
{
	const u8 *p = buf;

	for (; len >= 8; p += 8, len -= 8)
		h = mockvf_hash_word(h, get_unaligned_le64(p));
	if (len) {
		u64 w = 0;
		size_t i;

		for (i = 0; i < len; i++)
			w |= (u64)p[i] << (8 * i);
		h = mockvf_hash_word(h, w);
	}
	return h;
}

u64 mockvf_hash_final(u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

/* mockvf_page_hash() - hash of one MOCKVF_PAGE of device state. */
u64 mockvf_page_hash(const void *page)
{
	return mockvf_hash_final(mockvf_hash64(mockvf_hash_init(), page,
					       MOCKVF_PAGE));
}

/**
 * mockvf_digest() - the "digest" of a device state.
 * @phash: hash of each page (kept up to date by every writer of the state)
 * @size: state size in bytes (a multiple of MOCKVF_PAGE)
 *
 * Digest = final(hash64(mix(init, size), le64 page hashes)): a hash over
 * the whole state that costs O(pages) rather than O(bytes), so reading it
 * (and checking it at load) stays cheap on a TCG guest.
 *
 * Return: the digest.
 */
u64 mockvf_digest(const u64 *phash, unsigned long size)
{
	unsigned long i, n = size / MOCKVF_PAGE;
	u64 h = mockvf_hash_word(mockvf_hash_init(), size);

	for (i = 0; i < n; i++)
		h = mockvf_hash_word(h, phash[i]);
	return mockvf_hash_final(h);
}

/* ---- vfio_device ops ---- */

static int mockvf_init_dev(struct vfio_device *vdev)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	const struct mockvf_profile *prof =
		container_of(mdev->type, struct mockvf_profile, type);
	mv->mdev = mdev;
	mv->prof = prof;
	mutex_init(&mv->state_mutex);
	mutex_init(&mv->data_lock);
	mutex_init(&mv->irq_lock);
	spin_lock_init(&mv->reset_lock);
	spin_lock_init(&mv->log_lock);
	INIT_DELAYED_WORK(&mv->wl_work, mockvf_workload_fn);

	mv->state = VFIO_DEVICE_STATE_RUNNING;
	mv->running = true;
	mv->timing = prof->timing;
	mv->compat = prof->compat;
	mv->reinit_capable = !!(prof->mig_flags & VFIO_MIGRATION_PRE_COPY);
	mv->faults.corrupt_at = U64_MAX;
	mv->faults.truncate_at = U64_MAX;
	mv->rng = get_random_u64() | 1;

	mv->log = vcalloc(MOCKVF_LOG_ENTRIES, sizeof(*mv->log));
	if (!mv->log)
		return -ENOMEM;
	mv->state_size = prof->state_size;
	mv->dirty = mockvf_bitmap_zalloc(mv->state_size / MOCKVF_PAGE);
	if (!mv->dirty)
		goto err_log;
	mv->st = mockvf_store_alloc(mv->state_size, get_random_u64());
	if (!mv->st)
		goto err_dirty;

	vdev->migration_flags = prof->mig_flags;
	vdev->mig_ops = &mockvf_mig_ops;
	mockvf_pci_init(mv);
	return 0;
err_dirty:
	kvfree(mv->dirty);
err_log:
	vfree(mv->log);
	return -ENOMEM;
}

static void mockvf_release_dev(struct vfio_device *vdev)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	mockvf_store_free(mv->st);
	kvfree(mv->dirty);
	vfree(mv->log);
	mutex_destroy(&mv->state_mutex);
	mutex_destroy(&mv->data_lock);
	mutex_destroy(&mv->irq_lock);
}

static int mockvf_open_device(struct vfio_device *vdev)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	mutex_lock(&mv->state_mutex);
	mv->opened = true;
	mv->precopy_v2 = false;
	mv->state = VFIO_DEVICE_STATE_RUNNING;
	mockvf_set_running(mv, true);
	mockvf_state_mutex_unlock(mv);
	return 0;
}

static void mockvf_close_device(struct vfio_device *vdev)
{
	struct mockvf_dev *mv = vdev_to_mv(vdev);

	mutex_lock(&mv->state_mutex);
	mockvf_disable_files(mv);
	mv->opened = false;
	mv->precopy_v2 = false;
	mv->state = VFIO_DEVICE_STATE_RUNNING;
	mockvf_set_running(mv, true);
	mockvf_state_mutex_unlock(mv);
	mockvf_irq_release(mv);
}

static const struct vfio_device_ops mockvf_dev_ops = {
	.name = "mockvf",
	.init = mockvf_init_dev,
	.release = mockvf_release_dev,
	.open_device = mockvf_open_device,
	.close_device = mockvf_close_device,
	.read = mockvf_read,
	.write = mockvf_write,
	.ioctl = mockvf_ioctl,
	.request = mockvf_request,
	.device_feature = mockvf_device_feature,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/* ---- mdev driver ---- */

static int mockvf_probe(struct mdev_device *mdev)
{
	struct mockvf_dev *mv;
	int ret;

	/* Each device pins the module: unload is refused while any exists. */
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;

	mv = vfio_alloc_device(mockvf_dev, vdev, &mdev->dev, &mockvf_dev_ops);
	if (IS_ERR(mv)) {
		ret = PTR_ERR(mv);
		goto err_module;
	}

	ret = vfio_register_emulated_iommu_dev(&mv->vdev);
	if (ret)
		goto err_put;
	dev_set_drvdata(&mdev->dev, mv);

	ret = mockvf_sysfs_add(mv);
	if (ret)
		goto err_unreg;
	return 0;

err_unreg:
	vfio_unregister_group_dev(&mv->vdev);
err_put:
	vfio_put_device(&mv->vdev);
err_module:
	module_put(THIS_MODULE);
	return ret;
}

static void mockvf_remove(struct mdev_device *mdev)
{
	struct mockvf_dev *mv = dev_get_drvdata(&mdev->dev);

	mockvf_sysfs_del(mv);
	/* Waits for the user to close the device; .request asks it to. */
	vfio_unregister_group_dev(&mv->vdev);
	cancel_delayed_work_sync(&mv->wl_work);
	vfio_put_device(&mv->vdev);
	module_put(THIS_MODULE);
}

static ssize_t mockvf_show_description(struct mdev_type *mtype, char *buf)
{
	struct mockvf_profile *prof =
		container_of(mtype, struct mockvf_profile, type);

	return sysfs_emit(buf, "mockvf %s: state %lu bytes, flags 0x%x\n",
			  prof->name, prof->state_size, prof->mig_flags);
}

static struct mdev_driver mockvf_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = "mockvf",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = mockvf_probe,
	.remove = mockvf_remove,
	.show_description = mockvf_show_description,
};

static int __init mockvf_init(void)
{
	unsigned int i;
	int ret;

	if (!max_instances)
		return -EINVAL;
	mockvf_store_init();
	for (i = 0; i < ARRAY_SIZE(mockvf_profiles); i++) {
		mockvf_profiles[i].type.sysfs_name = mockvf_profiles[i].name;
		mockvf_profiles[i].type.pretty_name = mockvf_profiles[i].name;
		mockvf_types[i] = &mockvf_profiles[i].type;
	}
	mockvf_driver.max_instances = max_instances;

	mockvf_wq = alloc_workqueue("mockvf", WQ_UNBOUND, 0);
	if (!mockvf_wq)
		return -ENOMEM;

	ret = mdev_register_driver(&mockvf_driver);
	if (ret)
		goto err_wq;

	mockvf_class = class_create(MOCKVF_NAME);
	if (IS_ERR(mockvf_class)) {
		ret = PTR_ERR(mockvf_class);
		goto err_driver;
	}

	mockvf_parent_dev = device_create(mockvf_class, NULL, MKDEV(0, 0),
					  NULL, MOCKVF_NAME);
	if (IS_ERR(mockvf_parent_dev)) {
		ret = PTR_ERR(mockvf_parent_dev);
		goto err_class;
	}

	ret = mdev_register_parent(&mockvf_parent, mockvf_parent_dev,
				   &mockvf_driver, mockvf_types,
				   ARRAY_SIZE(mockvf_types));
	if (ret)
		goto err_dev;
	return 0;

err_dev:
	device_destroy(mockvf_class, MKDEV(0, 0));
err_class:
	class_destroy(mockvf_class);
err_driver:
	mdev_unregister_driver(&mockvf_driver);
err_wq:
	destroy_workqueue(mockvf_wq);
	return ret;
}

static void __exit mockvf_exit(void)
{
	mdev_unregister_parent(&mockvf_parent);
	device_destroy(mockvf_class, MKDEV(0, 0));
	class_destroy(mockvf_class);
	mdev_unregister_driver(&mockvf_driver);
	destroy_workqueue(mockvf_wq);
}

module_init(mockvf_init);
module_exit(mockvf_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Migratable mock VFIO devices (mlx5-style) for testing");
MODULE_AUTHOR("vfio-migtest");
