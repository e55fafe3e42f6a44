// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_save.c - the saving data_fd and the record stream producer.
 *
 * The modelled firmware (a work item on mockvf_wq) turns the device state
 * into records: INFO + DATA for a full image, DATA for dirty pages, END at
 * the end of STOP_COPY.  read() consumes them strictly sequentially.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/vmalloc.h>

#include "mockvf.h"

static u64 nr_chunks(unsigned long size)
{
	return DIV_ROUND_UP(size, MOCKVF_CHUNK);
}

/* Stream bytes of a full image (INFO + DATA records) of @state_size. */
u64 mockvf_image_bytes(unsigned long state_size)
{
	return MOCKVF_HDR_SIZE + MOCKVF_INFO_LEN +
	       nr_chunks(state_size) * (MOCKVF_HDR_SIZE + 8) + state_size;
}

/* Upper bound of the stream bytes for @nr_pages dirty pages. */
u64 mockvf_dirty_stream_bytes(unsigned long nr_pages)
{
	return (u64)nr_pages * (MOCKVF_PAGE + MOCKVF_HDR_SIZE + 8);
}

/* Payload room of a recyclable chunk: a DATA record of a whole chunk. */
#define SPARE_PAYLOAD		(8 + MOCKVF_CHUNK)
/* The queue's chunks, one being built and one being read. */
#define MAX_SPARES		(MOCKVF_MAX_QUEUED / MOCKVF_CHUNK + 2)

/*
 * Buffers are recycled, as mlx5 keeps its migration buffers for the next
 * SAVE: a fresh 256 KiB buffer per record is zeroed by the page allocator
 * (init_on_alloc), which alone cost the producer about a third of its
 * time - CPU a VF's firmware, writing by DMA, never takes from the host,
 * and that a migration engine sharing the guest's CPUs would pay for.
 */
static struct mockvf_chunk *chunk_alloc(struct mockvf_save *sf, size_t paylen)
{
	bool spare_size = paylen <= SPARE_PAYLOAD;
	struct mockvf_chunk *ch = NULL;

	if (spare_size) {
		spin_lock(&sf->lock);
		ch = list_first_entry_or_null(&sf->spares, struct mockvf_chunk,
					      node);
		if (ch) {
			list_del(&ch->node);
			sf->nr_spares--;
		}
		spin_unlock(&sf->lock);
	}
	if (!ch) {
		size_t room = spare_size ? SPARE_PAYLOAD : paylen;

		ch = kvmalloc(struct_size(ch, data, MOCKVF_HDR_SIZE + room),
			      GFP_KERNEL);
		if (!ch)
			return NULL;
		ch->spare_size = spare_size;
	}
	ch->len = MOCKVF_HDR_SIZE + paylen;
	ch->off = 0;
	return ch;
}

/*
 * Keep @ch for a later record, or free it.  kvfree() may sleep: never
 * called with sf->lock held.
 */
static void chunk_put(struct mockvf_save *sf, struct mockvf_chunk *ch)
{
	if (!ch)
		return;
	if (ch->spare_size) {
		spin_lock(&sf->lock);
		if (sf->nr_spares < MAX_SPARES) {
			list_add(&ch->node, &sf->spares);
			sf->nr_spares++;
			ch = NULL;
		}
		spin_unlock(&sf->lock);
	}
	kvfree(ch);
}

static void chunk_list_free(struct list_head *list)
{
	struct mockvf_chunk *ch, *tmp;

	list_for_each_entry_safe(ch, tmp, list, node)
		kvfree(ch);
}

/*
 * Wait until the queue has room (mlx5's two-buffer backpressure).  The
 * reader may take its time: TASK_IDLE keeps the hung task detector quiet.
 */
static int save_wait_room(struct mockvf_save *sf)
{
	wait_event_idle(sf->wq, READ_ONCE(sf->disabled) ||
		   READ_ONCE(sf->produced) - READ_ONCE(sf->pos) <
		   MOCKVF_MAX_QUEUED);
	return READ_ONCE(sf->disabled) ? -ECANCELED : 0;
}

