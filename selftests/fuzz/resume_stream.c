// SPDX-License-Identifier: GPL-2.0
/*
 * resume_stream - mutation fuzzing of the mockvf resuming data_fd.
 *
 * A valid save stream is taken from a "tiny" source (STOP_COPY read to
 * EOF), then mutated many times and written to a destination in RESUMING,
 * followed by RESUMING->STOP and VFIO_DEVICE_RESET.  Raw mutations (bit
 * flips, truncation, duplicated/reordered/dropped records, wrong lengths,
 * garbage) must be rejected; "resealed" mutations recompute the record
 * checksums so the loader's semantic checks are reached; some resealed
 * streams are valid but different (edited data with a matching END
 * digest, split or repeated DATA records) and must load with exactly the
 * digest they carry.  A rejected stream must leave the device's state
 * untouched; after each reset the device must be RUNNING; at the end the
 * clean stream must still load with the source's digest, and every file
 * and module reference must be gone.
 */
#include "fuzz.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>

#define ITERS 3000
#define CAP_S 12.0

enum expect { X_REJECT, X_ACCEPT, X_NOOP, X_ANY };

/* How the loaded mockvf computes digests (edited-data streams need it). */
static int digest_kind;

struct fz_dev {
	char uuid[MOCKVF_UUID_LEN];
	struct vfio_dev d;
	int created, opened;
};

static void fz_dev_put(void *p)
{
	struct fz_dev *f = p;

	if (f->opened)
		vfio_dev_close(&f->d);
	f->opened = 0;
	if (f->created)
		fuzz_remove_dev(strdup(f->uuid));
	f->created = 0;
}

static void fz_dev_get(struct fz_dev *f, const char *profile)
{
	int ret;

	memset(f, 0, sizeof(*f));
	ret = mockvf_create(profile, f->uuid);
	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "create %s: %s", profile,
			     strerror(-ret));
		mt_abort_test();
	}
	f->created = 1;
	mt_defer(fz_dev_put, f);
	ret = vfio_dev_open(f->uuid, &f->d);
	if (ret) {
		mt_fail_here(__FILE__, __LINE__, "open %s: %s", f->uuid,
			     strerror(-ret));
		mt_abort_test();
	}
	f->opened = 1;
}

static int rec_copy(struct mvs_stream *dst, const struct mvs_stream *src)
{
	memset(dst, 0, sizeof(*dst));
	for (int i = 0; i < src->n; i++)
		if (mvs_add(dst, &src->r[i]))
			return -ENOMEM;
	return 0;
}

static void rec_insert(struct mvs_stream *s, int at, const struct mvs_rec *r)
{
	ASSERT_EQ(0, mvs_add(s, r));	/* appended: rotate into place */
	struct mvs_rec tmp = s->r[s->n - 1];

	memmove(&s->r[at + 1], &s->r[at], (s->n - 1 - at) * sizeof(tmp));
	s->r[at] = tmp;
}

static void rec_remove(struct mvs_stream *s, int at)
{
	free(s->r[at].pay);
	memmove(&s->r[at], &s->r[at + 1], (s->n - 1 - at) * sizeof(s->r[0]));
	s->n--;
}

static void rec_resize(struct mvs_rec *r, uint32_t len, struct frng *g)
{
	uint8_t *p = realloc(r->pay, len ? len : 1);

	ASSERT_TRUE(p != NULL);
	if (len > r->len)
		frng_fill(g, p + r->len, len - r->len);
	r->pay = p;
	r->len = len;
}

/* Sequence numbers 0.., END count = its own sequence, every csum resealed. */
static void renumber(struct mvs_stream *s)
{
	for (int i = 0; i < s->n; i++) {
		s->r[i].seq = i;
		if (s->r[i].type == MVS_END && s->r[i].len >= 16)	/* 16 + BAR0 */
			le64_put(s->r[i].pay + 8, i);
		mvs_seal(&s->r[i]);
	}
}

