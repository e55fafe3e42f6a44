// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_resume.c - the resuming data_fd: record validation and load.
 *
 * Every record is checked (magic, version, type, sequence, length cap,
 * checksum, bounds) as soon as it is complete; the first bad byte poisons
 * the file (-EINVAL, then and for every later write).  Data lands in a
 * shadow buffer.  Strict (the mock's original contract): RESUMING->STOP
 * commits it only when the END record was seen and the digest it carries
 * matches, so a truncated stream is detected there and the device keeps
 * its old state.  mlx5 (mlx5vf_resume_write()): the write() that completes
 * a full image loads it into the device, later records of dirty pages go
 * straight to the device, and RESUMING->STOP only closes the file, so a
 * truncated stream leaves a partly loaded device.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/vmalloc.h>

#include "mockvf.h"

static int resume_check_hdr(struct mockvf_resume *rf)
{
	struct mockvf_rec_hdr *h = &rf->hdr;
	u32 len = le32_to_cpu(h->len);

	if (le32_to_cpu(h->magic) != MOCKVF_REC_MAGIC ||
	    le16_to_cpu(h->version) != MOCKVF_REC_VERSION ||
	    le32_to_cpu(h->seq) != rf->next_seq || rf->complete)
		return -EINVAL;
	switch (le16_to_cpu(h->type)) {
	case MOCKVF_REC_INFO:
		return len == MOCKVF_INFO_LEN ? 0 : -EINVAL;
	case MOCKVF_REC_DATA:
		if (!rf->have_info)
			return -EINVAL;
		return len > 8 && len <= MOCKVF_MAX_PAYLOAD ? 0 : -EINVAL;
	case MOCKVF_REC_END:
		if (!rf->have_info)
			return -EINVAL;
		return len == MOCKVF_END_LEN || len == MOCKVF_END_LEN_BARE ?
		       0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/**
 * resume_commit() - make the shadow image the device state (a LOAD).
 * @rf: resume file
 *
 * The device's old state becomes the shadow (reused by a later INFO of
 * the same size, freed with the file).
 * Context: rf->lock held; the device is in RESUMING (no workload, no save).
 * Return: 0 or -ENOMEM.
 */
static int resume_commit(struct mockvf_resume *rf)
{
	struct mockvf_dev *mv = rf->mv;
	unsigned long *dirty, *old_dirty;
	struct mockvf_store *old;

	lockdep_assert_held(&rf->lock);
	dirty = mockvf_bitmap_zalloc(rf->pend->nr_pages);
	if (!dirty)
		return -ENOMEM;
	mutex_lock(&mv->data_lock);
	old = mv->st;
	old_dirty = mv->dirty;
	mv->st = rf->pend;
	WRITE_ONCE(mv->state_size, rf->pend->size);
	mv->dirty = dirty;
	mv->nr_dirty = 0;
	mutex_unlock(&mv->data_lock);
	kvfree(old_dirty);
	rf->pend = old;
	return 0;
}

/* mlx5 mode, after the first load: a DATA record is an image of its own. */
static int resume_apply_direct(struct mockvf_resume *rf, u64 off,
			       const u8 *p, size_t n)
{
	struct mockvf_dev *mv = rf->mv;
	int ret = 0;

	mutex_lock(&mv->data_lock);
	if (off >= mv->state_size || n > mv->state_size - off) {
		ret = -EINVAL;
	} else {
		ret = mockvf_store_write(mv->st, off, p, n);
	}
	mutex_unlock(&mv->data_lock);
	return ret;
}

static int resume_apply(struct mockvf_resume *rf)
{
	struct mockvf_rec_hdr *h = &rf->hdr;
	u64 csum, want = le64_to_cpu(h->csum);
	size_t len = rf->pay_fill;
	u64 size, off;
	u8 *p = rf->payload;
	int ret;

	h->csum = 0;
	csum = mockvf_hash64(mockvf_hash_init(), h, MOCKVF_HDR_SIZE);
	csum = mockvf_hash_final(mockvf_hash64(csum, p, len));
	if (csum != want)
		return -EINVAL;

	switch (le16_to_cpu(h->type)) {
	case MOCKVF_REC_INFO:
		size = get_unaligned_le64(p);
		if (!size || size > MOCKVF_MAX_STATE_SIZE ||
		    size % MOCKVF_PAGE)
			return -EINVAL;
		rf->img_fill = 0;
		rf->direct = false;
		if (rf->pend && rf->pend->size != size) {
			mockvf_store_free(rf->pend);
			rf->pend = NULL;
		}
		if (!rf->pend) {
			/* all zero pages: metadata only */
			rf->pend = mockvf_store_alloc(size, 0);
			if (!rf->pend)
				return -ENOMEM;
		}
		rf->have_info = true;
		break;
	case MOCKVF_REC_DATA:
		off = get_unaligned_le64(p);
		if (rf->direct) {
			ret = resume_apply_direct(rf, off, p + 8, len - 8);
			if (ret)
				return ret;
			rf->nr_inc++;
			break;
		}
		if (off >= rf->pend->size || len - 8 > rf->pend->size - off)
			return -EINVAL;
		ret = mockvf_store_write(rf->pend, off, p + 8, len - 8);
		if (ret)
			return ret;
		if (rf->img_fill >= rf->pend->size) {
			rf->nr_inc++;	/* strict: a dirty page run */
			break;
		}
		/*
		 * A source sends a full image as runs covering each page once
		 * before any dirty page: when they add up to the state size,
		 * the image is complete.  The first one is the initial data a
		 * switchover-ack waits for: after a re-configuration cut the
		 * first INFO's image short, that is the next INFO's.
		 */
		rf->img_fill += len - 8;
		if (rf->img_fill < rf->pend->size)
			break;
		rf->nr_full++;
		if (!rf->image_seen) {
			rf->image_seen = true;
			if (rf->cost_in_write)
				rf->first_done = true;	/* after the LOAD */
			else
				WRITE_ONCE(rf->mv->resume_image_ns,
					   ktime_get_ns());
		}
		if (!rf->strict) {
			ret = resume_commit(rf);
			if (ret)
				return ret;
			rf->direct = true;
		}
		break;
	case MOCKVF_REC_END:
		if (get_unaligned_le64(p + 8) != rf->next_seq)
			return -EINVAL;
		rf->end_digest = get_unaligned_le64(p);
		rf->complete = true;
		if (len == MOCKVF_END_LEN) {
			rf->bar0 = kmemdup(p + MOCKVF_END_LEN_BARE,
					   MOCKVF_BAR0_SIZE, GFP_KERNEL);
			if (!rf->bar0)
				return -ENOMEM;
			rf->have_bar0 = true;
			/* mlx5: loaded with the last image, in write() */
			if (!rf->strict)
				mockvf_pci_bar0_load(rf->mv, rf->bar0);
		}
		break;
	}
	rf->next_seq++;
	return 0;
}

static ssize_t mockvf_resume_write(struct file *filp, const char __user *buf,
				   size_t len, loff_t *ppos)
{
	struct mockvf_resume *rf = filp->private_data;
	size_t done = 0, n, want;
	u64 t0 = ktime_get_ns(), loaded = 0, ns = 0;
	unsigned int nloads;
	u32 bw;
	int ret = 0;

	if (ppos)
		return -ESPIPE;
	if (mutex_lock_killable(&rf->lock))
		return -EINTR;
	if (READ_ONCE(rf->disabled)) {
		ret = -ENODEV;
		goto out;
	}
	if (rf->error) {
		ret = rf->error;
		goto out;
	}
	while (done < len) {
		if (rf->hdr_fill < MOCKVF_HDR_SIZE) {
			n = min(len - done, MOCKVF_HDR_SIZE - rf->hdr_fill);
			if (copy_from_user((u8 *)&rf->hdr + rf->hdr_fill,
					   buf + done, n)) {
				ret = -EFAULT;
				break;
			}
			rf->hdr_fill += n;
			done += n;
			if (rf->hdr_fill < MOCKVF_HDR_SIZE)
				continue;
			ret = resume_check_hdr(rf);
			if (ret)
				break;
			rf->pay_fill = 0;
		}
		want = le32_to_cpu(rf->hdr.len);
		n = min(len - done, want - rf->pay_fill);
		if (copy_from_user(rf->payload + rf->pay_fill, buf + done, n)) {
			ret = -EFAULT;
			break;
		}
		rf->pay_fill += n;
		done += n;
		if (rf->pay_fill < want)
			continue;
		ret = resume_apply(rf);
		if (ret)
			break;
		loaded += MOCKVF_HDR_SIZE + want;
		rf->hdr_fill = 0;
	}
	/*
	 * Like mlx5's LOAD per image inside write(): complete records are
	 * loaded at load_bw_kbps, one firmware command per write() call.
	 * Unless load_at_stop, each full image completed here and the dirty
	 * page runs of this call (one image on mlx5) also cost load_us.
	 */
	bw = READ_ONCE(rf->mv->timing.load_bw_kbps);
	if (loaded && bw)
		ns = mockvf_bw_ns(loaded, bw);
	if (rf->cost_in_write) {
		nloads = rf->nr_full + (rf->nr_inc ? 1 : 0);
		ns += (u64)nloads * NSEC_PER_USEC *
		      READ_ONCE(rf->mv->timing.us[MOCKVF_FW_LOAD]);
	}
	rf->nr_full = 0;
	rf->nr_inc = 0;
	if (ns && mockvf_fw_get(&rf->disabled)) {
		mockvf_sleep_until(t0 + ns, &rf->disabled);
		mockvf_fw_put();
	}
	if (rf->first_done) {
		rf->first_done = false;
		WRITE_ONCE(rf->mv->resume_image_ns, ktime_get_ns());
	}
	if (ret && ret != -EFAULT)
		rf->error = ret;
	/* bytes taken in are reported, so a retry resumes after them */
	if (ret == -EFAULT && done)
		ret = 0;
	rf->bytes += done;
	WRITE_ONCE(rf->mv->resume_bytes, rf->bytes);
out:
	mutex_unlock(&rf->lock);
	return ret ? ret : done;
}

static int mockvf_resume_release(struct inode *inode, struct file *filp)
{
	struct mockvf_resume *rf = filp->private_data;

	put_device(&rf->mv->vdev.device);
	mockvf_store_free(rf->pend);
	kvfree(rf->payload);
	kfree(rf->bar0);
	mutex_destroy(&rf->lock);
	kfree(rf);
	return 0;
}

static const struct file_operations mockvf_resume_fops = {
	.owner = THIS_MODULE,
	.write = mockvf_resume_write,
	.release = mockvf_resume_release,
};

/* Context: state_mutex held. */
struct mockvf_resume *mockvf_resume_create(struct mockvf_dev *mv)
{
	struct mockvf_resume *rf;
	struct file *f;

	lockdep_assert_held(&mv->state_mutex);
	rf = kzalloc(sizeof(*rf), GFP_KERNEL);
	if (!rf)
		return ERR_PTR(-ENOMEM);
	rf->payload = kvmalloc(MOCKVF_MAX_PAYLOAD, GFP_KERNEL);
	if (!rf->payload) {
		kfree(rf);
		return ERR_PTR(-ENOMEM);
	}
	rf->mv = mv;
	rf->strict = mockvf_compat(mv, MOCKVF_C_RESUME_STRICT);
	rf->cost_in_write = !mockvf_compat(mv, MOCKVF_C_LOAD_AT_STOP);
	mutex_init(&rf->lock);
	f = anon_inode_getfile("mockvf_resume", &mockvf_resume_fops, rf,
			       O_WRONLY);
	if (IS_ERR(f)) {
		mutex_destroy(&rf->lock);
		kvfree(rf->payload);
		kfree(rf);
		return ERR_CAST(f);
	}
	rf->filp = f;
	stream_open(f->f_inode, f);
	WRITE_ONCE(mv->resume_bytes, 0);
	WRITE_ONCE(mv->resume_image_ns, 0);
	get_device(&mv->vdev.device);
	return rf;
}

/**
 * mockvf_resume_load() - RESUMING->STOP of a strict resume: commit a
 * complete stream.
 * @rf: resume file
 * @bytes: set to the stream length (for the load bandwidth model)
 *
 * Context: state_mutex held.
 * A stream of zero bytes is an abandoned resume: nothing is loaded and the
 * arc succeeds.
 * Return: 0, or -EINVAL for a rejected, truncated or inconsistent stream
 * (the device state is left untouched).
 */
int mockvf_resume_load(struct mockvf_resume *rf, u64 *bytes)
{
	struct mockvf_dev *mv = rf->mv;
	int ret = 0;

	lockdep_assert_held(&mv->state_mutex);
	mutex_lock(&rf->lock);
	/* nothing written at all: an abandoned resume, keep the old state */
	if (!rf->bytes && !rf->error && !READ_ONCE(rf->disabled))
		goto out;
	if (rf->error || READ_ONCE(rf->disabled) || !rf->complete ||
	    rf->hdr_fill ||
	    !rf->pend) {
		ret = -EINVAL;
		goto out;
	}
	if (mockvf_store_digest(rf->pend) != rf->end_digest) {
		ret = -EINVAL;
		goto out;
	}
	ret = resume_commit(rf);
	if (ret)
		goto out;
	if (rf->have_bar0)
		mockvf_pci_bar0_load(mv, rf->bar0);
	*bytes = rf->bytes;
out:
	mutex_unlock(&rf->lock);
	return ret;
}

/* Later writes fail with -ENODEV; a writer sleeping in the model wakes. */
void mockvf_resume_disable(struct mockvf_resume *rf)
{
	WRITE_ONCE(rf->disabled, true);
	mockvf_fw_wake();
	/* wait for a writer in progress to leave */
	mutex_lock(&rf->lock);
	mutex_unlock(&rf->lock);
}