/**
 * save_queue() - seal a record and queue it for the reader.
 * @sf: save file
 * @ch: chunk whose payload is filled in
 * @type: record type
 *
 * Fills the header, applies armed corrupt/truncate faults, models the
 * save bandwidth (one firmware slot for the record's transfer time) and
 * queues the chunk.  Consumes @ch.
 *
 * Return: 0, or -ECANCELED when the file was disabled or the stream was
 * truncated by a fault.
 */
static int save_queue(struct mockvf_save *sf, struct mockvf_chunk *ch,
		      enum mockvf_rec_type type)
{
	struct mockvf_rec_hdr *h = (struct mockvf_rec_hdr *)ch->data;
	struct mockvf_dev *mv = sf->mv;
	size_t paylen = ch->len - MOCKVF_HDR_SIZE;
	bool trunc = false;
	u64 start, csum;

	h->magic = cpu_to_le32(MOCKVF_REC_MAGIC);
	h->version = cpu_to_le16(MOCKVF_REC_VERSION);
	h->type = cpu_to_le16(type);
	h->seq = cpu_to_le32(sf->seq++);
	h->len = cpu_to_le32(paylen);
	h->csum = 0;
	csum = mockvf_hash64(mockvf_hash_init(), ch->data, ch->len);
	h->csum = cpu_to_le64(mockvf_hash_final(csum));

	/* faults: stream offsets are absolute */
	start = sf->produced;
	if (sf->corrupt_at >= start && sf->corrupt_at < start + ch->len)
		ch->data[sf->corrupt_at - start] ^= 0x5a;
	if (sf->truncate_at < start + ch->len) {
		ch->len = sf->truncate_at > start ? sf->truncate_at - start : 0;
		trunc = true;
	}

	sf->job_bytes += ch->len;
	if (READ_ONCE(mv->timing.save_bw_kbps)) {
		if (!mockvf_fw_get(&sf->disabled)) {
			chunk_put(sf, ch);
			return -ECANCELED;
		}
		mockvf_sleep_until(sf->job_t0 +
				   mockvf_bw_ns(sf->job_bytes,
					READ_ONCE(mv->timing.save_bw_kbps)),
				   &sf->disabled);
		mockvf_fw_put();
	}

	spin_lock(&sf->lock);
	sf->inflight = 0;
	if (sf->disabled) {
		spin_unlock(&sf->lock);
		chunk_put(sf, ch);
		return -ECANCELED;
	}
	if (ch->len) {
		list_add_tail(&ch->node, &sf->chunks);
		sf->produced += ch->len;
		ch = NULL;
	}
	if (trunc)
		sf->complete = true;
	spin_unlock(&sf->lock);
	/* a record truncated away entirely */
	chunk_put(sf, ch);
	wake_up_all(&sf->wq);
	return trunc ? -ECANCELED : 0;
}

/* Copy pages [first, first + n) of the state to @dst.  data_lock held. */
static void save_copy_pages(struct mockvf_dev *mv, u8 *dst,
			    unsigned long first, unsigned long n)
{
	unsigned long i;

	lockdep_assert_held(&mv->data_lock);
	for (i = 0; i < n; i++)
		mockvf_store_read(mv->st, first + i, dst + i * MOCKVF_PAGE);
}

static int save_begin_record(struct mockvf_save *sf, size_t paylen,
			     struct mockvf_chunk **out)
{
	int ret = save_wait_room(sf);

	if (ret)
		return ret;
	*out = chunk_alloc(sf, paylen);
	if (!*out)
		return -ENOMEM;
	spin_lock(&sf->lock);
	sf->inflight = (*out)->len;
	spin_unlock(&sf->lock);
	return 0;
}

