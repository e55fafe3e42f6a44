/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - shared helpers of the selftests/fuzz programs (header only:
 * every selftests/fuzz/<name>.c is built as a program of its own).
 *
 *  - a seeded PRNG (xorshift64*): seed from $FUZZ_SEED, else the clock,
 *    always printed so a failing run can be replayed;
 *  - iteration counts scaled by $FUZZ_ITERS (a multiplier, default 1) and a
 *    wall-clock cap per test (scaled too);
 *  - the mockvf save stream record layout and hash, to build streams that
 *    pass the record checksums but carry wrong (or different) content;
 *  - mockvf module reference count, for the leak checks.
 */
#ifndef VFIO_MIGTEST_FUZZ_H
#define VFIO_MIGTEST_FUZZ_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vfio_dev.h"

/* ---- PRNG ---- */

struct frng {
	uint64_t s;
};

static inline uint64_t frng_next(struct frng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) (n > 0; the bias is irrelevant here). */
static inline uint64_t frng_below(struct frng *r, uint64_t n)
{
	return n ? frng_next(r) % n : 0;
}

/* True with probability 1/n. */
static inline int frng_one_in(struct frng *r, unsigned n)
{
	return frng_below(r, n) == 0;
}

static inline void frng_fill(struct frng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t v = frng_next(r);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

/*
 * fuzz_seed() - the seed of this test: $FUZZ_SEED (decimal or 0x hex) or
 * the clock mixed with the test's salt.  Logged with the replay recipe.
 */
static inline uint64_t fuzz_seed(const char *test)
{
	const char *env = getenv("FUZZ_SEED");
	struct timespec ts;
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^
		       ((uint64_t)getpid() << 32);
	}
	if (!seed)
		seed = 1;
	mt_log("%s: seed %#llx (replay: FUZZ_SEED=%#llx)", test,
	       (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

static inline void frng_init(struct frng *r, uint64_t seed)
{
	r->s = seed ? seed : 1;
	/* decorrelate small seeds */
	for (int i = 0; i < 4; i++)
		frng_next(r);
}

/* ---- budgets ---- */

/* $FUZZ_ITERS: a multiplier of every iteration count and time cap. */
static inline unsigned fuzz_scale(void)
{
	const char *env = getenv("FUZZ_ITERS");
	long v = env ? strtol(env, NULL, 0) : 1;

	return v >= 1 && v <= 1000000 ? (unsigned)v : 1;
}

static inline double fuzz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct fuzz_budget {
	unsigned iters;		/* planned iterations */
	double deadline;	/* stop early past this (monotonic s) */
	double t0;
};

static inline void fuzz_budget_init(struct fuzz_budget *b, unsigned iters,
				    double cap_s)
{
	unsigned k = fuzz_scale();

	b->iters = iters * k;
	b->t0 = fuzz_now();
	b->deadline = b->t0 + cap_s * k;
}

/* Whether iteration @i may run; logs why a loop stopped early. */
static inline int fuzz_budget_more(struct fuzz_budget *b, unsigned i,
				   const char *what)
{
	if (i >= b->iters)
		return 0;
	if (fuzz_now() > b->deadline) {
		mt_log("%s: time cap reached after %u of %u iterations",
		       what, i, b->iters);
		return 0;
	}
	return 1;
}

/*
 * FUZZ_TIMEOUT(name, secs) - scale the harness timeout of TEST_TIMEOUT
 * test @name with $FUZZ_ITERS, like the time caps (the harness reads the
 * timeout when it runs the test, after constructors ran).
 */
#define FUZZ_TIMEOUT(tname, secs)					\
	__attribute__((constructor)) static void fuzz_to_##tname(void)	\
	{								\
		mt_t_##tname.timeout_s = (secs) * fuzz_scale();		\
	}

/* ---- mockvf module reference count (leak check) ---- */

static inline long fuzz_mockvf_refcnt(void)
{
	char buf[32];
	long v = -1;
	int fd = open("/sys/module/mockvf/refcnt", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = strtol(buf, NULL, 10);
	}
	return v;
}

/*
 * Wait (up to 3 s: the last fput() of a file may be deferred to a
 * kworker) for the module reference count to come back to @want.
 */
static inline long fuzz_wait_refcnt(long want)
{
	long v = fuzz_mockvf_refcnt();

	for (int i = 0; i < 300 && v != want; i++) {
		usleep(10000);
		v = fuzz_mockvf_refcnt();
	}
	return v;
}

/* ---- mockvf save stream records (kmod/mockvf.h) ---- */

#define MVS_MAGIC 0x4656434dU		/* "MCVF" */
#define MVS_VERSION 1
#define MVS_HDR 24			/* magic 4, ver 2, type 2, seq 4, len 4, csum 8 */
#define MVS_PAGE 4096U
#define MVS_CHUNK (256U << 10)
#define MVS_MAX_PAYLOAD (MVS_CHUNK + 8)
#define MVS_MAX_STATE (8ULL << 30)	/* MOCKVF_MAX_STATE_SIZE */
enum { MVS_INFO = 1, MVS_DATA = 2, MVS_END = 3 };

static inline uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint32_t le32_get(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = v;
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = v;
}

static inline void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

#define MVS_PRIME 0x100000001b3ULL

static inline uint64_t mvs_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * MVS_PRIME;
	return h ^ (h >> 31);
}

static inline uint64_t mvs_hash(uint64_t h, const uint8_t *p, size_t len)
{
	for (; len >= 8; p += 8, len -= 8)
		h = mvs_mix(h, le64_get(p));
	if (len) {
		uint64_t w = 0;

		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = mvs_mix(h, w);
	}
	return h;
}

static inline uint64_t mvs_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

#define MVS_HASH_INIT 0xcbf29ce484222325ULL

/*
 * The device digest of a state image (sysfs "digest").  mockvf has used
 * two definitions: a hash over all bytes (MVS_DIGEST_FLAT) and a hash over
 * per-page hashes (MVS_DIGEST_PAGED); mvs_digest_kind() finds which one
 * the loaded module uses from a known image and its digest.
 */
enum { MVS_DIGEST_NONE, MVS_DIGEST_FLAT, MVS_DIGEST_PAGED };

static inline uint64_t mvs_digest_as(int kind, const uint8_t *img,
				     uint64_t size)
{
	uint64_t h = mvs_mix(MVS_HASH_INIT, size);

	if (kind == MVS_DIGEST_FLAT)
		return mvs_final(mvs_hash(h, img, size));
	for (uint64_t off = 0; off + MVS_PAGE <= size; off += MVS_PAGE)
		h = mvs_mix(h, mvs_final(mvs_hash(MVS_HASH_INIT, img + off,
						  MVS_PAGE)));
	return mvs_final(h);
}

static inline int mvs_digest_kind(const uint8_t *img, uint64_t size,
				  uint64_t digest)
{
	if (mvs_digest_as(MVS_DIGEST_FLAT, img, size) == digest)
		return MVS_DIGEST_FLAT;
	if (mvs_digest_as(MVS_DIGEST_PAGED, img, size) == digest)
		return MVS_DIGEST_PAGED;
	return MVS_DIGEST_NONE;
}

/* One record of a stream: header fields and payload (malloc'd). */
struct mvs_rec {
	uint32_t magic, seq, len;
	uint16_t version, type;
	uint64_t csum;
	uint8_t *pay;
};

struct mvs_stream {
	struct mvs_rec *r;
	int n, cap;
};

static inline void mvs_free(struct mvs_stream *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->r[i].pay);
	free(s->r);
	memset(s, 0, sizeof(*s));
}

static inline int mvs_add(struct mvs_stream *s, const struct mvs_rec *rec)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct mvs_rec *r = realloc(s->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n] = *rec;
	s->r[s->n].pay = malloc(rec->len ? rec->len : 1);
	if (!s->r[s->n].pay)
		return -ENOMEM;
	memcpy(s->r[s->n].pay, rec->pay, rec->len);
	s->n++;
	return 0;
}

