/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mockvf.h - shared definitions of the mockvf migratable mock VFIO device.
 *
 * Lock order (outer first):
 *	mockvf_dev.state_mutex  migration state, files, knobs that need a state
 *	mockvf_dev.data_lock    device state (mockvf_store), dirty bitmap,
 *	                        reconfig
 *	mockvf_dev.irq_lock     PCI face: config, BARs, eventfds (also
 *	                        nests inside mockvf_resume.lock)
 *	mockvf_save.lock        save queue bookkeeping (spinlock)
 *	mockvf_dev.log_lock     transition log (spinlock)
 *	mockvf_dev.irq_lock     PCI face: config space, BAR0, REQ eventfd;
 *				taken inside state_mutex by reset
 * mockvf_dev.reset_lock (spinlock) only nests the state_mutex trylock.
 */
#ifndef MOCKVF_H
#define MOCKVF_H

#include <linux/bitops.h>
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif

#define MOCKVF_NAME		"mockvf"
#define MOCKVF_NR_STATES	8	/* ERROR .. PRE_COPY_P2P */
#define MOCKVF_MAX_STATE_SIZE	(8UL << 30)	/* generated: metadata only */
/* Up to this size page hashes are computed at creation, not lazily. */
#define MOCKVF_EAGER_HASH	(64UL << 20)
#define MOCKVF_NR_SEEDS		8	/* seeds of generated pages per state */
#define MOCKVF_SLOT_ZERO	0xfe	/* mockvf_store.slot: all-zero page */
#define MOCKVF_SLOT_OVL		0xff	/* mockvf_store.slot: in the overlay */
#define MOCKVF_PAGE		4096UL	/* dirty tracking granule */
#define MOCKVF_CHUNK		(256UL << 10)	/* DATA payload bytes */
#define MOCKVF_MAX_QUEUED	(4 * MOCKVF_CHUNK)
#define MOCKVF_LOG_ENTRIES	4096
#define MOCKVF_MAX_TIMING_US	10000000U
#define MOCKVF_CFG_SIZE		256
#define MOCKVF_BAR0_SIZE	4096	/* registers, carried in the stream */
#define MOCKVF_BAR2_SIZE	4096	/* MSI-X table and PBA */
#define MOCKVF_MSIX_VECTORS	8
/*
 * Largest errno a "fail" fault may inject: 512 and up (ERESTARTSYS and
 * the other restart codes) are kernel-internal and must never reach
 * userspace.
 */
#define MOCKVF_MAX_USER_ERRNO	511

/* Save stream records (all fields little endian), see docs/mockvf.md. */
#define MOCKVF_REC_MAGIC	0x4656434dU	/* "MCVF" */
#define MOCKVF_REC_VERSION	1
#define MOCKVF_MAX_PAYLOAD	(MOCKVF_CHUNK + 8)

enum mockvf_rec_type {
	MOCKVF_REC_INFO = 1,	/* le64 state_size, le32 generation, le32 0 */
	MOCKVF_REC_DATA = 2,	/* le64 offset, then the bytes */
	MOCKVF_REC_END = 3,	/* le64 digest, le64 record count */
};

struct mockvf_rec_hdr {
	__le32 magic;
	__le16 version;
	__le16 type;
	__le32 seq;
	__le32 len;
	__le64 csum;	/* mockvf_hash64 of header (csum 0) then payload */
} __packed;

#define MOCKVF_HDR_SIZE		sizeof(struct mockvf_rec_hdr)
#define MOCKVF_INFO_LEN		16
#define MOCKVF_END_LEN_BARE	16	/* digest, count */
#define MOCKVF_END_LEN		(16 + MOCKVF_BAR0_SIZE)	/* + BAR0 */