static int save_produce_full(struct mockvf_save *sf)
{
	struct mockvf_dev *mv = sf->mv;
	struct mockvf_chunk *ch;
	unsigned long size, off, n;
	u8 *p;
	int ret;

	ret = save_begin_record(sf, MOCKVF_INFO_LEN, &ch);
	if (ret)
		return ret;
	mutex_lock(&mv->data_lock);
	size = mv->state_size;
	sf->gen = mv->gen;
	mutex_unlock(&mv->data_lock);
	p = ch->data + MOCKVF_HDR_SIZE;
	put_unaligned_le64(size, p);
	put_unaligned_le32(sf->gen, p + 8);
	put_unaligned_le32(0, p + 12);
	ret = save_queue(sf, ch, MOCKVF_REC_INFO);
	if (ret)
		return ret;

	for (off = 0; off < size; off += n) {
		if (READ_ONCE(sf->restart))
			return 0;
		n = min(size - off, MOCKVF_CHUNK);
		ret = save_begin_record(sf, 8 + n, &ch);
		if (ret)
			return ret;
		p = ch->data + MOCKVF_HDR_SIZE;
		put_unaligned_le64(off, p);
		mutex_lock(&mv->data_lock);
		save_copy_pages(mv, p + 8, off / MOCKVF_PAGE, n / MOCKVF_PAGE);
		bitmap_clear(mv->dirty, off / MOCKVF_PAGE,
			     DIV_ROUND_UP(n, MOCKVF_PAGE));
		mv->nr_dirty = bitmap_weight(mv->dirty,
					     mv->state_size / MOCKVF_PAGE);
		mutex_unlock(&mv->data_lock);
		ret = save_queue(sf, ch, MOCKVF_REC_DATA);
		if (ret)
			return ret;
	}
	return 0;
}

/* Emit DATA records for the dirty pages, runs of up to one chunk. */
static int save_produce_dirty(struct mockvf_save *sf)
{
	struct mockvf_dev *mv = sf->mv;
	unsigned long bits, s, e, max = MOCKVF_CHUNK / MOCKVF_PAGE;
	struct mockvf_chunk *ch;
	u8 *p;
	int ret;

	for (s = 0;; s = e) {
		mutex_lock(&mv->data_lock);
		bits = mv->state_size / MOCKVF_PAGE;
		s = find_next_bit(mv->dirty, bits, s);
		if (s >= bits) {
			mutex_unlock(&mv->data_lock);
			return 0;
		}
		e = find_next_zero_bit(mv->dirty, bits, s);
		e = min(e, s + max);
		mutex_unlock(&mv->data_lock);

		ret = save_begin_record(sf, 8 + (e - s) * MOCKVF_PAGE, &ch);
		if (ret)
			return ret;
		p = ch->data + MOCKVF_HDR_SIZE;
		put_unaligned_le64(s * MOCKVF_PAGE, p);
		mutex_lock(&mv->data_lock);
		save_copy_pages(mv, p + 8, s, e - s);
		bitmap_clear(mv->dirty, s, e - s);
		mv->nr_dirty = bitmap_weight(mv->dirty, bits);
		mutex_unlock(&mv->data_lock);
		ret = save_queue(sf, ch, MOCKVF_REC_DATA);
		if (ret)
			return ret;
	}
}

static int save_produce_end(struct mockvf_save *sf)
{
	struct mockvf_chunk *ch;
	u8 *p;
	int ret;

	ret = save_begin_record(sf, sf->with_bar0 ? MOCKVF_END_LEN :
					MOCKVF_END_LEN_BARE, &ch);
	if (ret)
		return ret;
	p = ch->data + MOCKVF_HDR_SIZE;
	put_unaligned_le64(sf->final_digest, p);
	put_unaligned_le64(sf->seq, p + 8);
	if (sf->with_bar0)
		memcpy(p + MOCKVF_END_LEN_BARE, sf->bar0, MOCKVF_BAR0_SIZE);
	ret = save_queue(sf, ch, MOCKVF_REC_END);
	if (ret)
		return ret;
	spin_lock(&sf->lock);
	sf->complete = true;
	spin_unlock(&sf->lock);
	wake_up_all(&sf->wq);
	return 0;
}

