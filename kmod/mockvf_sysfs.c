// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_sysfs.c - per-device knobs, faults and transition log under
 * /sys/bus/mdev/devices/<uuid>/mockvf/ (ABI: docs/mockvf.md).
 */
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/vmalloc.h>

#include "mockvf.h"

struct mockvf_kobj {
	struct kobject kobj;
	struct mockvf_dev *mv;
};

/* Number parsing for knobs: every malformed or out-of-range value is EINVAL. */
static int parse_u64(const char *buf, u64 *v)
{
	return kstrtou64(buf, 0, v) ? -EINVAL : 0;
}

static int parse_u32(const char *buf, u32 *v)
{
	return kstrtou32(buf, 0, v) ? -EINVAL : 0;
}

static struct mockvf_dev *kobj_mv(struct kobject *kobj)
{
	return container_of(kobj, struct mockvf_kobj, kobj)->mv;
}

static int parse_state(const char *s)
{
	int i;

	for (i = 0; i < MOCKVF_NR_STATES; i++)
		if (!strcmp(s, mockvf_state_names[i]))
			return i;
	return -EINVAL;
}

#define MV_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define MV_RW(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)
#define MV_WO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_WO(_name)

static ssize_t profile_show(struct kobject *kobj, struct kobj_attribute *a,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", kobj_mv(kobj)->prof->name);
}
MV_RO(profile);

static ssize_t state_show(struct kobject *kobj, struct kobj_attribute *a,
			  char *buf)
{
	u32 st = READ_ONCE(kobj_mv(kobj)->state);

	return sysfs_emit(buf, "%s\n", mockvf_state_names[st]);
}
MV_RO(state);

static ssize_t digest_show(struct kobject *kobj, struct kobj_attribute *a,
			   char *buf)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	u64 d;

	mutex_lock(&mv->data_lock);
	d = mockvf_store_digest(mv->st);
	mutex_unlock(&mv->data_lock);
	return sysfs_emit(buf, "%016llx\n", d);
}
MV_RO(digest);

static ssize_t saved_digest_show(struct kobject *kobj,
				 struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%016llx\n",
			  READ_ONCE(kobj_mv(kobj)->saved_digest));
}
MV_RO(saved_digest);

static ssize_t resume_bytes_show(struct kobject *kobj,
				 struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  READ_ONCE(kobj_mv(kobj)->resume_bytes));
}
MV_RO(resume_bytes);

static ssize_t resume_image_ns_show(struct kobject *kobj,
				    struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  READ_ONCE(kobj_mv(kobj)->resume_image_ns));
}
MV_RO(resume_image_ns);

static ssize_t state_size_show(struct kobject *kobj,
			       struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(kobj_mv(kobj)->state_size));
}

static ssize_t state_size_store(struct kobject *kobj,
				struct kobj_attribute *a, const char *buf,
				size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	unsigned long *dirty, *old_dirty;
	struct mockvf_store *st, *old;
	u64 v;
	int ret;

	ret = parse_u64(buf, &v);
	if (ret)
		return ret;
	if (!v || v > MOCKVF_MAX_STATE_SIZE || v % MOCKVF_PAGE)
		return -EINVAL;
	/* metadata only: the pages are generated from a new seed */
	st = mockvf_store_alloc(v, get_random_u64());
	dirty = mockvf_bitmap_zalloc(v / MOCKVF_PAGE);
	if (!st || !dirty) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (mutex_lock_interruptible(&mv->state_mutex)) {
		ret = -ERESTARTSYS;
		goto out_free;
	}
	if (mv->state != VFIO_DEVICE_STATE_RUNNING || mv->save ||
	    mv->resume) {
		mockvf_state_mutex_unlock(mv);
		ret = -EBUSY;
		goto out_free;
	}
	mutex_lock(&mv->data_lock);
	old = mv->st;
	old_dirty = mv->dirty;
	mv->st = st;
	mv->dirty = dirty;
	mv->nr_dirty = 0;
	WRITE_ONCE(mv->state_size, v);
	mutex_unlock(&mv->data_lock);
	mockvf_state_mutex_unlock(mv);
	st = old;
	dirty = old_dirty;
	ret = count;
out_free:
	mockvf_store_free(st);
	kvfree(dirty);
	return ret;
}
MV_RW(state_size);