/* Firmware commands of the timing model; also sysfs timing/<name>_us. */
enum mockvf_fw_cmd {
	MOCKVF_FW_SUSPEND_INIT,
	MOCKVF_FW_SUSPEND_RESP,
	MOCKVF_FW_RESUME_INIT,
	MOCKVF_FW_RESUME_RESP,
	MOCKVF_FW_SAVE_START,
	MOCKVF_FW_LOAD,
	MOCKVF_FW_NR,
};

struct mockvf_timing {
	u32 us[MOCKVF_FW_NR];
	u32 save_bw_kbps;	/* KiB/s, 0 = unlimited */
	u32 load_bw_kbps;
};

/*
 * Fidelity knobs (sysfs <name>, see docs/mockvf.md "Fidelity"): a set bit
 * keeps the mock's original behaviour, a clear bit behaves like
 * mlx5_vfio_pci.  The cx7 profile clears them all.
 */
enum mockvf_compat {
	MOCKVF_C_RESUME_STRICT,		/* commit at RESUMING->STOP, if whole */
	MOCKVF_C_LOAD_AT_STOP,		/* load_us paid by RESUMING->STOP */
	MOCKVF_C_DATA_SIZE_LEFT,	/* MIG_DATA_SIZE = what is left */
	MOCKVF_C_PRECOPY_INFO_EAGER,	/* PRECOPY_INFO never waits */
	MOCKVF_C_PRECOPY_READ_WAIT,	/* PRE_COPY read waits for a SAVE */
	MOCKVF_C_ERROR_ON_FAIL,		/* a failed step enters ERROR */
	MOCKVF_C_RESET_KEEPS_STATE,	/* VFIO_DEVICE_RESET keeps the state */
	MOCKVF_C_BARE_PCI,		/* no caps/INTx/MSI-X, BAR0 not saved */
	MOCKVF_C_NR,
};

/* The original behaviour of every mlx5 divergence (not the PCI face). */
#define MOCKVF_C_ALL	(BIT(MOCKVF_C_BARE_PCI) - 1)

struct mockvf_profile {
	const char *name;
	u32 mig_flags;
	unsigned long state_size;
	unsigned long compat;		/* default mockvf_compat bits */
	struct mockvf_timing timing;
	struct mdev_type type;
};

enum mockvf_log_tag {
	MOCKVF_TAG_NONE,
	MOCKVF_TAG_FAULT,
	MOCKVF_TAG_DELAY,
	MOCKVF_TAG_CORRUPT,
	MOCKVF_TAG_TRUNCATE,
	MOCKVF_TAG_RESET,
};

struct mockvf_log_ent {
	u64 start_ns;
	u64 end_ns;
	s16 ret;
	u8 from;
	u8 to;
	u8 tag;
};

struct mockvf_faults {
	u32 fail_count[MOCKVF_NR_STATES];
	u16 fail_errno[MOCKVF_NR_STATES];
	u64 corrupt_at;		/* U64_MAX = not armed */
	u64 truncate_at;
	u32 delay_us[MOCKVF_NR_STATES][MOCKVF_NR_STATES];
};

/*
 * struct mockvf_store - a device state (or a resume shadow) of @size bytes,
 * see mockvf_store.c: per page a version, a seed slot and a hash; the
 * bytes are generated from (seed, index, version), or are the all-zero
 * page, or live in the sparse overlay @ovl.
 */
struct mockvf_store {
	unsigned long size;
	unsigned long nr_pages;
	u32 *ver;			/* per page: version */
	u8 *slot;			/* per page: index in @seeds, or SLOT_* */
	u64 *phash;			/* per page: mockvf_page_hash() */
	unsigned long *stale;		/* per page: @phash not computed yet */
	unsigned long nr_stale;
	unsigned long nr_ovl;		/* pages in @ovl */
	u64 seeds[MOCKVF_NR_SEEDS];
	unsigned int nr_seeds;
	struct xarray ovl;		/* page index -> MOCKVF_PAGE bytes */
	u8 *scratch;			/* one page, for partial page writes */
};

