// SPDX-License-Identifier: GPL-2.0
/*
 * large_state - device states far larger than the guest's memory: pages
 * are generated from (seed, index, version), so a 4 GiB device and 16
 * devices of 1 GiB fit in the 2 GiB rig guest, while the stream still
 * carries every byte and the digest stays exact; bytes that are not a
 * generated page (hostile streams, partial pages) are kept exactly in a
 * sparse overlay (docs/mockvf.md, "Device model").
 *
 * Mode relied on: the tiny profile's resume_strict=1 (the destination
 * commits at RESUMING->STOP only when END's digest matches what it holds).
 */
#include "harness.h"
#include "vfio_dev.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define HDR 24
#define PAGE 4096ull
#define CHUNK (256ull << 10)
#define END_LEN (16 + 4096)	/* digest, count, BAR0 (bare_pci=0) */
#define GIB (1ull << 30)

/* Stream bytes of a full STOP_COPY stream of @size (docs/mockvf.md). */
static uint64_t stream_bytes(uint64_t size)
{
	return HDR + 16 + (size + CHUNK - 1) / CHUNK * (HDR + 8) + size +
	       HDR + END_LEN;
}

static uint64_t image_bytes(uint64_t size)
{
	return stream_bytes(size) - HDR - END_LEN;
}

