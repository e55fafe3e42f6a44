// SPDX-License-Identifier: GPL-2.0
/*
 * resume - the RESUMING side of vfio.h on every selected pair (or on a
 * device resuming its own state when no pairs are given): a full stream
 * loads in writes of any size and the device then runs; a truncated and a
 * corrupt stream may be refused at write() or at RESUMING->STOP, or even
 * accepted (the stream is opaque: a driver need not detect every flip),
 * but whatever the driver does, the device ends recoverable: reset gives
 * RUNNING and a full stream then loads.  A device in ERROR gets nothing
 * but VFIO_DEVICE_RESET (6.12's helper WARNs on requests from ERROR).
 */
#define _GNU_SOURCE
#include "cf_suite.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STREAM (8ull << 30)

struct pair {
	struct cf_dev *src, *dst;
	struct mbuf img;
};

static void free_img(void *p)
{
	mbuf_free(p);
}

static struct pair *pairs(int *n)
{
	static struct pair p[DEVSEL_MAX];

	*n = cf_npairs();
	for (int i = 0; i < *n; i++) {
		p[i].src = cf_use(cf_pair_src(i));
		p[i].dst = cf_use(cf_pair_dst(i));
	}
	if (!*n) {
		/* No pairs: each device resumes its own state. */
		*n = cf.profile ? 1 : cf_ndevices();
		for (int i = 0; i < *n; i++)
			p[i].src = p[i].dst = cf_use(cf_device(i));
	}
	for (int i = 0; i < *n; i++) {
		int fd = cf_must(p[i].src, MT_STOP_COPY), ret;

		memset(&p[i].img, 0, sizeof(p[i].img));
		mt_defer(free_img, &p[i].img);
		ret = cf_read_all(fd, &p[i].img, MAX_STREAM);
		if (ret)
			mt_log("dev %s: STOP_COPY read: %s (%d)",
			       p[i].src->name, strerror(-ret), ret);
		ASSERT_EQ(0, ret);
		ASSERT_GT(p[i].img.len, 0);
		close(fd);
		cf_must_reset(p[i].src);
	}
	return p;
}

/* Write @len bytes of @buf in odd-sized pieces: segmentation is free. */
static int load(struct cf_dev *d, const uint8_t *buf, size_t len, int *fdp)
{
	int fd = cf_must(d, MT_RESUMING), ret;

	ASSERT_GE(fd, 0);
	*fdp = fd;
	ret = vfio_write_all(fd, buf, len, 4093);
	if (ret)
		mt_log("dev %s: write in RESUMING: %s (%d)", d->name,
		       strerror(-ret), ret);
	return ret;
}

static void full_load(struct cf_dev *d, const struct mbuf *img)
{
	int fd, ret = load(d, img->p, img->len, &fd);

	if (ret)
		mt_fail_here(__FILE__, __LINE__, "dev %s: a full stream of "
			     "%zu bytes refused at write: %s (%d)", d->name,
			     img->len, strerror(-ret), ret);
	ASSERT_EQ(0, ret);
	ret = cf_go(d, MT_STOP, NULL);
	if (ret)
		mt_fail_here(__FILE__, __LINE__, "dev %s: RESUMING->STOP after "
			     "a full stream: %s (%d)", d->name, strerror(-ret),
			     ret);
	ASSERT_EQ(0, ret);
	close(fd);
	ASSERT_EQ(MT_STOP, cf_state(d));
	cf_must(d, MT_RUNNING);
	ASSERT_EQ(MT_RUNNING, cf_state(d));
}

TEST_TIMEOUT(full_stream_loads, 120)
{
	int n;
	struct pair *p = pairs(&n);

	for (int i = 0; i < n; i++) {
		full_load(p[i].dst, &p[i].img);
		mt_log("dev %s: loaded %zu bytes from %s", p[i].dst->name,
		       p[i].img.len, p[i].src->name);
	}
}

/*
 * Feed @len bytes of @buf, leave RESUMING if the device allows, then
 * demand recoverability.
 */
static void bad_load(struct cf_dev *d, const struct mbuf *img,
		     const uint8_t *buf, size_t len, const char *what)
{
	int fd, wret = load(d, buf, len, &fd), sret = 0, st;
	bool sent = false;

	/* Nothing but a reset for a device in ERROR (see the top). */
	if (cf_state(d) != MT_ERROR) {
		sret = cf_go(d, MT_STOP, NULL);
		sent = true;
	}
	st = cf_state(d);
	if (sent && !sret && st != MT_STOP)
		mt_fail_here(__FILE__, __LINE__, "dev %s: RESUMING->STOP with "
			     "a %s stream succeeded but the device is in %s",
			     d->name, what, vfio_state_name(st));
	mt_log("dev %s: %s stream (%zu of %zu bytes): write %s, "
	       "RESUMING->STOP %s, then %s", d->name, what, len, img->len,
	       wret ? cf_errname(wret) : "ok",
	       !sent ? "not sent (ERROR)" : sret ? cf_errname(sret) : "ok",
	       vfio_state_name(st));
	close(fd);
	cf_must_reset(d);
	full_load(d, img);
}

TEST_TIMEOUT(truncated_stream_recoverable, 120)
{
	int n;
	struct pair *p = pairs(&n);

	for (int i = 0; i < n; i++) {
		bad_load(p[i].dst, &p[i].img, p[i].img.p, p[i].img.len / 2,
			 "truncated");
		cf_must_reset(p[i].dst);
		/* One byte short: the end of the stream is missing. */
		bad_load(p[i].dst, &p[i].img, p[i].img.p, p[i].img.len - 1,
			 "one byte short");
	}
}

TEST_TIMEOUT(corrupt_stream_recoverable, 120)
{
	int n;
	struct pair *p = pairs(&n);

	for (int i = 0; i < n; i++) {
		const struct mbuf *img = &p[i].img;
		uint8_t *bad = malloc(img->len);
		size_t mid = img->len / 2, span = img->len < 256 ? 1 : 64;

		ASSERT_TRUE(bad != NULL);
		memcpy(bad, img->p, img->len);
		for (size_t k = 0; k < span; k++)
			bad[mid + k] ^= 0xa5;
		bad_load(p[i].dst, img, bad, img->len, "corrupt (middle)");
		cf_must_reset(p[i].dst);
		memcpy(bad, img->p, img->len);
		/* The first bytes: a header, for any format with one. */
		for (size_t k = 0; k < 16 && k < img->len; k++)
			bad[k] ^= 0xff;
		bad_load(p[i].dst, img, bad, img->len, "corrupt (start)");
		free(bad);
	}
}

CONFORMANCE_PROGRAM()
TEST_MAIN()