/* Split a well-formed byte stream into records; -EINVAL if it is not. */
static inline int mvs_parse(const uint8_t *p, size_t len,
			    struct mvs_stream *s)
{
	size_t off = 0;

	memset(s, 0, sizeof(*s));
	while (off < len) {
		struct mvs_rec rec;

		if (len - off < MVS_HDR)
			return -EINVAL;
		rec.magic = le32_get(p + off);
		rec.version = p[off + 4] | p[off + 5] << 8;
		rec.type = p[off + 6] | p[off + 7] << 8;
		rec.seq = le32_get(p + off + 8);
		rec.len = le32_get(p + off + 12);
		rec.csum = le64_get(p + off + 16);
		if (rec.len > len - off - MVS_HDR)
			return -EINVAL;
		rec.pay = (uint8_t *)p + off + MVS_HDR;
		if (mvs_add(s, &rec))
			return -ENOMEM;
		off += MVS_HDR + rec.len;
	}
	return 0;
}

static inline void mvs_hdr_bytes(const struct mvs_rec *r, uint8_t h[MVS_HDR],
				 uint64_t csum)
{
	le32_put(h, r->magic);
	le16_put(h + 4, r->version);
	le16_put(h + 6, r->type);
	le32_put(h + 8, r->seq);
	le32_put(h + 12, r->len);
	le64_put(h + 16, csum);
}