/* MemAvailable from /proc/meminfo, bytes. */
static uint64_t mem_available(void)
{
	char line[256];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

static double now_s(void)
{
	return vfio_now_ns() / 1e9;
}

/* ---- the record format and hash, from docs/mockvf.md ---- */

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

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
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

#define HINIT 0xcbf29ce484222325ull

static uint64_t image_digest(const uint8_t *img, uint64_t size)
{
	uint64_t h = mix(HINIT, size);

	for (uint64_t off = 0; off < size; off += PAGE)
		h = mix(h, hash_final(hash64(HINIT, img + off, PAGE)));
	return hash_final(h);
}

/* Append a sealed record to @b. */
static void put_rec(struct mbuf *b, int type, uint32_t seq, const uint8_t *pay,
		    uint32_t len)
{
	uint8_t *r;
	uint64_t h;

	b->p = realloc(b->p, b->len + HDR + len);
	ASSERT_TRUE(b->p != NULL);
	r = b->p + b->len;
	put_le(r, 0x4656434d, 4);
	put_le(r + 4, 1, 2);
	put_le(r + 6, type, 2);
	put_le(r + 8, seq, 4);
	put_le(r + 12, len, 4);
	put_le(r + 16, 0, 8);
	memcpy(r + HDR, pay, len);
	h = hash_final(hash64(hash64(HINIT, r, HDR), pay, len));
	put_le(r + 16, h, 8);
	b->len += HDR + len;
}

/* The DATA bytes of a stream replayed over a zeroed image of @size. */
static void stream_image(const struct mbuf *b, uint8_t *img, uint64_t size)
{
	size_t pos = 0;

	memset(img, 0, size);
	while (pos + HDR <= b->len) {
		uint32_t len = le32(b->p + pos + 12);
		const uint8_t *pay = b->p + pos + HDR;

		if ((le32(b->p + pos + 4) >> 16) == 2 && len > 8) {
			uint64_t off = le64(pay);

			ASSERT_TRUE(off + len - 8 <= size);
			memcpy(img + off, pay + 8, len - 8);
		}
		pos += HDR + len;
	}
}

/* The END record of @b (its payload). */
static const uint8_t *stream_end(const struct mbuf *b)
{
	size_t pos = 0, end = 0;

	while (pos + HDR <= b->len) {
		if ((le32(b->p + pos + 4) >> 16) == 3)
			end = pos;
		pos += HDR + le32(b->p + pos + 12);
	}
	ASSERT_TRUE(end != 0);
	return b->p + end + HDR;
}

static void stop_copy_stream(struct vfio_dev *d, struct mbuf *b)
{
	int fd = mvt_goto(d, MT_STOP_COPY);

	memset(b, 0, sizeof(*b));
	ASSERT_EQ(0, vfio_read_stream(fd, b));
	close(fd);
}

static void resume_from(struct vfio_dev *d, const struct mbuf *b,
			size_t piece)
{
	int fd = mvt_goto(d, MT_RESUMING);

	ASSERT_EQ(0, vfio_write_all(fd, b->p, b->len, piece));
	ASSERT_EQ(-1, mvt_goto(d, MT_RUNNING));
	close(fd);
}

/* ---- tests ---- */

/*
 * A 4 GiB state: accepted, its metadata only allocated (13 bytes a page),
 * its stream the full size.  8 GiB is the cap.
 */
TEST_TIMEOUT(state_4gib, 120)
{
	char u[MOCKVF_UUID_LEN];
	uint64_t before, after, mem, ds;
	struct vfio_dev *d;

	mvt_require();
	mvt_create("tiny", u);
	before = mem_available();
	mvt_set(u, "state_size", "4294967296");
	after = mem_available();
	ASSERT_EQ(4 * GIB, mvt_attr_u64(u, "state_size"));
	mem = mvt_attr_u64(u, "state_mem");
	mt_log("4 GiB device: state_mem %.1f MiB, MemAvailable -%.1f MiB",
	       mem / 1048576.0, ((double)before - after) / 1048576.0);
	EXPECT_LT(mem, 16ull << 20);
	EXPECT_LT((int64_t)(before - after), (int64_t)(64ull << 20));
	ASSERT_EQ(0, mvt_attr_u64(u, "state_overlay_pages"));

	d = mvt_open(u);
	ASSERT_EQ(0, vfio_dev_data_size(d, &ds));
	ASSERT_EQ(stream_bytes(4 * GIB), ds);
	vfio_dev_close(d);

	mvt_set(u, "state_size", "8589934592");
	ASSERT_EQ(8 * GIB, mvt_attr_u64(u, "state_size"));
	EXPECT_LT(mvt_attr_u64(u, "state_mem"), 32ull << 20);
	ASSERT_EQ(-EINVAL, mockvf_attr_write(u, "state_size", "8589938688"));
	mvt_set(u, "state_size", "16384");
	EXPECT_LT(mvt_attr_u64(u, "state_mem"), 64ull << 10);
}

/*
 * 16 devices of 1 GiB in the 2 GiB guest: the module's memory stays at
 * the metadata (~3.3 MiB a device); digests are exact and distinct.
 */
TEST_TIMEOUT(sixteen_1gib_devices, 300)
{
	char u[16][MOCKVF_UUID_LEN], d0[17];
	uint64_t before, after, sum = 0;
	double t;

	mvt_require();
	before = mem_available();
	for (int i = 0; i < 16; i++) {
		mvt_create("tiny", u[i]);
		mvt_set(u[i], "state_size", "1073741824");
		ASSERT_EQ(GIB, mvt_attr_u64(u[i], "state_size"));
		sum += mvt_attr_u64(u[i], "state_mem");
	}
	after = mem_available();
	mt_log("16 x 1 GiB: state_mem %.1f MiB in all, MemAvailable %.0f -> %.0f MiB (-%.1f MiB)",
	       sum / 1048576.0, before / 1048576.0, after / 1048576.0,
	       ((double)before - after) / 1048576.0);
	EXPECT_LT(sum, 16 * (4ull << 20));
	EXPECT_LT((int64_t)(before - after), (int64_t)(160ull << 20));

	/* the first digest of a large state hashes every generated page */
	t = now_s();
	snprintf(d0, sizeof(d0), "%s", mvt_attr(u[0], "digest"));
	mt_log("first digest of 1 GiB: %.2f s", now_s() - t);
	t = now_s();
	ASSERT_STREQ(d0, mvt_attr(u[0], "digest"));
	mt_log("second digest: %.3f s", now_s() - t);
	ASSERT_TRUE(strcmp(d0, mvt_attr(u[15], "digest")) != 0);
	ASSERT_EQ(0, mvt_attr_u64(u[0], "state_overlay_pages"));
}

/*
 * A busy 1 GiB device migrated with PRE_COPY through a bounded buffer:
 * the initial image is exactly the full image's bytes, the dirty pages
 * follow, the destination's digest equals the source's at the stop and it
 * holds no overlay page (every page was recognised as generated).  Then
 * the destination is migrated on by STOP_COPY: that stream is exactly the
 * full size and regenerates the same bytes.
 */
TEST_TIMEOUT(roundtrip_1gib_busy, 480)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], uc[MOCKVF_UUID_LEN];
	struct vfio_dev *src, *dst, *dst2;
	uint64_t initial = 0, total, bytes = 0;
	char at_stop[17];
	double t;
	int sfd, rfd;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_create("tiny", uc);
	mvt_set(us, "state_size", "1073741824");
	mvt_set(us, "dirty_rate", "8388608");
	src = mvt_open(us);
	dst = mvt_open(ud);
	t = now_s();
	mvt_attr(us, "digest");		/* hash the generated pages once */
	mt_log("first digest: %.2f s", now_s() - t);

	t = now_s();
	rfd = mvt_goto(dst, MT_RESUMING);
	sfd = mvt_goto(src, MT_PRE_COPY);
	ASSERT_EQ(-ENOMSG, mvt_copy_fd(sfd, rfd, &initial));
	mt_log("initial image: %llu bytes in %.2f s",
	       (unsigned long long)initial, now_s() - t);
	ASSERT_EQ(image_bytes(GIB), initial);
	total = initial;
	for (int i = 0; i < 3; i++) {
		struct vm_precopy_info pi = { 0 };

		usleep(100000);
		ASSERT_EQ(0, vfio_dev_precopy_info(sfd, &pi));
		ASSERT_EQ(-ENOMSG, mvt_copy_fd(sfd, rfd, &total));
	}
	ASSERT_EQ(-1, mvt_goto(src, MT_PRE_COPY_P2P));
	ASSERT_EQ(-1, mvt_goto(src, MT_STOP_COPY));
	snprintf(at_stop, sizeof(at_stop), "%s", mvt_attr(us, "digest"));
	ASSERT_EQ(0, mvt_copy_fd(sfd, rfd, &total));
	close(sfd);
	ASSERT_EQ(-1, mvt_goto(dst, MT_RUNNING));
	close(rfd);
	mt_log("busy 1 GiB: %llu stream bytes (%llu beyond the image) in %.2f s",
	       (unsigned long long)total,
	       (unsigned long long)(total - initial), now_s() - t);
	/* dirty pages went across after the image */
	EXPECT_GT(total, initial + HDR + END_LEN + PAGE);
	ASSERT_EQ(GIB, mvt_attr_u64(ud, "state_size"));
	ASSERT_STREQ(at_stop, mvt_attr(us, "saved_digest"));
	ASSERT_STREQ(at_stop, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, mvt_attr_u64(ud, "state_overlay_pages"));
	EXPECT_LT(mvt_attr_u64(ud, "state_mem"), 4ull << 20);
	ASSERT_EQ(-1, mvt_goto(src, MT_STOP));
	vfio_dev_close(src);

	/* on again, idle: the stream is exactly the full size */
	dst2 = mvt_open(uc);
	t = now_s();
	ASSERT_EQ(-1, mvt_goto(dst, MT_STOP));
	sfd = mvt_goto(dst, MT_STOP_COPY);
	rfd = mvt_goto(dst2, MT_RESUMING);
	ASSERT_EQ(0, mvt_copy_fd(sfd, rfd, &bytes));
	close(sfd);
	ASSERT_EQ(-1, mvt_goto(dst2, MT_RUNNING));
	close(rfd);
	mt_log("1 GiB STOP_COPY: %llu bytes in %.2f s",
	       (unsigned long long)bytes, now_s() - t);
	ASSERT_EQ(stream_bytes(GIB), bytes);
	ASSERT_STREQ(at_stop, mvt_attr(uc, "digest"));
	ASSERT_EQ(0, mvt_attr_u64(uc, "state_overlay_pages"));
}