static int pick_type(struct frng *g, const struct mvs_stream *s, int type)
{
	int idx[4096], n = 0;

	for (int i = 0; i < s->n && n < 4096; i++)
		if (s->r[i].type == type)
			idx[n++] = i;
	return n ? idx[frng_below(g, n)] : -1;
}

static uint64_t end_digest(const struct mvs_stream *s)
{
	for (int i = s->n - 1; i >= 0; i--)
		if (s->r[i].type == MVS_END && s->r[i].len >= 8)
			return le64_get(s->r[i].pay);
	return 0;
}

/*
 * fix_end() - renumber @s and make its END record carry the digest of the
 * image its records build (replayed by our model), so that a stream with
 * different content is valid again.  Returns 0 (and *@want) or -1 when
 * the digest of this mockvf build is unknown.
 */
static int fix_end(struct mvs_stream *s, uint64_t *want)
{
	uint64_t size = 0;
	uint8_t *img;
	int e;

	if (digest_kind == MVS_DIGEST_NONE)
		return -1;
	img = mvs_image(s, &size);
	if (!img)
		return -1;
	*want = mvs_digest_as(digest_kind, img, size);
	free(img);
	for (e = s->n - 1; e >= 0 && s->r[e].type != MVS_END; e--)
		;
	if (e < 0)
		return -1;
	le64_put(s->r[e].pay, *want);
	renumber(s);
	return 0;
}

/*
 * expect_by_model() - for a structurally valid stream whose content was
 * changed: valid iff the image our model builds still has the END digest
 * (later records may overwrite exactly what was changed).
 */
static enum expect expect_by_model(const struct mvs_stream *s)
{
	uint64_t size = 0, d;
	uint8_t *img;

	if (digest_kind == MVS_DIGEST_NONE)
		return X_ANY;
	img = mvs_image(s, &size);
	if (!img)
		return X_REJECT;
	d = mvs_digest_as(digest_kind, img, size);
	free(img);
	return d == end_digest(s) ? X_ACCEPT : X_REJECT;
}

static const uint64_t odd_u64[] = {
	0, 1, 7, 8, 4095, 4096, 4097, 16384, 16383, 16385, 65536,
	MVS_MAX_STATE, MVS_MAX_STATE + MVS_PAGE, 0x7fffffffULL, 0xffffffffULL,
	0x100000000ULL, 0x8000000000000000ULL, UINT64_MAX, UINT64_MAX - 4095,
};

static uint64_t odd_value(struct frng *g)
{
	if (frng_one_in(g, 4))
		return frng_next(g);
	return odd_u64[frng_below(g, sizeof(odd_u64) / sizeof(odd_u64[0]))];
}

static const uint32_t odd_len[] = {
	0, 1, 7, 8, 9, 15, 16, 17, 24, 4096, MVS_MAX_PAYLOAD - 1,
	MVS_MAX_PAYLOAD, MVS_MAX_PAYLOAD + 1, 1u << 20, 0x7fffffff,
	0xffffffff,
};

/*
 * mutate() - build the test stream @out from the clean stream (@raw, and
 * its records @clean); returns what the device must do with it, a short
 * description in @what, and the digest an accepted stream must give in
 * *@want (X_ACCEPT; for X_ANY the END record's digest is checked).
 */