struct mockvf_chunk {
	struct list_head node;
	size_t len;
	size_t off;		/* bytes already read */
	bool spare_size;	/* room for any record: may be recycled */
	u8 data[];
};

/*
 * struct mockvf_save - the saving data_fd.
 *
 * Records are produced by @work on mockvf_wq (the modelled firmware) and
 * queued on @chunks; read() consumes them strictly in order.  The need_*
 * flags tell the producer what to do next; @busy is true while it runs.
 */
struct mockvf_save {
	struct mockvf_dev *mv;
	struct file *filp;
	struct mutex read_lock;		/* one reader at a time */
	spinlock_t lock;
	wait_queue_head_t wq;
	struct list_head chunks;
	struct list_head spares;	/* consumed chunks kept for reuse */
	unsigned int nr_spares;
	struct work_struct work;
	u64 pos;		/* bytes read */
	u64 produced;		/* bytes queued in total */
	u64 planned_end;	/* stream offset where planned data ends */
	u64 initial_end;	/* end of the initial region */
	u64 corrupt_at;
	u64 truncate_at;
	u64 final_digest;
	u32 seq;
	u32 gen;		/* generation of the image being produced */
	size_t inflight;	/* bytes of the record being built */
	u64 job_t0;		/* bandwidth model: start of the job */
	u64 job_bytes;
	bool need_full;
	bool need_dirty;
	bool need_final;
	bool final;		/* STOP_COPY reached: END ends the stream */
	bool complete;		/* END queued (or stream truncated) */
	bool busy;
	bool restart;		/* reconfig: abort the full image, start over */
	bool reinit_report;
	bool disabled;
	bool with_bar0;		/* END carries BAR0 (not bare_pci) */
	bool first_done;	/* the first full image was produced */
	int error;
	u8 *bar0;		/* BAR0 at the stop, for END */
};

/*
 * struct mockvf_resume - the resuming data_fd.
 *
 * write() parses records into @pend (a shadow of the device state).  With
 * @strict the RESUMING->STOP arc ("load") commits it when the stream was
 * complete; otherwise (mlx5) each image is loaded by the write() that
 * completes it and RESUMING->STOP only closes the file.
 */
struct mockvf_resume {
	struct mockvf_dev *mv;
	struct file *filp;
	struct mutex lock;
	struct mockvf_rec_hdr hdr;
	size_t hdr_fill;
	u8 *payload;
	size_t pay_fill;
	u32 next_seq;
	struct mockvf_store *pend;	/* shadow state, NULL before INFO */
	u64 end_digest;
	u64 bytes;
	u64 img_fill;			/* DATA bytes of the current image */
	unsigned int nr_full;		/* full images completed in a write */
	unsigned int nr_inc;		/* incremental records in a write */
	bool first_done;		/* a write completed the first image */
	bool image_seen;		/* a full image was received */
	bool strict;			/* MOCKVF_C_RESUME_STRICT at creation */
	bool cost_in_write;		/* !MOCKVF_C_LOAD_AT_STOP at creation */
	bool direct;			/* image loaded: DATA to the device */
	bool have_bar0;			/* END carried BAR0 (@bar0) */
	u8 *bar0;
	bool have_info;
	bool complete;
	bool disabled;
	int error;
};

struct mockvf_dev {
	struct vfio_device vdev;
	struct mdev_device *mdev;
	const struct mockvf_profile *prof;
	struct kobject *kobj;		/* .../<uuid>/mockvf */

	/* migration */
	struct mutex state_mutex;
	spinlock_t reset_lock;
	bool deferred_reset;
	enum vfio_device_mig_state state;
	struct mockvf_save *save;
	struct mockvf_resume *resume;
	u64 saved_digest;		/* carried by the last STOP_COPY stream */
	/* of the last resume file: bytes accepted, and when its first image
	 * had all its data (0: not yet); read locklessly by sysfs */
	u64 resume_bytes;
	u64 resume_image_ns;
	unsigned long compat;		/* mockvf_compat bits */
	bool precopy_v2;		/* opt-in of the current open */
	bool reinit_capable;
	bool opened;