static ssize_t state_mem_show(struct kobject *kobj,
			      struct kobj_attribute *a, char *buf)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	unsigned long m;

	mutex_lock(&mv->data_lock);
	m = mockvf_store_mem(mv->st) +
	    BITS_TO_LONGS(mv->st->nr_pages) * sizeof(long);
	mutex_unlock(&mv->data_lock);
	return sysfs_emit(buf, "%lu\n", m);
}
MV_RO(state_mem);

static ssize_t state_overlay_pages_show(struct kobject *kobj,
					struct kobj_attribute *a, char *buf)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	unsigned long n;

	mutex_lock(&mv->data_lock);
	n = mv->st->nr_ovl;
	mutex_unlock(&mv->data_lock);
	return sysfs_emit(buf, "%lu\n", n);
}
MV_RO(state_overlay_pages);

static ssize_t dirty_rate_show(struct kobject *kobj,
			       struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(kobj_mv(kobj)->dirty_rate));
}

static ssize_t dirty_rate_store(struct kobject *kobj,
				struct kobj_attribute *a, const char *buf,
				size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	u64 v;
	int ret = parse_u64(buf, &v);

	if (ret)
		return ret;
	if (v > (1ULL << 30))
		return -EINVAL;
	WRITE_ONCE(mv->dirty_rate, v);
	mockvf_workload_kick(mv);
	return count;
}
MV_RW(dirty_rate);

static ssize_t reconfig_interval_ms_show(struct kobject *kobj,
					 struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(kobj_mv(kobj)->reconfig_ms));
}

static ssize_t reconfig_interval_ms_store(struct kobject *kobj,
					  struct kobj_attribute *a,
					  const char *buf, size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	u32 v;
	int ret = parse_u32(buf, &v);

	if (ret)
		return ret;
	if (v && (v < 10 || v > 3600000))
		return -EINVAL;
	mutex_lock(&mv->data_lock);
	mv->wl_next_reconfig_ns = 0;
	WRITE_ONCE(mv->reconfig_ms, v);
	mutex_unlock(&mv->data_lock);
	mockvf_workload_kick(mv);
	return count;
}
MV_RW(reconfig_interval_ms);

static ssize_t reconfig_store(struct kobject *kobj, struct kobj_attribute *a,
			      const char *buf, size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	u32 v;
	int ret = parse_u32(buf, &v);

	if (ret)
		return ret;
	if (v != 1)
		return -EINVAL;
	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	if (mv->state == VFIO_DEVICE_STATE_RUNNING ||
	    mv->state == VFIO_DEVICE_STATE_PRE_COPY) {
		mockvf_reconfig(mv);
		ret = count;
	} else {
		ret = -EBUSY;
	}
	mockvf_state_mutex_unlock(mv);
	return ret;
}
MV_WO(reconfig);

static ssize_t reinit_capable_show(struct kobject *kobj,
				   struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(kobj_mv(kobj)->reinit_capable));
}

static ssize_t reinit_capable_store(struct kobject *kobj,
				    struct kobj_attribute *a,
				    const char *buf, size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	bool pre = mv->prof->mig_flags & VFIO_MIGRATION_PRE_COPY;
	u32 v;
	int ret = parse_u32(buf, &v);

	if (ret)
		return ret;
	if (v > 1 || (v && !pre))
		return -EINVAL;
	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	if (!v && mv->precopy_v2) {
		ret = -EBUSY;	/* the current open already opted in */
	} else {
		WRITE_ONCE(mv->reinit_capable, v);
		ret = count;
	}
	mockvf_state_mutex_unlock(mv);
	return ret;
}
MV_RW(reinit_capable);

static ssize_t precopy_info_v2_show(struct kobject *kobj,
				    struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(kobj_mv(kobj)->precopy_v2));
}
MV_RO(precopy_info_v2);

/* ---- fidelity knobs: 1 = the mock's original behaviour, 0 = mlx5 ---- */