static enum expect mutate(struct frng *g, const struct mbuf *raw,
			  const struct mvs_stream *clean, struct mbuf *out,
			  char *what, size_t wlen, uint64_t *want)
{
	struct mvs_stream s;
	enum expect x = X_REJECT;
	unsigned kind = frng_below(g, 19);
	int i, j, patch_rec = -1;
	uint32_t patch_len = 0;

	out->len = 0;
	*want = end_digest(clean);

	/* ---- raw byte-level mutations: no record survives them ---- */
	if (kind <= 6) {
		size_t len = raw->len;

		if (kind == 6) {	/* pure garbage */
			len = 1 + frng_below(g, 3 * MVS_PAGE);
		}
		if (out->cap < len + MVS_MAX_PAYLOAD) {
			out->p = realloc(out->p, len + MVS_MAX_PAYLOAD);
			out->cap = len + MVS_MAX_PAYLOAD;
		}
		ASSERT_TRUE(out->p != NULL);
		out->len = len;
		switch (kind) {
		case 0: case 1:	/* 1..8 bit flips */
			memcpy(out->p, raw->p, len);
			j = 1 + frng_below(g, 8);
			for (i = 0; i < j; i++) {
				size_t at = frng_below(g, len);

				out->p[at] ^= 1u << frng_below(g, 8);
			}
			if (!memcmp(out->p, raw->p, len)) {
				snprintf(what, wlen, "flips cancelled out");
				return X_ACCEPT;
			}
			snprintf(what, wlen, "%d bit flips", j);
			return X_REJECT;
		case 2:		/* truncation */
			out->len = frng_one_in(g, 8) ? 0 : frng_below(g, len);
			memcpy(out->p, raw->p, out->len);
			snprintf(what, wlen, "truncated at %zu", out->len);
			return out->len ? X_REJECT : X_NOOP;
		case 3:		/* a byte stream with a chunk repeated */
			i = frng_below(g, len);
			j = 1 + frng_below(g, len - i);
			memcpy(out->p, raw->p, len);
			if (j > (int)MVS_MAX_PAYLOAD)
				j = MVS_MAX_PAYLOAD;
			memcpy(out->p + len, raw->p + i, j);
			out->len = len + j;
			snprintf(what, wlen, "bytes %d+%d appended again", i, j);
			return X_REJECT;
		case 4:		/* a prefix, then the whole stream again */
			j = frng_below(g, len);
			memcpy(out->p, raw->p, len);
			if (out->cap < len + j) {
				out->p = realloc(out->p, len + j);
				out->cap = len + j;
				ASSERT_TRUE(out->p != NULL);
			}
			memmove(out->p + j, out->p, len);
			memcpy(out->p, raw->p, j);
			out->len = len + j;
			snprintf(what, wlen, "%d-byte prefix then the stream", j);
			return j ? X_REJECT : X_ACCEPT;
		case 5:		/* random header-sized window of garbage */
			memcpy(out->p, raw->p, len);
			i = frng_below(g, len);
			j = 1 + frng_below(g, MVS_HDR);
			if ((size_t)(i + j) > len)
				j = len - i;
			frng_fill(g, out->p + i, j);
			if (!memcmp(out->p, raw->p, len)) {
				snprintf(what, wlen, "garbage equal to the stream");
				return X_ACCEPT;
			}
			snprintf(what, wlen, "%d garbage bytes at %d", j, i);
			return X_REJECT;
		default:
			frng_fill(g, out->p, len);
			if (len >= MVS_HDR && frng_one_in(g, 2)) {
				/* a plausible header, then garbage */
				le32_put(out->p, MVS_MAGIC);
				le16_put(out->p + 4, MVS_VERSION);
				le16_put(out->p + 6, 1 + frng_below(g, 3));
				le32_put(out->p + 8, 0);
				if (frng_one_in(g, 2))
					le32_put(out->p + 12, 16);
			}
			snprintf(what, wlen, "%zu bytes of garbage", len);
			return X_REJECT;
		}
	}

	/* ---- record-level mutations ---- */
	ASSERT_EQ(0, rec_copy(&s, clean));
	switch (kind) {
	case 7:		/* duplicate a record, not renumbered */
		i = frng_below(g, s.n);
		rec_insert(&s, i, &clean->r[i]);
		snprintf(what, wlen, "record %d duplicated", i);
		break;
	case 8:		/* swap two records (distinct seqs), not renumbered */
		i = frng_below(g, s.n);
		j = (i + 1 + frng_below(g, s.n - 1)) % s.n;
		{
			struct mvs_rec t = s.r[i];

			s.r[i] = s.r[j];
			s.r[j] = t;
		}
		snprintf(what, wlen, "records %d and %d swapped", i, j);
		break;
	case 9:		/* drop a record (renumbered or not) */
		i = frng_below(g, s.n);
		j = s.r[i].type;
		rec_remove(&s, i);
		if (j == MVS_DATA && frng_one_in(g, 2) && !fix_end(&s, want)) {
			/* valid: that part of the state keeps older data */
			snprintf(what, wlen, "DATA %d dropped, END digest fixed", i);
			x = X_ACCEPT;
		} else if (frng_one_in(g, 2)) {
			renumber(&s);
			/* a lost DATA record shows in the digest, unless later
			 * records overwrite all of it */
			snprintf(what, wlen, "record %d dropped, renumbered", i);
			if (j == MVS_DATA)
				x = expect_by_model(&s);
		} else {
			snprintf(what, wlen, "record %d dropped", i);
		}
		break;
	case 10:	/* a length field: raw, or resealed */
		i = frng_below(g, s.n);
		{
			uint32_t nl = frng_one_in(g, 3) ? (uint32_t)frng_next(g) :
				odd_len[frng_below(g, sizeof(odd_len) /
						   sizeof(odd_len[0]))];
			int reseal = frng_one_in(g, 2);

			if (nl == s.r[i].len)
				nl ^= 1;
			if (reseal && nl <= MVS_MAX_PAYLOAD + 64) {
				rec_resize(&s.r[i], nl, g);
				mvs_seal(&s.r[i]);
				snprintf(what, wlen,
					 "record %d (type %u) resized to %u, resealed",
					 i, s.r[i].type, nl);
				x = X_ANY;
			} else {
				patch_rec = i;
				patch_len = nl;
				snprintf(what, wlen,
					 "record %d len field %u (payload %u)",
					 i, nl, clean->r[i].len);
				x = X_REJECT;
			}
		}
		break;
	case 11:	/* DATA offset moved, resealed */
		i = pick_type(g, &s, MVS_DATA);
		if (i < 0)
			break;
		{
			uint64_t off = le64_get(s.r[i].pay), no;

			no = frng_one_in(g, 2) ? off + 1 + frng_below(g, 8192)
					       : odd_value(g);
			if (no == off)
				no++;
			le64_put(s.r[i].pay, no);
			mvs_seal(&s.r[i]);
			snprintf(what, wlen, "DATA %d offset %#llx -> %#llx", i,
				 (unsigned long long)off,
				 (unsigned long long)no);
			/* still inside the state: valid with a fixed END */
			if (no < le64_get(s.r[0].pay) &&
			    s.r[i].len - 8 <= le64_get(s.r[0].pay) - no) {
				if (frng_one_in(g, 2) && !fix_end(&s, want)) {
					strncat(what, ", END digest fixed",
						wlen - strlen(what) - 1);
					x = X_ACCEPT;
				} else {
					x = expect_by_model(&s);
				}
			}
		}
		break;
	case 12:	/* INFO size, resealed */
		i = pick_type(g, &s, MVS_INFO);
		{
			uint64_t sz = le64_get(s.r[i].pay), ns = odd_value(g);

			/* the largest shadow is legal (metadata only) */
			if (ns == MVS_MAX_STATE && !frng_one_in(g, 8))
				ns = 2 * sz;
			if (ns == sz)
				ns += MVS_PAGE;
			le64_put(s.r[i].pay, ns);
			mvs_seal(&s.r[i]);
			snprintf(what, wlen, "INFO size %llu -> %llu",
				 (unsigned long long)sz, (unsigned long long)ns);
		}
		break;
	case 13:	/* END digest or count, resealed */
		i = pick_type(g, &s, MVS_END);
		j = frng_below(g, 2);
		{
			uint64_t v = le64_get(s.r[i].pay + 8 * j), nv;

			nv = j ? odd_value(g) : frng_next(g);
			if (nv == v)
				nv++;
			le64_put(s.r[i].pay + 8 * j, nv);
			mvs_seal(&s.r[i]);
			snprintf(what, wlen, "END %s %#llx", j ? "count" : "digest",
				 (unsigned long long)nv);
		}
		break;
	case 14:	/* header field: type, version, magic, seq; resealed */
		i = frng_below(g, s.n);
		j = frng_below(g, 4);
		if (j == 0) {
			uint16_t t = frng_below(g, 6);

			if (t == s.r[i].type)
				t = 0xffff;
			s.r[i].type = t;
		} else if (j == 1) {
			s.r[i].version = frng_one_in(g, 2) ? 0 :
					 (uint16_t)frng_next(g) | 2;
		} else if (j == 2) {
			s.r[i].magic ^= 1u << frng_below(g, 32);
		} else {
			s.r[i].seq += 1 + frng_below(g, 3);
		}
		mvs_seal(&s.r[i]);
		snprintf(what, wlen, "record %d header field %d changed, resealed",
			 i, j);
		/* DATA<->other type changes may still parse: digest decides */
		x = j == 0 ? X_ANY : X_REJECT;
		break;
	case 15:	/* a record after END, renumbered */
		{
			struct mvs_rec r = clean->r[frng_below(g, clean->n)];

			rec_insert(&s, s.n, &r);
			renumber(&s);
			snprintf(what, wlen, "type %u record after END", r.type);
		}
		break;
	case 16:	/* valid but different: edited DATA, new END digest */
		i = pick_type(g, &s, MVS_DATA);
		if (i < 0 || digest_kind == MVS_DIGEST_NONE)
			break;
		{
			uint64_t size = 0;
			uint8_t *img;
			int k = 1 + frng_below(g, 16);

			for (j = 0; j < k; j++)
				s.r[i].pay[8 + frng_below(g, s.r[i].len - 8)] ^=
					1 + frng_below(g, 255);
			img = mvs_image(&s, &size);
			ASSERT_TRUE(img != NULL);
			*want = mvs_digest_as(digest_kind, img, size);
			free(img);
			j = pick_type(g, &s, MVS_END);
			le64_put(s.r[j].pay, *want);
			renumber(&s);
			snprintf(what, wlen, "DATA %d edited (%d bytes), END digest %016llx",
				 i, k, (unsigned long long)*want);
			x = X_ACCEPT;
		}
		break;
	case 17:	/* valid: a DATA record split in two */
		i = pick_type(g, &s, MVS_DATA);
		if (i < 0 || s.r[i].len < 10)
			break;
		{
			struct mvs_rec a = s.r[i];
			uint32_t cut = 1 + frng_below(g, a.len - 9);
			uint8_t *p2 = malloc(a.len - cut);

			ASSERT_TRUE(p2 != NULL);
			le64_put(p2, le64_get(a.pay) + cut);
			memcpy(p2 + 8, a.pay + 8 + cut, a.len - 8 - cut);
			a.pay = p2;
			a.len = a.len - cut;
			rec_insert(&s, i + 1, &a);
			free(p2);
			rec_resize(&s.r[i], 8 + cut, g);
			renumber(&s);
			snprintf(what, wlen, "DATA %d split at %u", i, cut);
			x = X_ACCEPT;
		}
		break;
	default:	/* valid: DATA repeated / INFO repeated / DATA reordered */
		j = frng_below(g, 3);
		i = pick_type(g, &s, j == 1 ? MVS_INFO : MVS_DATA);
		if (i < 0)
			break;
		if (j == 2) {
			int k = pick_type(g, &s, MVS_DATA);
			struct mvs_rec t = s.r[i];

			s.r[i] = s.r[k];
			s.r[k] = t;
		} else {
			struct mvs_rec r = s.r[i];

			rec_insert(&s, i + 1, &r);
		}
		renumber(&s);
		snprintf(what, wlen, "%s %d %s, renumbered",
			 j == 1 ? "INFO" : "DATA", i,
			 j == 2 ? "swapped" : "repeated");
		x = X_ACCEPT;
		/* reordered overlapping records change the content */
		if (j == 2 && fix_end(&s, want))
			x = X_ANY;
		break;
	}
	if (!what[0])
		snprintf(what, wlen, "kind %u: nothing to mutate, clean", kind);
	ASSERT_EQ(0, mvs_emit(&s, out));
	if (patch_rec >= 0) {
		/* the header claims one length, the old payload follows */
		size_t at = 0;

		for (i = 0; i < patch_rec; i++)
			at += MVS_HDR + s.r[i].len;
		le32_put(out->p + at + 12, patch_len);
	}
	if (x == X_ANY)
		*want = end_digest(&s);
	mvs_free(&s);
	if (out->len == raw->len && !memcmp(out->p, raw->p, raw->len)) {
		*want = end_digest(clean);
		return X_ACCEPT;
	}
	return x;
}