static void mockvf_save_work(struct work_struct *work)
{
	struct mockvf_save *sf = container_of(work, struct mockvf_save, work);
	bool fin;
	int ret;

	for (;;) {
		spin_lock(&sf->lock);
		if (sf->disabled || sf->complete || sf->error)
			break;
		sf->job_t0 = ktime_get_ns();
		sf->job_bytes = 0;
		if (sf->need_full) {
			sf->need_full = false;
			sf->restart = false;
			spin_unlock(&sf->lock);
			ret = save_produce_full(sf);
			spin_lock(&sf->lock);
			if (!ret && !sf->restart)
				sf->first_done = true;
			spin_unlock(&sf->lock);
		} else if (sf->need_dirty || sf->need_final) {
			fin = sf->need_final;
			sf->need_dirty = false;
			sf->need_final = false;
			spin_unlock(&sf->lock);
			ret = save_produce_dirty(sf);
			if (!ret && fin)
				ret = save_produce_end(sf);
		} else {
			break;
		}
		if (ret && ret != -ECANCELED) {
			spin_lock(&sf->lock);
			sf->error = ret;
			break;
		}
	}
	sf->busy = false;
	sf->inflight = 0;
	spin_unlock(&sf->lock);
	wake_up_all(&sf->wq);
}

/* Context: sf->lock held. */
static void save_kick(struct mockvf_save *sf)
{
	lockdep_assert_held(&sf->lock);
	if (!sf->busy && !sf->disabled) {
		sf->busy = true;
		queue_work(mockvf_wq, &sf->work);
	}
}

/**
 * mockvf_save_final() - STOP_COPY reached: finish the stream.
 * @sf: save file
 * @digest: device digest at the stop; carried by the END record
 */
void mockvf_save_final(struct mockvf_save *sf, u64 digest)
{
	struct mockvf_dev *mv = sf->mv;
	unsigned long nd;

	lockdep_assert_held(&mv->state_mutex);
	if (sf->with_bar0)
		mockvf_pci_bar0_save(mv, sf->bar0);	/* the device stopped */
	mutex_lock(&mv->data_lock);
	nd = mv->nr_dirty;
	spin_lock(&sf->lock);
	sf->final_digest = digest;
	sf->final = true;
	sf->need_final = true;
	sf->planned_end = max(sf->planned_end, sf->produced + sf->inflight) +
			  mockvf_dirty_stream_bytes(nd) +
			  MOCKVF_HDR_SIZE + mockvf_end_len(mv);
	save_kick(sf);
	spin_unlock(&sf->lock);
	mutex_unlock(&mv->data_lock);
	wake_up_all(&sf->wq);
}

/**
 * mockvf_save_reinit() - a reconfiguration happened during PRE_COPY.
 * @sf: save file
 * @v2: the user opted in to PRECOPY_INFOv2
 *
 * The producer abandons the image it is making and starts a new full one.
 * With @v2 the unread data and the new image form the new initial region
 * and REINIT is reported once; without it the new data counts as dirty.
 * Context: data_lock held (the dirty bitmap was just cleared).
 */
void mockvf_save_reinit(struct mockvf_save *sf, bool v2)
{
	lockdep_assert_held(&sf->mv->data_lock);
	spin_lock(&sf->lock);
	if (sf->final || sf->disabled || sf->complete) {
		spin_unlock(&sf->lock);
		return;
	}
	sf->restart = true;
	sf->need_full = true;
	sf->planned_end = sf->produced + sf->inflight +
			  mockvf_image_bytes(sf->mv->state_size);
	if (v2) {
		sf->initial_end = sf->planned_end;
		sf->reinit_report = true;
	}
	save_kick(sf);
	spin_unlock(&sf->lock);
}

/**
 * mockvf_save_disable() - stop the producer; later I/O gets -ENODEV.
 * @sf: save file
 */
void mockvf_save_disable(struct mockvf_save *sf)
{
	spin_lock(&sf->lock);
	sf->disabled = true;
	spin_unlock(&sf->lock);
	wake_up_all(&sf->wq);
	mockvf_fw_wake();
	cancel_work_sync(&sf->work);
}

