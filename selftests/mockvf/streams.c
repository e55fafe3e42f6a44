// SPDX-License-Identifier: GPL-2.0
/*
 * streams - the resume side validates every record: corrupted, truncated,
 * reordered, oversized and otherwise bad streams are rejected (-EINVAL at
 * write, or at RESUMING->STOP for truncation), the device keeps its state
 * and a reset brings it back to RUNNING, ready for a good stream.
 *
 * The record format and hash are re-implemented here from docs/mockvf.md,
 * so the document is tested too.
 *
 * Mode relied on (set explicitly on the destination): resume_strict=1 (the
 * END and digest checks at RESUMING->STOP; mlx5 has none, see fidelity),
 * error_on_fail=1 (the failed load enters ERROR) and reset_keeps_state=1
 * (the digest after the reset shows nothing was loaded).
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <unistd.h>

#define HDR 24

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x100000001b3ull;
	return h ^ (h >> 31);
}

static uint64_t hash64(uint64_t h, const uint8_t *p, size_t len)
{
	for (; len >= 8; p += 8, len -= 8)
		h = mix(h, le64(p));
	if (len) {
		uint64_t w = 0;

		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = mix(h, w);
	}
	return h;
}

static uint64_t hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* Recompute the checksum of the record at @rec (after an edit). */
static void reseal(uint8_t *rec)
{
	uint32_t len = le32(rec + 12);
	uint64_t h;

	put_le64(rec + 16, 0);
	h = hash64(0xcbf29ce484222325ull, rec, HDR);
	h = hash_final(hash64(h, rec + HDR, len));
	put_le64(rec + 16, h);
}

/* Offsets of the records of @b (up to @max); returns how many. */
static int records(const struct mbuf *b, size_t *off, int max)
{
	size_t pos = 0;
	int n = 0;

	while (pos + HDR <= b->len && n < max) {
		off[n++] = pos;
		pos += HDR + le32(b->p + pos + 12);
	}
	return n;
}

struct pair {
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN];
	struct vfio_dev *src, *dst;
	struct mbuf stream;
	char src_digest[17], dst_digest[17];
};

/* A source of @size bytes saved by STOP_COPY; the destination idle. */
static void setup(struct pair *p, const char *size)
{
	int fd;

	mvt_require();
	mvt_create("tiny", p->us);
	mvt_create("tiny", p->ud);
	mvt_set(p->us, "state_size", size);
	mvt_set(p->ud, "resume_strict", "1");
	mvt_set(p->ud, "error_on_fail", "1");
	mvt_set(p->ud, "reset_keeps_state", "1");
	p->src = mvt_open(p->us);
	p->dst = mvt_open(p->ud);
	fd = mvt_goto(p->src, MT_STOP_COPY);
	snprintf(p->src_digest, 17, "%s", mvt_attr(p->us, "digest"));
	memset(&p->stream, 0, sizeof(p->stream));
	ASSERT_EQ(0, vfio_read_stream(fd, &p->stream));
	close(fd);
	snprintf(p->dst_digest, 17, "%s", mvt_attr(p->ud, "digest"));
}

/*
 * Feed @len bytes of @buf to the destination in @piece sized writes;
 * expect the first failing write to fail with @werr (0: none fails) and
 * RESUMING->STOP with @serr.  Then check the device recovers by reset.
 */
static void feed(struct pair *p, const uint8_t *buf, size_t len, size_t piece,
		 int werr, int serr)
{
	int fd = mvt_goto(p->dst, MT_RESUMING);
	int ret;

	ret = vfio_write_all(fd, buf, len, piece);
	EXPECT_EQ(werr, ret);
	if (werr) {	/* poisoned: later writes fail too */
		EXPECT_EQ(-1, write(fd, buf, 1));
	}
	ret = vfio_dev_set_state(p->dst, MT_STOP, NULL);
	EXPECT_EQ(serr, ret);
	close(fd);
	if (serr) {
		ASSERT_EQ(MT_ERROR, mvt_state(p->dst));
		ASSERT_EQ(0, vfio_dev_reset(p->dst));
		ASSERT_EQ(MT_RUNNING, mvt_state(p->dst));
		/* nothing of the bad stream was loaded */
		ASSERT_STREQ(p->dst_digest, mvt_attr(p->ud, "digest"));
	} else {
		ASSERT_EQ(-1, mvt_goto(p->dst, MT_RUNNING));
	}
}