enum mockvf_knob_busy {
	MOCKVF_BUSY_NEVER,
	MOCKVF_BUSY_RESUME,	/* a resuming data_fd is live */
	MOCKVF_BUSY_SAVE,	/* a saving data_fd is live */
	MOCKVF_BUSY_ERROR,	/* the device is in ERROR */
	MOCKVF_BUSY_OPEN,	/* the device is open (its PCI face changes) */
};

struct mockvf_knob {
	struct kobj_attribute attr;
	enum mockvf_compat bit;
	enum mockvf_knob_busy busy;
};

static ssize_t knob_show(struct kobject *kobj, struct kobj_attribute *a,
			 char *buf)
{
	struct mockvf_knob *k = container_of(a, struct mockvf_knob, attr);

	return sysfs_emit(buf, "%d\n", mockvf_compat(kobj_mv(kobj), k->bit));
}

static ssize_t knob_store(struct kobject *kobj, struct kobj_attribute *a,
			  const char *buf, size_t count)
{
	struct mockvf_knob *k = container_of(a, struct mockvf_knob, attr);
	struct mockvf_dev *mv = kobj_mv(kobj);
	bool busy;
	u32 v;
	int ret = parse_u32(buf, &v);

	if (ret)
		return ret;
	if (v > 1)
		return -EINVAL;
	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	switch (k->busy) {
	case MOCKVF_BUSY_RESUME:
		busy = mv->resume;
		break;
	case MOCKVF_BUSY_SAVE:
		busy = mv->save;
		break;
	case MOCKVF_BUSY_ERROR:
		busy = mv->state == VFIO_DEVICE_STATE_ERROR;
		break;
	case MOCKVF_BUSY_OPEN:
		busy = mv->opened;
		break;
	default:
		busy = false;
	}
	if (busy) {
		ret = -EBUSY;
	} else {
		assign_bit(k->bit, &mv->compat, v);
		if (k->bit == MOCKVF_C_BARE_PCI) {
			mutex_lock(&mv->irq_lock);
			mockvf_pci_init(mv);
			mutex_unlock(&mv->irq_lock);
		}
		ret = count;
	}
	mockvf_state_mutex_unlock(mv);
	return ret;
}

#define MV_KNOB(_name, _bit, _busy)					\
	static struct mockvf_knob knob_##_name = {			\
		.attr = __ATTR(_name, 0644, knob_show, knob_store),	\
		.bit = _bit,						\
		.busy = _busy,						\
	}

MV_KNOB(resume_strict, MOCKVF_C_RESUME_STRICT, MOCKVF_BUSY_RESUME);
MV_KNOB(load_at_stop, MOCKVF_C_LOAD_AT_STOP, MOCKVF_BUSY_RESUME);
MV_KNOB(data_size_left, MOCKVF_C_DATA_SIZE_LEFT, MOCKVF_BUSY_NEVER);
MV_KNOB(precopy_info_eager, MOCKVF_C_PRECOPY_INFO_EAGER, MOCKVF_BUSY_SAVE);
MV_KNOB(precopy_read_wait, MOCKVF_C_PRECOPY_READ_WAIT, MOCKVF_BUSY_SAVE);
MV_KNOB(error_on_fail, MOCKVF_C_ERROR_ON_FAIL, MOCKVF_BUSY_ERROR);
MV_KNOB(reset_keeps_state, MOCKVF_C_RESET_KEEPS_STATE, MOCKVF_BUSY_NEVER);
MV_KNOB(bare_pci, MOCKVF_C_BARE_PCI, MOCKVF_BUSY_OPEN);

/* ---- faults ---- */

