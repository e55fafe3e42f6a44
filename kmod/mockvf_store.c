// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_store.c - device state that is generated, not stored.
 *
 * A state of N pages keeps, per MOCKVF_PAGE, a u32 version, a u8 seed
 * slot and the page's u64 hash.  The bytes of a page are a pure function
 * mockvf_gen_page(seed, index, version): a 16-byte header (le64 seed,
 * le32 index, le32 version) and a xorshift64* stream keyed by the three.
 * Slot MOCKVF_SLOT_ZERO is an all-zero page (a fresh resume shadow);
 * slot MOCKVF_SLOT_OVL means the bytes are in @ovl, a sparse overlay of
 * real pages: whatever was written that is not a generated page (hostile
 * or partial data) is kept there exactly, so memory is bounded by what was
 * written.  Written pages that are generated ones (every page of a stream
 * from another mockvf) go back to being a descriptor: a few seeds, in a
 * small table per state, cover them all.
 *
 * The page hashes follow every change (the digest stays incremental);
 * states above MOCKVF_EAGER_HASH start with their hashes stale, filled in
 * by the first digest.
 */
#include <linux/bitmap.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/vmalloc.h>

#include "mockvf.h"

#define MOCKVF_GEN_HDR	16	/* le64 seed, le32 index, le32 version */
#define MOCKVF_WORDS	(MOCKVF_PAGE / 8)

/* The hash of an all-zero page, computed once. */
static u64 mockvf_zero_hash;

/* A zeroed bitmap of @bits; kvmalloc'd (8 GiB of pages: 256 KiB), kvfree. */
unsigned long *mockvf_bitmap_zalloc(unsigned long bits)
{
	return kvcalloc(BITS_TO_LONGS(bits), sizeof(unsigned long),
			GFP_KERNEL);
}

/* The xorshift64* state that fills page @idx version @ver of @seed. */
static u64 gen_key(u64 seed, u32 idx, u32 ver)
{
	u64 k = seed ^ (((u64)idx << 32 | ver) * 0x9e3779b97f4a7c15ULL);

	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return k | 1;
}

/* Header word 1 (bytes 8..15) of a generated page. */
static inline u64 gen_hdr_word(u32 idx, u32 ver)
{
	return (u64)ver << 32 | idx;
}

/**
 * mockvf_gen_page() - write the bytes of a generated page.
 * @seed: seed of the state the page belongs to (nonzero)
 * @idx: page index
 * @ver: page version
 * @dst: MOCKVF_PAGE bytes
 */
void mockvf_gen_page(u64 seed, u32 idx, u32 ver, u8 *dst)
{
	u64 rng = gen_key(seed, idx, ver);
	unsigned int i;

	put_unaligned_le64(seed, dst);
	put_unaligned_le64(gen_hdr_word(idx, ver), dst + 8);
	for (i = 2; i < MOCKVF_WORDS; i++)
		put_unaligned_le64(mockvf_rand(&rng), dst + 8 * i);
}

/* mockvf_page_hash() of mockvf_gen_page(), without the page. */
static u64 gen_page_hash(u64 seed, u32 idx, u32 ver)
{
	u64 rng = gen_key(seed, idx, ver), h = mockvf_hash_init();
	unsigned int i;

	h = mockvf_hash_word(h, seed);
	h = mockvf_hash_word(h, gen_hdr_word(idx, ver));
	for (i = 2; i < MOCKVF_WORDS; i++)
		h = mockvf_hash_word(h, mockvf_rand(&rng));
	return mockvf_hash_final(h);
}

/*
 * Whether @src (a whole page whose header words are @seed and
 * gen_hdr_word(@idx, @ver)) is mockvf_gen_page(seed, idx, ver); if so,
 * *@hash is its mockvf_page_hash(), computed in the same pass.
 */
static bool gen_page_equal(u64 seed, u32 idx, u32 ver, const u8 *src,
			   u64 *hash)
{
	u64 rng = gen_key(seed, idx, ver), h = mockvf_hash_init(), w;
	unsigned int i;

	h = mockvf_hash_word(h, seed);
	h = mockvf_hash_word(h, gen_hdr_word(idx, ver));
	for (i = 2; i < MOCKVF_WORDS; i++) {
		w = get_unaligned_le64(src + 8 * i);
		if (w != mockvf_rand(&rng))
			return false;
		h = mockvf_hash_word(h, w);
	}
	*hash = mockvf_hash_final(h);
	return true;
}

static void store_hash_all(struct mockvf_store *st)
{
	unsigned long i;

	for (i = 0; i < st->nr_pages; i++) {
		st->phash[i] = gen_page_hash(st->seeds[st->slot[i]], i,
					     st->ver[i]);
		cond_resched();
	}
	bitmap_zero(st->stale, st->nr_pages);
	st->nr_stale = 0;
}

static void store_drop_overlay(struct mockvf_store *st)
{
	unsigned long idx;
	void *pg;

	xa_for_each(&st->ovl, idx, pg)
		kfree(pg);
	xa_destroy(&st->ovl);
	st->nr_ovl = 0;
}