/* Write @b in pieces of varied sizes; returns 0 or the first errno. */
static int write_pieces(struct frng *g, int fd, const struct mbuf *b,
			int *nwrites)
{
	size_t off = 0;

	*nwrites = 0;
	while (off < b->len) {
		size_t piece;
		ssize_t n;

		if (off < 256 && frng_one_in(g, 3))
			piece = 1 + frng_below(g, 31);
		else if (frng_one_in(g, 4))
			piece = 1 + frng_below(g, 70000);
		else
			piece = b->len - off;
		if (piece > b->len - off)
			piece = b->len - off;
		n = write(fd, b->p + off, piece);
		(*nwrites)++;
		if (n < 0)
			return errno;
		/* the resuming file takes all or fails */
		EXPECT_EQ(n, piece);
		if (n <= 0)
			return EIO;
		off += n;
	}
	return 0;
}

/* A base stream to mutate: its bytes, its records, the digest it gives. */
struct base {
	struct mbuf raw;
	struct mvs_stream rec;
	uint64_t digest;
	const char *name;
};

/* Check the record model against what the device produced. */
static void base_check(struct base *b)
{
	uint64_t size = 0;
	uint8_t *img;

	ASSERT_EQ(0, mvs_parse(b->raw.p, b->raw.len, &b->rec));
	ASSERT_GE(b->rec.n, 3);
	ASSERT_EQ(MVS_INFO, b->rec.r[0].type);
	ASSERT_EQ(MVS_END, b->rec.r[b->rec.n - 1].type);
	for (int i = 0; i < b->rec.n; i++) {
		ASSERT_EQ(i, b->rec.r[i].seq);
		if (mvs_csum(&b->rec.r[i]) != b->rec.r[i].csum) {
			mt_fail_here(__FILE__, __LINE__,
				     "%s stream, record %d checksum: the mockvf stream format changed, update selftests/fuzz/fuzz.h",
				     b->name, i);
			mt_abort_test();
		}
	}
	ASSERT_EQ(b->digest, end_digest(&b->rec));
	img = mvs_image(&b->rec, &size);
	ASSERT_TRUE(img != NULL);
	if (!digest_kind) {
		digest_kind = mvs_digest_kind(img, size, b->digest);
		if (digest_kind == MVS_DIGEST_NONE)
			mt_log("the digest of this mockvf build is unknown to fuzz.h: edited-data streams are off");
	}
	if (digest_kind)
		ASSERT_EQ(b->digest, mvs_digest_as(digest_kind, img, size));
	free(img);
	mt_log("%s stream: %zu bytes, %d records, digest %016llx (%s)",
	       b->name, b->raw.len, b->rec.n, (unsigned long long)b->digest,
	       digest_kind == MVS_DIGEST_FLAT ? "flat" :
	       digest_kind == MVS_DIGEST_PAGED ? "paged" : "unknown");
}