static ssize_t fault_show(struct kobject *kobj, struct kobj_attribute *a,
			  char *buf)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	struct mockvf_faults *f = &mv->faults;
	int i, j, n = 0;

	if (mutex_lock_interruptible(&mv->state_mutex))
		return -ERESTARTSYS;
	for (i = 0; i < MOCKVF_NR_STATES; i++)
		if (f->fail_count[i])
			n += sysfs_emit_at(buf, n, "fail %s %u %u\n",
					   mockvf_state_names[i],
					   f->fail_count[i], f->fail_errno[i]);
	if (f->corrupt_at != U64_MAX)
		n += sysfs_emit_at(buf, n, "corrupt %llu\n", f->corrupt_at);
	if (f->truncate_at != U64_MAX)
		n += sysfs_emit_at(buf, n, "truncate %llu\n", f->truncate_at);
	for (i = 0; i < MOCKVF_NR_STATES; i++)
		for (j = 0; j < MOCKVF_NR_STATES; j++)
			if (f->delay_us[i][j])
				n += sysfs_emit_at(buf, n, "delay %s %s %u\n",
						   mockvf_state_names[i],
						   mockvf_state_names[j],
						   f->delay_us[i][j]);
	mockvf_state_mutex_unlock(mv);
	return n;
}

static int fault_parse(struct mockvf_dev *mv, char *line)
{
	struct mockvf_faults *f = &mv->faults;
	char *argv[5];
	int argc = 0, st, st2;
	char *tok;
	u32 a, b;
	u64 off;

	while ((tok = strsep(&line, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (argc == ARRAY_SIZE(argv))
			return -EINVAL;
		argv[argc++] = tok;
	}
	if (argc == 1 && !strcmp(argv[0], "clear")) {
		memset(f, 0, sizeof(*f));
		f->corrupt_at = U64_MAX;
		f->truncate_at = U64_MAX;
		return 0;
	}
	if (argc == 4 && !strcmp(argv[0], "fail")) {
		st = parse_state(argv[1]);
		if (st <= 0 || parse_u32(argv[2], &a) ||
		    parse_u32(argv[3], &b) || !a || a > 1000000 ||
		    !b || b > MOCKVF_MAX_USER_ERRNO)
			return -EINVAL;
		f->fail_count[st] = a;
		f->fail_errno[st] = b;
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[0], "corrupt") ||
			  !strcmp(argv[0], "truncate"))) {
		if (parse_u64(argv[1], &off) || off == U64_MAX)
			return -EINVAL;
		if (argv[0][0] == 'c')
			f->corrupt_at = off;
		else
			f->truncate_at = off;
		return 0;
	}
	if (argc == 4 && !strcmp(argv[0], "delay")) {
		st = parse_state(argv[1]);
		st2 = parse_state(argv[2]);
		if (st <= 0 || st2 <= 0 || st == st2 ||
		    parse_u32(argv[3], &a) || a > MOCKVF_MAX_TIMING_US)
			return -EINVAL;
		f->delay_us[st][st2] = a;
		return 0;
	}
	return -EINVAL;
}

static ssize_t fault_store(struct kobject *kobj, struct kobj_attribute *a,
			   const char *buf, size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	char *line;
	int ret;

	line = kstrndup(buf, count, GFP_KERNEL);
	if (!line)
		return -ENOMEM;
	if (mutex_lock_interruptible(&mv->state_mutex)) {
		kfree(line);
		return -ERESTARTSYS;
	}
	ret = fault_parse(mv, line);
	mockvf_state_mutex_unlock(mv);
	kfree(line);
	return ret ? ret : count;
}
MV_RW(fault);

/* ---- transition log (binary attribute: may exceed a page) ---- */

static const char *const tag_names[] = {
	[MOCKVF_TAG_NONE] = "",
	[MOCKVF_TAG_FAULT] = " fault",
	[MOCKVF_TAG_DELAY] = " delay",
	[MOCKVF_TAG_CORRUPT] = " corrupt",
	[MOCKVF_TAG_TRUNCATE] = " truncate",
	[MOCKVF_TAG_RESET] = " reset",
};