/* After a rejection, the good stream still works. */
static void good_after(struct pair *p)
{
	feed(p, p->stream.p, p->stream.len, 65536, 0, 0);
	ASSERT_STREQ(p->src_digest, mvt_attr(p->ud, "digest"));
}

TEST(good_stream_any_write_size)
{
	struct pair p;
	size_t pieces[] = { 1, 7, 24, 4096, 1 << 20 };

	setup(&p, "65536");
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		ASSERT_EQ(0, vfio_dev_reset(p.dst));
		feed(&p, p.stream.p, p.stream.len, pieces[i], 0, 0);
		ASSERT_STREQ(p.src_digest, mvt_attr(p.ud, "digest"));
	}
}

TEST(corrupted_payload)
{
	struct pair p;
	size_t off[8];
	uint8_t *bad;

	setup(&p, "16384");
	ASSERT_EQ(3, records(&p.stream, off, 8));	/* INFO DATA END */
	bad = malloc(p.stream.len);
	memcpy(bad, p.stream.p, p.stream.len);
	bad[off[1] + HDR + 100] ^= 1;
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);
	/* a flipped header byte too */
	memcpy(bad, p.stream.p, p.stream.len);
	bad[off[1] + 5] ^= 0x80;
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);
	free(bad);
	good_after(&p);
}

TEST(truncated)
{
	struct pair p;
	size_t off[8], cuts[4];
	int n;

	setup(&p, "16384");
	n = records(&p.stream, off, 8);
	ASSERT_EQ(3, n);
	cuts[0] = p.stream.len - 1;	/* inside END */
	cuts[1] = off[2];		/* END missing */
	cuts[2] = off[1] + HDR + 10;	/* inside DATA */
	cuts[3] = 10;			/* inside the first header */
	for (int i = 0; i < 4; i++)
		feed(&p, p.stream.p, cuts[i], 4096, 0, -EINVAL);
	good_after(&p);
}

TEST(reordered)
{
	struct pair p;
	size_t off[16], l1, l2;
	uint8_t *bad;
	int n;

	setup(&p, "1048576");	/* INFO, 4 DATA, END */
	n = records(&p.stream, off, 16);
	ASSERT_EQ(6, n);
	l1 = off[2] - off[1];
	l2 = off[3] - off[2];
	ASSERT_EQ(l1, l2);
	bad = malloc(p.stream.len);
	memcpy(bad, p.stream.p, p.stream.len);
	memcpy(bad + off[1], p.stream.p + off[2], l2);
	memcpy(bad + off[2], p.stream.p + off[1], l1);
	feed(&p, bad, p.stream.len, 65536, -EINVAL, -EINVAL);
	/* a duplicated record */
	memcpy(bad, p.stream.p, p.stream.len);
	memcpy(bad + off[2], p.stream.p + off[1], l1);
	feed(&p, bad, p.stream.len, 65536, -EINVAL, -EINVAL);
	free(bad);
	good_after(&p);
}