	/* device state */
	struct mutex data_lock;
	struct mockvf_store *st;
	unsigned long state_size;	/* st->size, also read locklessly */
	unsigned long *dirty;		/* one bit per MOCKVF_PAGE */
	unsigned long nr_dirty;
	bool running;			/* workload may dirty */
	u32 gen;			/* reconfiguration generation */
	u64 rng;

	/* workload */
	struct delayed_work wl_work;
	u64 dirty_rate;
	u32 reconfig_ms;
	u64 wl_last_ns;
	u64 wl_carry;			/* byte budget not yet spent */
	u64 wl_next_reconfig_ns;

	/* knobs and faults (under state_mutex) */
	struct mockvf_timing timing;
	struct mockvf_faults faults;

	/* transition log */
	spinlock_t log_lock;
	struct mockvf_log_ent *log;
	unsigned int log_head;		/* next slot */
	unsigned int log_len;

	/* PCI emulation (under irq_lock) */
	u8 cfg[MOCKVF_CFG_SIZE];
	u8 cfg_wmask[MOCKVF_CFG_SIZE];	/* writable bits (BARs aside) */
	u8 bar0[MOCKVF_BAR0_SIZE];
	u8 bar2[MOCKVF_BAR2_SIZE];
	struct eventfd_ctx *req_trigger;
	struct eventfd_ctx *intx_trigger;
	struct eventfd_ctx *msix_trigger[MOCKVF_MSIX_VECTORS];
	bool intx_masked;
	struct mutex irq_lock;
};

static inline bool mockvf_compat(const struct mockvf_dev *mv,
				 enum mockvf_compat bit)
{
	return test_bit(bit, &mv->compat);
}

/* Payload bytes of the END record of this device's streams. */
static inline size_t mockvf_end_len(const struct mockvf_dev *mv)
{
	return mockvf_compat(mv, MOCKVF_C_BARE_PCI) ? MOCKVF_END_LEN_BARE :
						      MOCKVF_END_LEN;
}

static inline struct mockvf_dev *vdev_to_mv(struct vfio_device *vdev)
{
	return container_of(vdev, struct mockvf_dev, vdev);
}

extern struct workqueue_struct *mockvf_wq;
extern const char *const mockvf_state_names[MOCKVF_NR_STATES];
extern const char *const mockvf_fw_names[MOCKVF_FW_NR];

#define MOCKVF_HASH_PRIME 0x100000001b3ULL

/* One step of mockvf_hash64(): mix in the 64-bit word @w. */
static inline u64 mockvf_hash_word(u64 h, u64 w)
{
	h = (h ^ w) * MOCKVF_HASH_PRIME;
	return h ^ (h >> 31);
}

/*
 * mockvf_rand() - xorshift64* step: the next pseudo-random word of @rng
 * (nonzero).  Inline: generated state calls it once per 8 bytes on both
 * ends of a stream; out of line it cost the TCG rig's raw stop-copy copy
 * 60% of its speed (76 vs 206 MB/s).
 */