/*
 * Written bytes that are not a generated page are kept exactly: a random
 * page, a generated page with one byte flipped, another page's bytes (its
 * header names the wrong index) and a partial-page DATA record land in
 * the overlay; a zero page does not.  The destination accepts END's digest
 * computed here from those bytes, and saving it again gives them back.
 */
TEST(hostile_pages_kept_exactly)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], uc[MOCKVF_UUID_LEN];
	const uint64_t size = 8 * PAGE;
	uint8_t img[8 * PAGE], back[8 * PAGE], pay[8 + 8 * PAGE], end[END_LEN];
	struct vfio_dev *src, *dst, *dst2;
	struct mbuf b, hostile = { 0 }, again;
	char want[17];
	uint32_t seq = 0;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	mvt_create("tiny", uc);
	mvt_set(us, "state_size", "32768");
	src = mvt_open(us);
	dst = mvt_open(ud);
	dst2 = mvt_open(uc);
	stop_copy_stream(src, &b);
	stream_image(&b, img, size);
	memcpy(end, stream_end(&b), END_LEN);

	srand(15);
	for (uint64_t i = 0; i < PAGE; i++)
		img[PAGE + i] = rand();		/* page 1: random */
	img[2 * PAGE + 100] ^= 1;		/* page 2: one byte flipped */
	memcpy(img + 3 * PAGE, img, PAGE);	/* page 3: page 0's bytes */
	memset(img + 4 * PAGE, 0, PAGE);	/* page 4: zero */

	put_le(pay, size, 8);			/* INFO as the source's */
	memset(pay + 8, 0, 8);
	put_rec(&hostile, 1, seq++, pay, 16);
	put_le(pay, 0, 8);
	memcpy(pay + 8, img, size);
	put_rec(&hostile, 2, seq++, pay, 8 + size);
	/* a partial page: 3 bytes inside page 5 (a generated page) */
	put_le(pay, 5 * PAGE + 10, 8);
	memcpy(pay + 8, "xyz", 3);
	memcpy(img + 5 * PAGE + 10, "xyz", 3);
	put_rec(&hostile, 2, seq++, pay, 8 + 3);
	put_le(end, image_digest(img, size), 8);
	put_le(end + 8, seq, 8);
	put_rec(&hostile, 3, seq++, end, END_LEN);
	snprintf(want, sizeof(want), "%016llx",
		 (unsigned long long)image_digest(img, size));

	resume_from(dst, &hostile, 5000);
	ASSERT_STREQ(want, mvt_attr(ud, "digest"));
	ASSERT_EQ(4, mvt_attr_u64(ud, "state_overlay_pages"));

	stop_copy_stream(dst, &again);
	stream_image(&again, back, size);
	ASSERT_EQ(0, memcmp(img, back, size));
	resume_from(dst2, &again, 65536);
	ASSERT_STREQ(want, mvt_attr(uc, "digest"));
	ASSERT_EQ(4, mvt_attr_u64(uc, "state_overlay_pages"));
	mbuf_free(&b);
	mbuf_free(&again);
	free(hostile.p);
}