static ssize_t log_read(struct file *filp, struct kobject *kobj,
			struct bin_attribute *attr, char *buf, loff_t off,
			size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);
	struct mockvf_log_ent *snap;
	unsigned int n, first, i;
	char line[96];
	loff_t pos = 0;
	size_t done = 0;
	int len;

	snap = vmalloc_array(MOCKVF_LOG_ENTRIES, sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	spin_lock(&mv->log_lock);
	n = mv->log_len;
	first = (mv->log_head + MOCKVF_LOG_ENTRIES - n) % MOCKVF_LOG_ENTRIES;
	for (i = 0; i < n; i++)
		snap[i] = mv->log[(first + i) % MOCKVF_LOG_ENTRIES];
	spin_unlock(&mv->log_lock);

	for (i = 0; i < n && done < count; i++) {
		struct mockvf_log_ent *e = &snap[i];

		len = scnprintf(line, sizeof(line), "%llu %llu %s %s %d%s\n",
				e->start_ns, e->end_ns,
				mockvf_state_names[e->from],
				mockvf_state_names[e->to], e->ret,
				tag_names[e->tag]);
		if (pos + len > off) {
			size_t skip = off > pos ? off - pos : 0;
			size_t c = min_t(size_t, len - skip, count - done);

			memcpy(buf + done, line + skip, c);
			done += c;
		}
		pos += len;
	}
	vfree(snap);
	return done;
}

static ssize_t log_write(struct file *filp, struct kobject *kobj,
			 struct bin_attribute *attr, char *buf, loff_t off,
			 size_t count)
{
	struct mockvf_dev *mv = kobj_mv(kobj);

	if (off || count < 5 || count > 6 || memcmp(buf, "clear", 5) ||
	    (count == 6 && buf[5] != '\n'))
		return -EINVAL;
	spin_lock(&mv->log_lock);
	mv->log_head = 0;
	mv->log_len = 0;
	spin_unlock(&mv->log_lock);
	return count;
}

static BIN_ATTR_RW(log, 0);

/* ---- timing ---- */

static ssize_t timing_show(struct kobject *kobj, struct kobj_attribute *a,
			   char *buf);
static ssize_t timing_store(struct kobject *kobj, struct kobj_attribute *a,
			    const char *buf, size_t count);

#define TIMING_ATTR(_name) \
	static struct kobj_attribute timing_##_name##_attr = \
		__ATTR(_name, 0644, timing_show, timing_store)

TIMING_ATTR(suspend_initiator_us);
TIMING_ATTR(suspend_responder_us);
TIMING_ATTR(resume_initiator_us);
TIMING_ATTR(resume_responder_us);
TIMING_ATTR(save_start_us);
TIMING_ATTR(load_us);
TIMING_ATTR(save_bw_kbps);
TIMING_ATTR(load_bw_kbps);

static u32 *timing_field(struct mockvf_dev *mv, struct kobj_attribute *a)
{
	struct mockvf_timing *t = &mv->timing;

	if (a == &timing_suspend_initiator_us_attr)
		return &t->us[MOCKVF_FW_SUSPEND_INIT];
	if (a == &timing_suspend_responder_us_attr)
		return &t->us[MOCKVF_FW_SUSPEND_RESP];
	if (a == &timing_resume_initiator_us_attr)
		return &t->us[MOCKVF_FW_RESUME_INIT];
	if (a == &timing_resume_responder_us_attr)
		return &t->us[MOCKVF_FW_RESUME_RESP];
	if (a == &timing_save_start_us_attr)
		return &t->us[MOCKVF_FW_SAVE_START];
	if (a == &timing_load_us_attr)
		return &t->us[MOCKVF_FW_LOAD];
	if (a == &timing_save_bw_kbps_attr)
		return &t->save_bw_kbps;
	return &t->load_bw_kbps;
}

static ssize_t timing_show(struct kobject *kobj, struct kobj_attribute *a,
			   char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(*timing_field(kobj_mv(kobj), a)));
}

static ssize_t timing_store(struct kobject *kobj, struct kobj_attribute *a,
			    const char *buf, size_t count)
{
	bool bw = a == &timing_save_bw_kbps_attr ||
		  a == &timing_load_bw_kbps_attr;
	u32 v;
	int ret = parse_u32(buf, &v);

	if (ret)
		return ret;
	/* latencies up to 10 s; bandwidth up to 100 GiB/s */
	if (v > (bw ? 100U << 20 : MOCKVF_MAX_TIMING_US))
		return -EINVAL;
	WRITE_ONCE(*timing_field(kobj_mv(kobj), a), v);
	return count;
}