static inline u64 mockvf_rand(u64 *rng)
{
	u64 x = *rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* mockvf_main.c */
u64 mockvf_hash64(u64 h, const void *buf, size_t len);
u64 mockvf_hash_init(void);
u64 mockvf_hash_final(u64 h);
u64 mockvf_page_hash(const void *page);
u64 mockvf_digest(const u64 *phash, unsigned long size);

/* mockvf_store.c */
unsigned long *mockvf_bitmap_zalloc(unsigned long bits);
void mockvf_gen_page(u64 seed, u32 idx, u32 ver, u8 *dst);
struct mockvf_store *mockvf_store_alloc(unsigned long size, u64 seed);
void mockvf_store_free(struct mockvf_store *st);
void mockvf_store_reset(struct mockvf_store *st, u64 seed);
void mockvf_store_read(struct mockvf_store *st, unsigned long idx, u8 *dst);
int mockvf_store_write(struct mockvf_store *st, u64 off, const u8 *src,
		       size_t len);
void mockvf_store_bump(struct mockvf_store *st, unsigned long idx);
u64 mockvf_store_digest(struct mockvf_store *st);
unsigned long mockvf_store_mem(const struct mockvf_store *st);
void __init mockvf_store_init(void);

/* mockvf_pci.c */
void mockvf_pci_init(struct mockvf_dev *mv);
void mockvf_pci_reset(struct mockvf_dev *mv);
void mockvf_pci_bar0_save(struct mockvf_dev *mv, u8 *buf);
void mockvf_pci_bar0_load(struct mockvf_dev *mv, const u8 *buf);
ssize_t mockvf_read(struct vfio_device *vdev, char __user *buf,
		    size_t count, loff_t *ppos);
ssize_t mockvf_write(struct vfio_device *vdev, const char __user *buf,
		     size_t count, loff_t *ppos);
long mockvf_ioctl(struct vfio_device *vdev, unsigned int cmd,
		  unsigned long arg);
void mockvf_request(struct vfio_device *vdev, unsigned int count);
void mockvf_irq_release(struct mockvf_dev *mv);

/* mockvf_mig.c */
extern const struct vfio_migration_ops mockvf_mig_ops;
void mockvf_state_mutex_unlock(struct mockvf_dev *mv);
void mockvf_reset(struct mockvf_dev *mv);
void mockvf_disable_files(struct mockvf_dev *mv);
int mockvf_device_feature(struct vfio_device *vdev, u32 flags,
			  void __user *arg, size_t argsz);
void mockvf_log_add(struct mockvf_dev *mv, u64 start, u64 end,
		    enum vfio_device_mig_state from,
		    enum vfio_device_mig_state to, int ret,
		    enum mockvf_log_tag tag);

/* mockvf_save.c */
struct mockvf_save *mockvf_save_create(struct mockvf_dev *mv, bool final,
				       u64 digest);
void mockvf_save_final(struct mockvf_save *sf, u64 digest);
void mockvf_save_disable(struct mockvf_save *sf);
void mockvf_save_reinit(struct mockvf_save *sf, bool v2);
u64 mockvf_save_estimate(struct mockvf_dev *mv);
u64 mockvf_image_bytes(unsigned long state_size);
u64 mockvf_dirty_stream_bytes(unsigned long nr_pages);

/* mockvf_resume.c */
struct mockvf_resume *mockvf_resume_create(struct mockvf_dev *mv);
int mockvf_resume_load(struct mockvf_resume *rf, u64 *bytes);
void mockvf_resume_disable(struct mockvf_resume *rf);

/* mockvf_fw.c */
extern unsigned int fw_max_concurrent;
extern unsigned int fw_max_concurrent_save;
bool mockvf_fw_get(const bool *cancel);
void mockvf_fw_put(void);
void mockvf_fw_get_save(void);
void mockvf_fw_put_save(void);
void mockvf_fw_wake(void);
void mockvf_sleep_until(u64 deadline_ns, const bool *cancel);
u64 mockvf_bw_ns(u64 bytes, u32 kbps);
int mockvf_fw_cmd(struct mockvf_dev *mv, enum mockvf_fw_cmd cmd, u64 extra_us);

/* mockvf_workload.c */
void mockvf_workload_kick(struct mockvf_dev *mv);
void mockvf_workload_fn(struct work_struct *work);
void mockvf_set_running(struct mockvf_dev *mv, bool running);
void mockvf_reconfig(struct mockvf_dev *mv);

/* mockvf_sysfs.c */
int mockvf_sysfs_add(struct mockvf_dev *mv);
void mockvf_sysfs_del(struct mockvf_dev *mv);

#endif /* MOCKVF_H */