/**
 * mockvf_store_alloc() - a new state of @size bytes.
 * @size: bytes, a nonzero multiple of MOCKVF_PAGE
 * @seed: 0 for an all-zero state (a resume shadow), else the seed of
 *	  its generated pages (every page at version 0)
 *
 * Allocates only the per-page metadata (13 bytes and two bits a page).
 * Return: the state, or NULL.
 */
struct mockvf_store *mockvf_store_alloc(unsigned long size, u64 seed)
{
	unsigned long i, n = size / MOCKVF_PAGE;
	struct mockvf_store *st;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return NULL;
	st->size = size;
	st->nr_pages = n;
	xa_init(&st->ovl);
	st->ver = kvcalloc(n, sizeof(*st->ver), GFP_KERNEL);
	if (!st->ver)
		goto err;
	st->slot = kvmalloc(n, GFP_KERNEL);
	if (!st->slot)
		goto err;
	st->phash = kvmalloc_array(n, sizeof(*st->phash), GFP_KERNEL);
	if (!st->phash)
		goto err;
	st->stale = mockvf_bitmap_zalloc(n);
	if (!st->stale)
		goto err;
	st->scratch = kmalloc(MOCKVF_PAGE, GFP_KERNEL);
	if (!st->scratch)
		goto err;
	if (!seed) {
		memset(st->slot, MOCKVF_SLOT_ZERO, n);
		for (i = 0; i < n; i++)
			st->phash[i] = mockvf_zero_hash;
		return st;
	}
	mockvf_store_reset(st, seed);
	return st;
err:
	mockvf_store_free(st);
	return NULL;
}

/* Free @st (NULL allowed) and its overlay pages. */
void mockvf_store_free(struct mockvf_store *st)
{
	if (!st)
		return;
	store_drop_overlay(st);
	kfree(st->scratch);
	kvfree(st->stale);
	kvfree(st->phash);
	kvfree(st->slot);
	kvfree(st->ver);
	kfree(st);
}

/**
 * mockvf_store_reset() - make every page generated from @seed, version 0.
 * @st: state
 * @seed: new seed (nonzero)
 *
 * The overlay and the seed table are dropped.  Up to MOCKVF_EAGER_HASH
 * the page hashes are computed now, above it by the next digest.
 */
void mockvf_store_reset(struct mockvf_store *st, u64 seed)
{
	store_drop_overlay(st);
	memset(st->seeds, 0, sizeof(st->seeds));
	st->seeds[0] = seed | 1;
	st->nr_seeds = 1;
	memset(st->ver, 0, st->nr_pages * sizeof(*st->ver));
	memset(st->slot, 0, st->nr_pages);
	if (st->size <= MOCKVF_EAGER_HASH) {
		store_hash_all(st);
		return;
	}
	bitmap_fill(st->stale, st->nr_pages);
	st->nr_stale = st->nr_pages;
}

/* Read page @idx into @dst (MOCKVF_PAGE bytes). */
void mockvf_store_read(struct mockvf_store *st, unsigned long idx, u8 *dst)
{
	u8 slot = st->slot[idx];

	if (slot == MOCKVF_SLOT_ZERO)
		memset(dst, 0, MOCKVF_PAGE);
	else if (slot == MOCKVF_SLOT_OVL)
		memcpy(dst, xa_load(&st->ovl, idx), MOCKVF_PAGE);
	else
		mockvf_gen_page(st->seeds[slot], idx, st->ver[idx], dst);
}

static void store_set_hash(struct mockvf_store *st, unsigned long idx, u64 h)
{
	st->phash[idx] = h;
	if (__test_and_clear_bit(idx, st->stale))
		st->nr_stale--;
}

static void store_unoverlay(struct mockvf_store *st, unsigned long idx)
{
	if (st->slot[idx] == MOCKVF_SLOT_OVL) {
		kfree(xa_erase(&st->ovl, idx));
		st->nr_ovl--;
	}
}

/*
 * Whether @src is a generated page of index @idx whose seed is in the
 * table or fits in it (then it is added); sets *@slot, *@ver and *@hash.
 */
static bool store_classify(struct mockvf_store *st, unsigned long idx,
			   const u8 *src, u8 *slot, u32 *ver, u64 *hash)
{
	u64 seed = get_unaligned_le64(src);
	u64 w = get_unaligned_le64(src + 8);
	unsigned int i;

	if (!seed || (u32)w != idx)
		return false;
	for (i = 0; i < st->nr_seeds; i++)
		if (st->seeds[i] == seed)
			break;
	if (i == MOCKVF_NR_SEEDS)
		return false;
	if (!gen_page_equal(seed, idx, w >> 32, src, hash))
		return false;
	if (i == st->nr_seeds)
		st->seeds[st->nr_seeds++] = seed;
	*slot = i;
	*ver = w >> 32;
	return true;
}