/*
 * A generated page written in pieces (DATA records that split pages) is
 * an overlay page only until it is whole again: it ends as a descriptor.
 */
TEST(split_pages_rejoin)
{
	char us[MOCKVF_UUID_LEN], ud[MOCKVF_UUID_LEN], d[17];
	const uint64_t size = 4 * PAGE;
	uint8_t img[4 * PAGE], pay[8 + 4 * PAGE];
	struct vfio_dev *src, *dst;
	struct mbuf b, split = { 0 };
	const uint64_t cut[] = { 0, 6000, 6001, 12288, 4 * PAGE };
	uint32_t seq = 0;

	mvt_require();
	mvt_create("tiny", us);
	mvt_create("tiny", ud);
	src = mvt_open(us);
	dst = mvt_open(ud);
	stop_copy_stream(src, &b);
	snprintf(d, sizeof(d), "%s", mvt_attr(us, "digest"));
	stream_image(&b, img, size);
	put_le(pay, size, 8);
	memset(pay + 8, 0, 8);
	put_rec(&split, 1, seq++, pay, 16);
	for (int i = 0; i + 1 < 5; i++) {
		put_le(pay, cut[i], 8);
		memcpy(pay + 8, img + cut[i], cut[i + 1] - cut[i]);
		put_rec(&split, 2, seq++, pay, 8 + cut[i + 1] - cut[i]);
	}
	{
		uint8_t end[END_LEN];

		memcpy(end, stream_end(&b), END_LEN);
		put_le(end + 8, seq, 8);
		put_rec(&split, 3, seq++, end, END_LEN);
	}
	resume_from(dst, &split, 7);
	ASSERT_STREQ(d, mvt_attr(ud, "digest"));
	ASSERT_EQ(0, mvt_attr_u64(ud, "state_overlay_pages"));
	mbuf_free(&b);
	free(split.p);
}

TEST_MAIN()