/* Write a whole base stream to @d and check the digest it gives. */
static void load_clean(struct fz_dev *d, const struct base *b)
{
	int fd;

	ASSERT_EQ(0, vfio_dev_set_state(&d->d, MT_RESUMING, &fd));
	ASSERT_EQ(0, vfio_write_all(fd, b->raw.p, b->raw.len, 65536));
	ASSERT_EQ(0, vfio_dev_set_state(&d->d, MT_RUNNING, NULL));
	close(fd);
	ASSERT_EQ(b->digest, fuzz_digest(d->uuid));
}

TEST_TIMEOUT(resume_stream, 110)
{
	static struct base bases[3] = {
		{ .name = "stop-copy" }, { .name = "pre-copy" },
		{ .name = "1MiB" },
	};
	struct fz_dev src, dst;
	struct mbuf m = { 0 };
	struct vm_precopy_info info;
	struct fuzz_budget bud;
	struct frng g;
	uint64_t seed, dcur, want;
	unsigned it, nrej = 0, nacc = 0, nnoop = 0, nabandon = 0;
	long ref0;
	int fd, ret, st;

	seed = fuzz_seed("resume_stream");
	frng_init(&g, seed);
	mvt_require();
	ref0 = fuzz_mockvf_refcnt();
	fz_dev_get(&src, "tiny");
	fz_dev_get(&dst, "tiny");

	/* base 0: STOP_COPY to EOF (INFO, DATA, END) */
	ASSERT_EQ(0, vfio_dev_set_state(&src.d, MT_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	bases[0].digest = fuzz_digest(src.uuid);
	ASSERT_EQ(0, vfio_read_stream(fd, &bases[0].raw));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(&src.d));
	fuzz_expect_running(&src.d);

	/*
	 * base 1: PRE_COPY with a dirtying workload, then STOP_COPY: the full
	 * image, then page records that overwrite parts of it, then END.
	 */
	ASSERT_EQ(0, mockvf_attr_write(src.uuid, "dirty_rate", "2000000"));
	ASSERT_EQ(0, vfio_dev_set_state(&src.d, MT_PRE_COPY, &fd));
	ASSERT_EQ(-ENOMSG, vfio_read_stream(fd, &bases[1].raw));
	for (int round = 0; round < 3; round++) {
		usleep(20000);
		ASSERT_EQ(0, vfio_dev_precopy_info(fd, &info));
		usleep(5000);
		ret = vfio_read_stream(fd, &bases[1].raw);
		ASSERT_TRUE(ret == -ENOMSG || ret == -EAGAIN);
	}
	ASSERT_EQ(0, vfio_dev_set_state(&src.d, MT_STOP_COPY, NULL));
	bases[1].digest = fuzz_digest(src.uuid);
	ASSERT_EQ(0, vfio_read_stream(fd, &bases[1].raw));
	close(fd);
	ASSERT_EQ(0, mockvf_attr_write(src.uuid, "dirty_rate", "0"));
	ASSERT_EQ(0, vfio_dev_reset(&src.d));

	/* base 2: a 1 MiB state, several full-size (cap) DATA records */
	ASSERT_EQ(0, mockvf_attr_write(src.uuid, "state_size", "1048576"));
	ASSERT_EQ(0, vfio_dev_set_state(&src.d, MT_STOP_COPY, &fd));
	bases[2].digest = fuzz_digest(src.uuid);
	ASSERT_EQ(0, vfio_read_stream(fd, &bases[2].raw));
	close(fd);
	ASSERT_EQ(0, vfio_dev_reset(&src.d));

	base_check(&bases[0]);
	base_check(&bases[1]);
	base_check(&bases[2]);
	/* both streams load as they are */
	load_clean(&dst, &bases[1]);
	load_clean(&dst, &bases[0]);

	dcur = fuzz_digest(dst.uuid);
	fuzz_budget_init(&bud, ITERS, CAP_S);
	for (it = 0; fuzz_budget_more(&bud, it, "resume_stream"); it++) {
		char what[160] = "";
		enum expect x;
		int werr, nw, accepted, abandon;
		uint64_t dnow;

		/* the big one is slow under TCG: one in 16 */
		const struct base *bs = &bases[frng_one_in(&g, 16) ? 2 :
					       frng_below(&g, 2)];

		x = mutate(&g, &bs->raw, &bs->rec, &m, what, sizeof(what),
			   &want);
		ASSERT_EQ(0, vfio_dev_set_state(&dst.d, MT_RESUMING, &fd));
		ASSERT_GE(fd, 0);
		werr = write_pieces(&g, fd, &m, &nw);
		if (werr) {
			/* a bad stream poisons the file: EINVAL, sticky */
			EXPECT_EQ(EINVAL, werr);
			EXPECT_EQ(-1, write(fd, bs->raw.p, MVS_HDR));
			EXPECT_EQ(EINVAL, errno);
		}
		abandon = frng_one_in(&g, 10);
		if (frng_one_in(&g, 4)) {
			/* the device keeps its own reference */
			close(fd);
			fd = -1;
		}
		if (abandon) {
			/* reset in RESUMING: nothing is loaded */
			ret = 0;
			accepted = 0;
			nabandon++;
		} else {
			ret = vfio_dev_set_state(&dst.d, MT_STOP, NULL);
			accepted = !werr && !ret;
			if (ret) {
				EXPECT_EQ(-EINVAL, ret);
				EXPECT_EQ(0, vfio_dev_get_state(&dst.d, &st));
				EXPECT_EQ(MT_ERROR, st);
			}
			if (fd >= 0) {
				/* the file is disabled after the arc */
				EXPECT_EQ(-1, write(fd, bs->raw.p, 1));
				EXPECT_EQ(ENODEV, errno);
			}
		}
		if (fd >= 0 && frng_one_in(&g, 2)) {
			close(fd);
			fd = -1;
		}
		ASSERT_EQ(0, vfio_dev_reset(&dst.d));
		fuzz_expect_running(&dst.d);
		if (fd >= 0)
			close(fd);

		dnow = fuzz_digest(dst.uuid);
		if (abandon) {
			EXPECT_EQ(dcur, dnow);
		} else if (x == X_NOOP) {
			EXPECT_TRUE(accepted);
			EXPECT_EQ(dcur, dnow);
			nnoop++;
		} else if (accepted) {
			nacc++;
			if (x == X_REJECT)
				mt_fail_here(__FILE__, __LINE__,
					     "iteration %u: %s stream, %s: accepted (digest %016llx)",
					     it, bs->name, what,
					     (unsigned long long)dnow);
			EXPECT_EQ(want, dnow);
		} else {
			nrej++;
			if (x == X_ACCEPT)
				mt_fail_here(__FILE__, __LINE__,
					     "iteration %u: %s stream, %s: rejected (write errno %d, load %d)",
					     it, bs->name, what, werr, ret);
			/* a rejected stream leaves the state alone */
			EXPECT_EQ(dcur, dnow);
		}
		if (dnow != dcur && !accepted)
			mt_log("iteration %u: %s: digest changed on rejection",
			       it, what);
		dcur = dnow;
	}
	mt_log("%u iterations in %.1f s: %u rejected, %u accepted, %u empty, %u abandoned",
	       it, fuzz_now() - bud.t0, nrej, nacc, nnoop, nabandon);
	ASSERT_GE(it, 20);
	ASSERT_GT(nrej, 0);
	ASSERT_GT(nacc, 0);

	/* the clean streams still load, with the source's digests */
	load_clean(&dst, &bases[2]);
	load_clean(&dst, &bases[0]);
	load_clean(&dst, &bases[1]);

	/* no file or device reference left behind */
	fz_dev_put(&dst);
	fz_dev_put(&src);
	if (ref0 >= 0)
		ASSERT_EQ(ref0, fuzz_wait_refcnt(ref0));
	for (int i = 0; i < 3; i++) {
		mvs_free(&bases[i].rec);
		mbuf_free(&bases[i].raw);
	}
	mbuf_free(&m);
}

FUZZ_TIMEOUT(resume_stream, 110)

TEST_MAIN()