/* The checksum the device expects for @r (header with csum 0, payload). */
static inline uint64_t mvs_csum(const struct mvs_rec *r)
{
	uint8_t h[MVS_HDR];

	mvs_hdr_bytes(r, h, 0);
	/* the header is 24 bytes: a whole number of words */
	return mvs_final(mvs_hash(mvs_hash(MVS_HASH_INIT, h, MVS_HDR),
				  r->pay, r->len));
}

static inline void mvs_seal(struct mvs_rec *r)
{
	r->csum = mvs_csum(r);
}

/* Serialise @s into @b (appended). */
static inline int mvs_emit(const struct mvs_stream *s, struct mbuf *b)
{
	size_t need = 0;

	for (int i = 0; i < s->n; i++)
		need += MVS_HDR + s->r[i].len;
	if (b->len + need > b->cap) {
		uint8_t *p = realloc(b->p, b->len + need + 1);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = b->len + need + 1;
	}
	for (int i = 0; i < s->n; i++) {
		mvs_hdr_bytes(&s->r[i], b->p + b->len, s->r[i].csum);
		memcpy(b->p + b->len + MVS_HDR, s->r[i].pay, s->r[i].len);
		b->len += MVS_HDR + s->r[i].len;
	}
	return 0;
}

/*
 * Replay the DATA records of @s over a zeroed image of the INFO size;
 * returns the image (malloc'd) and its size, NULL if @s has no valid INFO.
 */
static inline uint8_t *mvs_image(const struct mvs_stream *s, uint64_t *size)
{
	uint8_t *img = NULL;

	for (int i = 0; i < s->n; i++) {
		const struct mvs_rec *r = &s->r[i];

		if (r->type == MVS_INFO && r->len == 16 && !img) {
			*size = le64_get(r->pay);
			if (!*size || *size > MVS_MAX_STATE)
				return NULL;
			img = calloc(1, *size);
			if (!img)
				return NULL;
		} else if (r->type == MVS_DATA && img && r->len > 8) {
			uint64_t off = le64_get(r->pay);

			if (off < *size && r->len - 8 <= *size - off)
				memcpy(img + off, r->pay + 8, r->len - 8);
		}
	}
	return img;
}

/* ---- devices ---- */

static inline void fuzz_remove_dev(void *p)
{
	char *uuid = p;
	int ret = mockvf_remove(uuid);

	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "removing %s: %s", uuid,
			     strerror(-ret));
	}
	free(uuid);
}

static inline uint64_t fuzz_digest(const char *uuid)
{
	char buf[64];

	if (mockvf_attr_read(uuid, "digest", buf, sizeof(buf))) {
		mt_fail_here(__FILE__, __LINE__, "read digest of %s", uuid);
		mt_abort_test();
	}
	return strtoull(buf, NULL, 16);
}

/* The state through sysfs, as a number (-1 if unknown). */
static inline int fuzz_sysfs_state(const char *uuid)
{
	char buf[64];

	if (mockvf_attr_read(uuid, "state", buf, sizeof(buf)))
		return -1;
	for (int i = 0; i < 8; i++)
		if (!strcmp(buf, vfio_state_name(i)))
			return i;
	return -1;
}

/*
 * fuzz_expect_running() - after VFIO_DEVICE_RESET the device must be
 * RUNNING through the uAPI and sysfs alike.
 */
#define fuzz_expect_running(d) do {					\
	int st_ = -1;							\
	ASSERT_EQ(0, vfio_dev_get_state((d), &st_));			\
	ASSERT_EQ(MT_RUNNING, st_);					\
	ASSERT_EQ(MT_RUNNING, fuzz_sysfs_state((d)->uuid));		\
} while (0)

#endif /* VFIO_MIGTEST_FUZZ_H */