static struct attribute *mockvf_attrs[] = {
	&profile_attr.attr,
	&state_attr.attr,
	&digest_attr.attr,
	&saved_digest_attr.attr,
	&resume_bytes_attr.attr,
	&resume_image_ns_attr.attr,
	&state_size_attr.attr,
	&state_mem_attr.attr,
	&state_overlay_pages_attr.attr,
	&dirty_rate_attr.attr,
	&reconfig_interval_ms_attr.attr,
	&reconfig_attr.attr,
	&reinit_capable_attr.attr,
	&precopy_info_v2_attr.attr,
	&fault_attr.attr,
	&knob_resume_strict.attr.attr,
	&knob_load_at_stop.attr.attr,
	&knob_data_size_left.attr.attr,
	&knob_precopy_info_eager.attr.attr,
	&knob_precopy_read_wait.attr.attr,
	&knob_error_on_fail.attr.attr,
	&knob_reset_keeps_state.attr.attr,
	&knob_bare_pci.attr.attr,
	NULL,
};

static struct bin_attribute *mockvf_bin_attrs[] = {
	&bin_attr_log,
	NULL,
};

static const struct attribute_group mockvf_group = {
	.attrs = mockvf_attrs,
	.bin_attrs = mockvf_bin_attrs,
};

static struct attribute *mockvf_timing_attrs[] = {
	&timing_suspend_initiator_us_attr.attr,
	&timing_suspend_responder_us_attr.attr,
	&timing_resume_initiator_us_attr.attr,
	&timing_resume_responder_us_attr.attr,
	&timing_save_start_us_attr.attr,
	&timing_load_us_attr.attr,
	&timing_save_bw_kbps_attr.attr,
	&timing_load_bw_kbps_attr.attr,
	NULL,
};

static const struct attribute_group mockvf_timing_group = {
	.name = "timing",
	.attrs = mockvf_timing_attrs,
};

static const struct attribute_group *mockvf_groups[] = {
	&mockvf_group,
	&mockvf_timing_group,
	NULL,
};

static void mockvf_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct mockvf_kobj, kobj));
}

static ssize_t mockvf_attr_show(struct kobject *kobj, struct attribute *attr,
				char *buf)
{
	struct kobj_attribute *ka = container_of(attr, struct kobj_attribute,
						 attr);

	return ka->show ? ka->show(kobj, ka, buf) : -EIO;
}

/*
 * sysfs hands a store at most PAGE_SIZE bytes of a longer write, so a value
 * that long may be a truncated one: refuse it rather than accept a prefix.
 */
static ssize_t mockvf_attr_store(struct kobject *kobj, struct attribute *attr,
				 const char *buf, size_t count)
{
	struct kobj_attribute *ka = container_of(attr, struct kobj_attribute,
						 attr);

	if (count >= PAGE_SIZE)
		return -EINVAL;
	return ka->store ? ka->store(kobj, ka, buf, count) : -EIO;
}

static const struct sysfs_ops mockvf_sysfs_ops = {
	.show = mockvf_attr_show,
	.store = mockvf_attr_store,
};

static const struct kobj_type mockvf_ktype = {
	.release = mockvf_kobj_release,
	.sysfs_ops = &mockvf_sysfs_ops,
	.default_groups = mockvf_groups,
};

int mockvf_sysfs_add(struct mockvf_dev *mv)
{
	struct mockvf_kobj *mk;
	int ret;

	mk = kzalloc(sizeof(*mk), GFP_KERNEL);
	if (!mk)
		return -ENOMEM;
	mk->mv = mv;
	ret = kobject_init_and_add(&mk->kobj, &mockvf_ktype,
				   &mv->mdev->dev.kobj, "mockvf");
	if (ret) {
		kobject_put(&mk->kobj);
		return ret;
	}
	mv->kobj = &mk->kobj;
	return 0;
}

/* Removes the directory; returns after every knob callback finished. */
void mockvf_sysfs_del(struct mockvf_dev *mv)
{
	if (!mv->kobj)
		return;
	kobject_del(mv->kobj);
	kobject_put(mv->kobj);
	mv->kobj = NULL;
}