/**
 * mockvf_save_estimate() - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE.
 * @mv: device
 *
 * Like mlx5vf_pci_get_data_size() (a firmware query of the full image
 * size), the size of a full STOP_COPY stream in every state; with
 * data_size_left, what STOP_COPY would still deliver.
 * Context: state_mutex held.
 * Return: bytes.
 */
u64 mockvf_save_estimate(struct mockvf_dev *mv)
{
	struct mockvf_save *sf = mv->save;
	u64 end, left;

	lockdep_assert_held(&mv->state_mutex);
	if (!sf || !mockvf_compat(mv, MOCKVF_C_DATA_SIZE_LEFT))
		return mockvf_image_bytes(READ_ONCE(mv->state_size)) +
		       MOCKVF_HDR_SIZE + mockvf_end_len(mv);
	spin_lock(&sf->lock);
	end = max(sf->planned_end, sf->produced + sf->inflight);
	left = end - sf->pos;
	if (!sf->final)
		left += mockvf_dirty_stream_bytes(READ_ONCE(mv->nr_dirty)) +
			MOCKVF_HDR_SIZE + mockvf_end_len(mv);
	spin_unlock(&sf->lock);
	return left;
}

/* ---- file operations ---- */

/*
 * In PRE_COPY[_P2P], does a reader with nothing queued wait for the
 * producer?  6.12's mlx5vf_save_read() waits for the initial SAVE only
 * (the file reaches its PRE_COPY state when that completes); later, with
 * no buffer queued, it returns -ENOMSG even while an incremental SAVE is
 * in flight.  7.1 (and precopy_read_wait) waits for every SAVE.
 * Context: sf->lock held.
 */
static bool save_temp_end(struct mockvf_save *sf)
{
	lockdep_assert_held(&sf->lock);
	if (sf->final)
		return false;
	return !sf->busy ||
	       (sf->first_done &&
		!mockvf_compat(sf->mv, MOCKVF_C_PRECOPY_READ_WAIT));
}

static ssize_t mockvf_save_read(struct file *filp, char __user *buf,
				size_t len, loff_t *ppos)
{
	struct mockvf_save *sf = filp->private_data;
	struct mockvf_chunk *ch;
	ssize_t done = 0;
	int ret = 0;
	size_t n;

	if (ppos)
		return -ESPIPE;
	if (mutex_lock_interruptible(&sf->read_lock))
		return -ERESTARTSYS;
	while (len) {
		spin_lock(&sf->lock);
		if (sf->disabled) {
			ret = -ENODEV;
			spin_unlock(&sf->lock);
			break;
		}
		if (sf->error) {
			ret = sf->error;
			spin_unlock(&sf->lock);
			break;
		}
		ch = list_first_entry_or_null(&sf->chunks, struct mockvf_chunk,
					      node);
		if (ch) {
			n = min(len, ch->len - ch->off);
			spin_unlock(&sf->lock);
			/* only this reader removes chunks: ch stays valid */
			if (copy_to_user(buf, ch->data + ch->off, n)) {
				ret = -EFAULT;
				break;
			}
			spin_lock(&sf->lock);
			ch->off += n;
			sf->pos += n;
			if (ch->off == ch->len)
				list_del(&ch->node);
			else
				ch = NULL;
			spin_unlock(&sf->lock);
			chunk_put(sf, ch);
			wake_up_all(&sf->wq);
			done += n;
			buf += n;
			len -= n;
			continue;
		}
		if (done) {
			spin_unlock(&sf->lock);
			break;
		}
		if (sf->complete) {
			/* end of stream; a truncated precopy stream reads as
			 * a temporary end until STOP_COPY
			 */
			if (!sf->final)
				ret = -ENOMSG;
			spin_unlock(&sf->lock);
			break;
		}
		if (save_temp_end(sf)) {
			/* temporary end of stream in PRE_COPY[_P2P] */
			spin_unlock(&sf->lock);
			ret = -ENOMSG;
			break;
		}
		spin_unlock(&sf->lock);
		if (filp->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		if (wait_event_interruptible(sf->wq,
				!list_empty_careful(&sf->chunks) ||
				READ_ONCE(sf->complete) ||
				READ_ONCE(sf->disabled) ||
				READ_ONCE(sf->error) ||
				(!READ_ONCE(sf->busy) &&
				 !READ_ONCE(sf->final)))) {
			ret = -ERESTARTSYS;
			break;
		}
	}
	mutex_unlock(&sf->read_lock);
	return done ? done : ret;
}

static __poll_t mockvf_save_poll(struct file *filp,
				 struct poll_table_struct *wait)
{
	struct mockvf_save *sf = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &sf->wq, wait);
	spin_lock(&sf->lock);
	if (sf->disabled || sf->error)
		mask = EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP;
	else if (!list_empty(&sf->chunks) || sf->complete ||
		 save_temp_end(sf))
		mask = EPOLLIN | EPOLLRDNORM;
	spin_unlock(&sf->lock);
	return mask;
}