/* Store one whole page; Return: 0 or -ENOMEM (the page is unchanged). */
static int store_put_page(struct mockvf_store *st, unsigned long idx,
			  const u8 *src)
{
	u64 hash;
	u32 ver;
	void *pg;
	u8 slot;
	int ret;

	if (store_classify(st, idx, src, &slot, &ver, &hash)) {
		store_unoverlay(st, idx);
		st->slot[idx] = slot;
		st->ver[idx] = ver;
		store_set_hash(st, idx, hash);
		return 0;
	}
	if (!memchr_inv(src, 0, MOCKVF_PAGE)) {
		store_unoverlay(st, idx);
		st->slot[idx] = MOCKVF_SLOT_ZERO;
		store_set_hash(st, idx, mockvf_zero_hash);
		return 0;
	}
	if (st->slot[idx] == MOCKVF_SLOT_OVL) {
		memcpy(xa_load(&st->ovl, idx), src, MOCKVF_PAGE);
	} else {
		pg = kmemdup(src, MOCKVF_PAGE, GFP_KERNEL_ACCOUNT);
		if (!pg)
			return -ENOMEM;
		ret = xa_err(xa_store(&st->ovl, idx, pg, GFP_KERNEL_ACCOUNT));
		if (ret) {
			kfree(pg);
			return ret;
		}
		st->nr_ovl++;
		st->slot[idx] = MOCKVF_SLOT_OVL;
	}
	store_set_hash(st, idx, mockvf_page_hash(src));
	return 0;
}

/**
 * mockvf_store_write() - write bytes at an offset of the state.
 * @st: state
 * @off: byte offset
 * @src: bytes
 * @len: bytes, @off + @len within the state (checked by the caller)
 *
 * Each page touched ends up a descriptor (a generated or zero page) or an
 * overlay page holding exactly its new bytes; its hash is updated.
 * Return: 0, or -ENOMEM (pages before the failing one are written).
 */
int mockvf_store_write(struct mockvf_store *st, u64 off, const u8 *src,
		       size_t len)
{
	unsigned long idx;
	size_t in, n;
	int ret;

	while (len) {
		idx = off / MOCKVF_PAGE;
		in = off % MOCKVF_PAGE;
		n = min_t(size_t, len, MOCKVF_PAGE - in);
		if (n == MOCKVF_PAGE) {
			ret = store_put_page(st, idx, src);
		} else {
			mockvf_store_read(st, idx, st->scratch);
			memcpy(st->scratch + in, src, n);
			ret = store_put_page(st, idx, st->scratch);
		}
		if (ret)
			return ret;
		off += n;
		src += n;
		len -= n;
	}
	return 0;
}

/**
 * mockvf_store_bump() - change page @idx (the workload, a reconfiguration).
 * @st: state
 * @idx: page index
 *
 * The page becomes the next version of its generated content; an overlay
 * or zero page becomes a generated page of the state's first seed (a
 * state that never had one gets a random seed).
 */
void mockvf_store_bump(struct mockvf_store *st, unsigned long idx)
{
	u8 slot = st->slot[idx];

	if (slot == MOCKVF_SLOT_OVL || slot == MOCKVF_SLOT_ZERO) {
		store_unoverlay(st, idx);
		if (!st->nr_seeds)
			st->seeds[st->nr_seeds++] = get_random_u64() | 1;
		slot = 0;
		st->slot[idx] = slot;
	}
	st->ver[idx]++;
	store_set_hash(st, idx, gen_page_hash(st->seeds[slot], idx,
					      st->ver[idx]));
}

static u64 store_page_hash(struct mockvf_store *st, unsigned long idx)
{
	u8 slot = st->slot[idx];

	if (slot == MOCKVF_SLOT_ZERO)
		return mockvf_zero_hash;
	if (slot == MOCKVF_SLOT_OVL)
		return mockvf_page_hash(xa_load(&st->ovl, idx));
	return gen_page_hash(st->seeds[slot], idx, st->ver[idx]);
}

/**
 * mockvf_store_digest() - the digest of the state (see mockvf_digest()).
 * @st: state
 *
 * Stale page hashes (a large state never digested since it was created
 * or reset) are computed first: O(state size) once, O(pages) after.
 * Return: the digest.
 */
u64 mockvf_store_digest(struct mockvf_store *st)
{
	unsigned long i;

	if (st->nr_stale) {
		for_each_set_bit(i, st->stale, st->nr_pages) {
			st->phash[i] = store_page_hash(st, i);
			cond_resched();
		}
		bitmap_zero(st->stale, st->nr_pages);
		st->nr_stale = 0;
	}
	return mockvf_digest(st->phash, st->size);
}

/* Bytes this state holds in memory: metadata plus overlay pages. */
unsigned long mockvf_store_mem(const struct mockvf_store *st)
{
	unsigned long n = st->nr_pages;

	return sizeof(*st) + MOCKVF_PAGE + n * (sizeof(u32) + 1 + sizeof(u64)) +
	       BITS_TO_LONGS(n) * sizeof(long) + st->nr_ovl * MOCKVF_PAGE;
}

void __init mockvf_store_init(void)
{
	u64 h = mockvf_hash_init();
	unsigned int i;

	for (i = 0; i < MOCKVF_WORDS; i++)
		h = mockvf_hash_word(h, 0);
	mockvf_zero_hash = mockvf_hash_final(h);
}