TEST(oversized_and_bad_headers)
{
	struct pair p;
	size_t off[8];
	uint8_t *bad;
	int fd;

	setup(&p, "16384");
	ASSERT_EQ(3, records(&p.stream, off, 8));
	bad = malloc(p.stream.len + 64);

	/* a huge record length is refused as soon as the header is in */
	memcpy(bad, p.stream.p, p.stream.len);
	put_le32(bad + off[1] + 12, 0x7fffffff);
	fd = mvt_goto(p.dst, MT_RESUMING);
	ASSERT_EQ(0, vfio_write_all(fd, bad, off[1], 4096));
	ASSERT_EQ(-1, write(fd, bad + off[1], HDR));
	ASSERT_EQ(EINVAL, errno);
	close(fd);
	ASSERT_EQ(-EINVAL, vfio_dev_set_state(p.dst, MT_STOP, NULL));
	ASSERT_EQ(0, vfio_dev_reset(p.dst));

	/* bad magic, version, type */
	memcpy(bad, p.stream.p, p.stream.len);
	bad[0] ^= 0xff;
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);
	memcpy(bad, p.stream.p, p.stream.len);
	bad[4] = 2;
	reseal(bad);
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);
	memcpy(bad, p.stream.p, p.stream.len);
	bad[6] = 9;
	reseal(bad);
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);

	/* well sealed, but DATA past the end of the state */
	memcpy(bad, p.stream.p, p.stream.len);
	put_le64(bad + off[1] + HDR, 8192);
	reseal(bad + off[1]);
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);

	/* well sealed, but the END digest does not match the data */
	memcpy(bad, p.stream.p, p.stream.len);
	bad[off[2] + HDR] ^= 1;
	reseal(bad + off[2]);
	feed(&p, bad, p.stream.len, 4096, 0, -EINVAL);

	/* bytes after END */
	memcpy(bad, p.stream.p, p.stream.len);
	memset(bad + p.stream.len, 0, 64);
	feed(&p, bad, p.stream.len + 64, 4096, -EINVAL, -EINVAL);

	/* a stream for a state size the device cannot take */
	memcpy(bad, p.stream.p, p.stream.len);
	put_le64(bad + HDR, 12345);
	reseal(bad);
	feed(&p, bad, p.stream.len, 4096, -EINVAL, -EINVAL);
	free(bad);
	good_after(&p);
}

/* The source's corrupt/truncate faults make streams the destination rejects. */
TEST(fault_corrupt_and_truncate)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], dd[17];
	struct vfio_dev *src, *dst;
	struct mbuf b = { 0 };
	char *log;
	int fd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_set(ud, "resume_strict", "1");
	mvt_set(ud, "error_on_fail", "1");
	mvt_set(ud, "reset_keeps_state", "1");
	src = mvt_open(us);
	dst = mvt_open(ud);
	snprintf(dd, sizeof(dd), "%s", mvt_attr(ud, "digest"));

	mvt_set(us, "fault", "corrupt 1000");
	ASSERT_STREQ("corrupt 1000", mvt_attr(us, "fault"));
	fd = mvt_goto(src, MT_STOP_COPY);
	ASSERT_STREQ("", mvt_attr(us, "fault"));	/* consumed */
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	log = mvt_read_log(us);
	EXPECT_TRUE(strstr(log, "STOP STOP_COPY 0 corrupt") != NULL);
	free(log);
	fd = mvt_goto(dst, MT_RESUMING);
	EXPECT_EQ(-EINVAL, vfio_write_all(fd, b.p, b.len, 4096));
	close(fd);
	EXPECT_EQ(-EINVAL, vfio_dev_set_state(dst, MT_STOP, NULL));
	ASSERT_EQ(0, vfio_dev_reset(dst));
	ASSERT_EQ(0, vfio_dev_reset(src));

	mvt_set(us, "fault", "truncate 5000");
	fd = mvt_goto(src, MT_STOP_COPY);
	b.len = 0;
	ASSERT_EQ(0, vfio_read_stream(fd, &b));
	close(fd);
	ASSERT_EQ(5000, b.len);
	log = mvt_read_log(us);
	EXPECT_TRUE(strstr(log, "STOP STOP_COPY 0 truncate") != NULL);
	free(log);
	fd = mvt_goto(dst, MT_RESUMING);
	EXPECT_EQ(0, vfio_write_all(fd, b.p, b.len, 4096));
	close(fd);
	EXPECT_EQ(-EINVAL, vfio_dev_set_state(dst, MT_STOP, NULL));
	ASSERT_EQ(MT_ERROR, mvt_state(dst));
	ASSERT_EQ(0, vfio_dev_reset(dst));
	ASSERT_EQ(MT_RUNNING, mvt_state(dst));
	ASSERT_STREQ(dd, mvt_attr(ud, "digest"));
	mbuf_free(&b);
}

TEST_MAIN()