/* No SAVE in flight for PRECOPY_INFO to wait for (see there). */
static bool save_query_ready(struct mockvf_save *sf)
{
	bool ready;

	spin_lock(&sf->lock);
	ready = sf->disabled || !sf->busy ||
		sf->produced - sf->pos >= MOCKVF_MAX_QUEUED;
	spin_unlock(&sf->lock);
	return ready;
}

static long mockvf_save_ioctl(struct file *filp, unsigned int cmd,
			      unsigned long arg)
{
	struct mockvf_save *sf = filp->private_data;
	struct mockvf_dev *mv = sf->mv;
	struct vfio_precopy_info info;
	unsigned long minsz, nd;
	bool eager, past;
	u64 end, from;
	int ret = 0;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	if (mv->state != VFIO_DEVICE_STATE_PRE_COPY &&
	    mv->state != VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		ret = -EINVAL;
		goto out;
	}
	eager = mockvf_compat(mv, MOCKVF_C_PRECOPY_INFO_EAGER);
	/*
	 * mlx5 queries the firmware in PRE_COPY, which first waits for an
	 * in-flight SAVE (mlx5vf_cmd_query_vhca_migration_state()); not in
	 * PRE_COPY_P2P.  Here a SAVE is a producer job: wait until it is
	 * done or stalls on a full queue (which only a read drains).  The
	 * producer never takes state_mutex.
	 */
	if (!eager && mv->state == VFIO_DEVICE_STATE_PRE_COPY &&
	    wait_event_interruptible(sf->wq, save_query_ready(sf))) {
		ret = -ERESTARTSYS;
		goto out;
	}
	mutex_lock(&mv->data_lock);
	nd = mv->nr_dirty;
	spin_lock(&sf->lock);
	if (sf->disabled || mv->save != sf) {
		ret = -ENODEV;
		goto unlock;
	}
	end = max(sf->planned_end, sf->produced + sf->inflight);
	info.initial_bytes = sf->initial_end > sf->pos ?
			     sf->initial_end - sf->pos : 0;
	from = max(sf->pos, sf->initial_end);
	info.dirty_bytes = (end > from ? end - from : 0) +
			   mockvf_dirty_stream_bytes(nd);
	/* mlx5 reports dirty bytes only once the initial data was read */
	past = sf->pos >= sf->initial_end;
	if (!eager && !past)
		info.dirty_bytes = 0;
	/*
	 * Like mlx5: when the queue is drained and pages are dirty, the
	 * query starts an incremental save (only while running).
	 */
	if (mv->state == VFIO_DEVICE_STATE_PRE_COPY && nd &&
	    list_empty(&sf->chunks) && !sf->busy && (eager || past)) {
		sf->need_dirty = true;
		save_kick(sf);
	}
	if (mv->precopy_v2) {
		info.flags = sf->reinit_report ? VFIO_PRECOPY_INFO_REINIT : 0;
		sf->reinit_report = false;
	}
unlock:
	spin_unlock(&sf->lock);
	mutex_unlock(&mv->data_lock);
out:
	mockvf_state_mutex_unlock(mv);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static int mockvf_save_release(struct inode *inode, struct file *filp)
{
	struct mockvf_save *sf = filp->private_data;

	mockvf_save_disable(sf);
	chunk_list_free(&sf->chunks);
	chunk_list_free(&sf->spares);
	put_device(&sf->mv->vdev.device);
	mutex_destroy(&sf->read_lock);
	kfree(sf->bar0);
	kfree(sf);
	return 0;
}

static const struct file_operations mockvf_save_fops = {
	.owner = THIS_MODULE,
	.read = mockvf_save_read,
	.poll = mockvf_save_poll,
	.unlocked_ioctl = mockvf_save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = mockvf_save_release,
};

/**
 * mockvf_save_create() - open a saving data_fd.
 * @mv: device
 * @final: created by STOP->STOP_COPY (full image then END) rather than by
 *	   entering PRE_COPY[_P2P] (full image as the initial region)
 * @digest: device digest for the END record when @final
 *
 * Armed corrupt/truncate faults are consumed by the new stream.  The file
 * is published as mv->save (which holds a reference of its own) before its
 * producer starts.
 * Context: state_mutex held, mv->save NULL.
 * Return: the new save file, or an ERR_PTR.
 */
struct mockvf_save *mockvf_save_create(struct mockvf_dev *mv, bool final,
				       u64 digest)
{
	struct mockvf_save *sf;

	lockdep_assert_held(&mv->state_mutex);
	sf = kzalloc(sizeof(*sf), GFP_KERNEL);
	if (!sf)
		return ERR_PTR(-ENOMEM);
	sf->mv = mv;
	sf->with_bar0 = !mockvf_compat(mv, MOCKVF_C_BARE_PCI);
	if (sf->with_bar0) {
		sf->bar0 = kzalloc(MOCKVF_BAR0_SIZE, GFP_KERNEL);
		if (!sf->bar0) {
			kfree(sf);
			return ERR_PTR(-ENOMEM);
		}
	}
	mutex_init(&sf->read_lock);
	spin_lock_init(&sf->lock);
	init_waitqueue_head(&sf->wq);
	INIT_LIST_HEAD(&sf->chunks);
	INIT_LIST_HEAD(&sf->spares);
	INIT_WORK(&sf->work, mockvf_save_work);

	sf->filp = anon_inode_getfile("mockvf_save", &mockvf_save_fops, sf,
				      O_RDONLY);
	if (IS_ERR(sf->filp)) {
		struct file *f = sf->filp;

		mutex_destroy(&sf->read_lock);
		kfree(sf->bar0);
		kfree(sf);
		return ERR_CAST(f);
	}
	stream_open(sf->filp->f_inode, sf->filp);
	get_device(&mv->vdev.device);

	sf->corrupt_at = mv->faults.corrupt_at;
	sf->truncate_at = mv->faults.truncate_at;
	mv->faults.corrupt_at = U64_MAX;
	mv->faults.truncate_at = U64_MAX;
	sf->need_full = true;
	if (final) {
		sf->final = true;
		sf->need_final = true;
		sf->final_digest = digest;
		if (sf->with_bar0)
			mockvf_pci_bar0_save(mv, sf->bar0);
	}
	sf->busy = true;

	/*
	 * Publish the file (mv->save holds the second reference) in the same
	 * data_lock section that clears the dirty bitmap, and only then start
	 * the producer: a workload re-configuration either comes before (and
	 * the image includes it) or finds mv->save and restarts the image.
	 */
	get_file(sf->filp);
	mutex_lock(&mv->data_lock);
	bitmap_zero(mv->dirty, mv->state_size / MOCKVF_PAGE);
	mv->nr_dirty = 0;
	sf->planned_end = mockvf_image_bytes(mv->state_size);
	if (final)
		sf->planned_end += MOCKVF_HDR_SIZE + mockvf_end_len(mv);
	else
		sf->initial_end = sf->planned_end;
	mv->save = sf;
	mutex_unlock(&mv->data_lock);

	queue_work(mockvf_wq, &sf->work);
	return sf;
}
