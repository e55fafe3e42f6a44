// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic mutation fuzzing of the wire decoder (vfiomig_wire.h):
 * vfiomig_wire_decode_hdr(), vfiomig_wire_check_payload() and
 * vfiomig_wire_decode_hello() get random and mutated input in buffers of
 * exactly the input's size (so ASan, under 'make check', sees any read
 * past the end).  They must never crash, must answer with one of their
 * documented error codes, must reject every bit-flipped header or payload,
 * every length above a type's cap and every truncated or padded HELLO, and
 * whatever they accept must be canonical (re-encoding gives back the same
 * bytes).
 *
 * The seed is fixed (reproducible in CI); FUZZ_SEED overrides it and
 * FUZZ_ITERS multiplies the iteration counts for longer local runs.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfiomig_wire.h"

#define DEFAULT_SEED 0x5eed2026c0ffee01ULL

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

static unsigned scale(void)
{
	const char *e = getenv("FUZZ_ITERS");
	long v = e ? strtol(e, NULL, 0) : 1;

	return v >= 1 && v <= 100000 ? (unsigned)v : 1;
}

/* Each test starts from the same seed, so each replays on its own. */
static int seed_rng(void **state)
{
	const char *e = getenv("FUZZ_SEED");
	uint64_t seed = e && *e ? strtoull(e, NULL, 0) : DEFAULT_SEED;

	(void)state;
	rng_state = seed ? seed : 1;
	for (int i = 0; i < 4; i++)
		rnd();
	print_message("seed %#llx (FUZZ_SEED to replay)\n",
		      (unsigned long long)seed);
	return 0;
}

/* A heap copy of exactly @len bytes (malloc(0) avoided: ASan still flags). */
static uint8_t *exact(const void *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

static int hdr_err_ok(int r)
{
	return r == 0 || r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE ||
	       r == -EILSEQ;
}

/* Header bytes with a valid header CRC, fields chosen freely. */
static void forge_hdr(uint8_t out[VFIOMIG_WIRE_HDR_LEN], uint32_t magic,
		      uint16_t type, uint16_t dev, uint32_t len, uint32_t seq,
		      uint32_t psum)
{
	vfiomig_put_be32(out, magic);
	vfiomig_put_be16(out + 4, type);
	vfiomig_put_be16(out + 6, dev);
	vfiomig_put_be32(out + 8, len);
	vfiomig_put_be32(out + 12, seq);
	vfiomig_put_be32(out + 16, psum);
	vfiomig_put_be32(out + 20, vfiomig_crc32c(0, out, 20));
}

/* Random bytes: never a crash, only documented errors, sane fields. */
static void hdr_random(void **state)
{
	unsigned n = 100000 * scale();

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		uint8_t raw[VFIOMIG_WIRE_HDR_LEN], *in;
		struct vfiomig_wire_hdr h;
		uint32_t seq = (uint32_t)below(4);
		int r;

		fill(raw, sizeof(raw));
		if (i & 1)	/* get past the magic check half the time */
			vfiomig_put_be32(raw, VFIOMIG_WIRE_MAGIC);
		if (i & 2)	/* and past the CRC a quarter of the time */
			vfiomig_put_be32(raw + 20,
					 vfiomig_crc32c(0, raw, 20));
		in = exact(raw, sizeof(raw));
		r = vfiomig_wire_decode_hdr(in, seq, &h);
		free(in);
		assert_true(hdr_err_ok(r));
		if ((i & 3) != 3)
			assert_int_equal(r, -EBADMSG);
		if (r == 0) {
			assert_true(h.type >= 1 &&
				    h.type <= VFIOMIG_REC_TYPE_MAX);
			assert_true(h.len <= vfiomig_wire_max_len(h.type));
			assert_int_equal(h.seq, seq);
		}
	}
}

/* Every type with boundary lengths and sequence numbers. */
static void hdr_lengths_and_types(void **state)
{
	static const uint32_t odd[] = {
		0, 1, 4, 8, 10, 16, 516, 517, VFIOMIG_WIRE_MAX_CTRL,
		VFIOMIG_WIRE_MAX_CTRL + 1, VFIOMIG_WIRE_MAX_DATA,
		VFIOMIG_WIRE_MAX_DATA + 1, 0x7fffffffu, 0x80000000u,
		0xffffffffu,
	};

	(void)state;
	for (unsigned type = 0; type <= 0xffff;
	     type = type < 20 ? type + 1 : type * 3 + 1) {
		for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
			uint8_t raw[VFIOMIG_WIRE_HDR_LEN], *in;
			struct vfiomig_wire_hdr h;
			uint32_t len = odd[k], cap = vfiomig_wire_max_len(type);
			int r;

			forge_hdr(raw, VFIOMIG_WIRE_MAGIC, (uint16_t)type, 3,
				  len, 7, 0);
			in = exact(raw, sizeof(raw));
			r = vfiomig_wire_decode_hdr(in, 7, &h);
			if (type == 0 || type > VFIOMIG_REC_TYPE_MAX) {
				assert_int_equal(cap, 0);
				assert_int_equal(r, -EPROTO);
			} else if (len > cap) {
				assert_int_equal(r, -EMSGSIZE);
			} else {
				assert_int_equal(r, 0);
				assert_int_equal(h.type, type);
				assert_int_equal(h.dev, 3);
				assert_int_equal(h.len, len);
				assert_int_equal(h.seq, 7);
				/* and the sequence is enforced */
				assert_int_equal(vfiomig_wire_decode_hdr(in, 8, &h),
						 -EILSEQ);
				assert_int_equal(vfiomig_wire_decode_hdr(in, 6, &h),
						 -EILSEQ);
			}
			free(in);
		}
		if (type > 0xffff / 3)
			break;
	}
	/* the cap never exceeds the data cap: no "impossible" length */
	for (unsigned type = 0; type < 64; type++)
		assert_true(vfiomig_wire_max_len(type) <= VFIOMIG_WIRE_MAX_DATA);
}

/* Valid headers round-trip; 1..5 flipped bits are always caught. */
static void hdr_bitflips(void **state)
{
	unsigned n = 50000 * scale();
	uint8_t *pay = malloc(VFIOMIG_WIRE_MAX_CTRL);

	(void)state;
	assert_non_null(pay);
	for (unsigned i = 0; i < n; i++) {
		unsigned type = 1 + below(VFIOMIG_REC_TYPE_MAX);
		uint32_t cap = vfiomig_wire_max_len(type);
		uint32_t len = (uint32_t)below((cap < VFIOMIG_WIRE_MAX_CTRL ?
						cap : VFIOMIG_WIRE_MAX_CTRL) + 1);
		uint32_t seq = (uint32_t)rnd();
		uint8_t raw[VFIOMIG_WIRE_HDR_LEN], mut[VFIOMIG_WIRE_HDR_LEN];
		struct vfiomig_wire_hdr h;
		int flips = 1 + below(5), r;

		fill(pay, len);
		vfiomig_wire_encode_hdr(raw, type, (unsigned)below(0x10000),
					len, seq, pay);
		assert_int_equal(vfiomig_wire_decode_hdr(raw, seq, &h), 0);
		assert_int_equal(h.len, len);
		assert_int_equal(h.type, type);
		assert_int_equal(vfiomig_wire_check_payload(&h, pay), 0);

		memcpy(mut, raw, sizeof(raw));
		for (int f = 0; f < flips; f++) {
			unsigned bit = below(8 * VFIOMIG_WIRE_HDR_LEN);

			mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		if (!memcmp(mut, raw, sizeof(raw)))
			continue;	/* flips cancelled out */
		r = vfiomig_wire_decode_hdr(mut, seq, &h);
		assert_int_equal(r, -EBADMSG);
	}
	free(pay);
}

/* Payload checksum: exact-size buffers, flips caught, len 0 needs psum 0. */
static void payload_check(void **state)
{
	unsigned n = 4000 * scale();

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = i % 16 == 0 ? (uint32_t)below(70000) :
					     (uint32_t)below(300);
		uint8_t *pay = malloc(len ? len : 1), raw[VFIOMIG_WIRE_HDR_LEN];
		struct vfiomig_wire_hdr h;

		assert_non_null(pay);
		fill(pay, len);
		vfiomig_wire_encode_hdr(raw, VFIOMIG_REC_STOPCOPY_DATA, 0, len,
					0, pay);
		assert_int_equal(vfiomig_wire_decode_hdr(raw, 0, &h), 0);
		assert_int_equal(vfiomig_wire_check_payload(&h, len ? pay : NULL),
				 0);
		if (len) {
			unsigned flips = 1 + below(3);
			uint8_t *save = exact(pay, len);

			for (unsigned f = 0; f < flips; f++) {
				uint64_t bit = below(8ULL * len);

				pay[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			if (memcmp(save, pay, len))
				assert_int_equal(vfiomig_wire_check_payload(&h, pay),
						 -EBADMSG);
			free(save);
		} else {
			h.psum = (uint32_t)rnd() | 1;
			assert_int_equal(vfiomig_wire_check_payload(&h, NULL),
					 -EBADMSG);
		}
		/* a wrong CRC in the header is a bad payload */
		h.psum ^= 1u << below(32);
		if (len)
			assert_int_equal(vfiomig_wire_check_payload(&h, pay),
					 -EBADMSG);
		free(pay);
	}
}

/* ---- HELLO ---- */

static void random_hello(struct vfiomig_wire_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->ver_min = (uint16_t)below(3);
	h->ver_max = h->ver_min + (uint16_t)below(3);
	h->caps = (uint32_t)rnd();
	h->token = rnd();
	fill(h->boot_id, sizeof(h->boot_id));
	h->nchan = 1 + (uint16_t)below(VFIOMIG_WIRE_MAX_CHANNELS);
	h->ndev = 1 + (uint16_t)below(below(4) ? 4 : VFIOMIG_WIRE_MAX_DEVICES);
	for (unsigned i = 0; i < h->ndev; i++) {
		size_t nl = below(4) ? below(16) : below(VFIOMIG_WIRE_NAME_MAX + 1);

		h->flags[i] = rnd();
		for (size_t c = 0; c < nl; c++)
			h->names[i][c] = (char)(1 + below(255));	/* no NUL */
		h->names[i][nl] = '\0';
	}
}

#define HELLO_BUF (36 + VFIOMIG_WIRE_MAX_DEVICES * (9 + VFIOMIG_WIRE_NAME_MAX))

static int hello_equal(const struct vfiomig_wire_hello *a,
		       const struct vfiomig_wire_hello *b)
{
	if (a->ver_min != b->ver_min || a->ver_max != b->ver_max ||
	    a->caps != b->caps || a->token != b->token ||
	    memcmp(a->boot_id, b->boot_id, 16) || a->nchan != b->nchan ||
	    a->ndev != b->ndev)
		return 0;
	for (unsigned i = 0; i < a->ndev; i++)
		if (a->flags[i] != b->flags[i] ||
		    strcmp(a->names[i], b->names[i]))
			return 0;
	return 1;
}

/*
 * Decode @len bytes from an exact-size copy; on success the result must be
 * within limits and encode back to the very same bytes.
 */
static int decode_checked(const uint8_t *buf, size_t len)
{
	static struct vfiomig_wire_hello h;
	static uint8_t again[HELLO_BUF + 64];
	uint8_t *in = exact(buf, len);
	int r = vfiomig_wire_decode_hello(in, len, &h), n;

	free(in);
	assert_true(r == 0 || r == -EBADMSG);
	if (r)
		return r;
	assert_true(h.ndev >= 1 && h.ndev <= VFIOMIG_WIRE_MAX_DEVICES);
	assert_true(h.nchan >= 1 && h.nchan <= VFIOMIG_WIRE_MAX_CHANNELS);
	assert_true(h.ver_min <= h.ver_max);
	for (unsigned i = 0; i < h.ndev; i++)
		assert_true(strnlen(h.names[i], VFIOMIG_WIRE_NAME_MAX + 1) <=
			    VFIOMIG_WIRE_NAME_MAX);
	n = vfiomig_wire_encode_hello(&h, again, sizeof(again));
	assert_int_equal(n, (int)len);
	assert_memory_equal(again, buf, len);
	return 0;
}

/* Round trips, then every truncation and any padding is refused. */
static void hello_roundtrip_truncate_pad(void **state)
{
	static struct vfiomig_wire_hello h, back;
	static uint8_t buf[HELLO_BUF + 64];
	unsigned n = 300 * scale();

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *in;
		int len;

		random_hello(&h);
		len = vfiomig_wire_encode_hello(&h, buf, sizeof(buf));
		assert_true(len >= 36);
		in = exact(buf, len);
		assert_int_equal(vfiomig_wire_decode_hello(in, len, &back), 0);
		free(in);
		assert_true(hello_equal(&h, &back));

		/* every shorter prefix is a truncation (a sample if long) */
		for (int cut = 0; cut < len;
		     cut += len > 200 && below(2) ? 1 + below(40) : 1)
			assert_int_equal(decode_checked(buf, cut), -EBADMSG);
		/* trailing bytes */
		fill(buf + len, 1 + below(32));
		assert_int_equal(decode_checked(buf, len + 1 + below(32)),
				 -EBADMSG);
	}
}

/* Mutated encodings and pure garbage: accepted only if canonical. */
static void hello_mutations(void **state)
{
	static struct vfiomig_wire_hello h;
	static uint8_t buf[HELLO_BUF + 64];
	unsigned n = 20000 * scale(), acc = 0;

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		int len, k = below(8);

		random_hello(&h);
		len = vfiomig_wire_encode_hello(&h, buf, sizeof(buf));
		assert_true(len > 0);
		switch (k) {
		case 0:		/* random bytes */
			for (int m = 1 + below(8); m > 0; m--)
				buf[below(len)] = (uint8_t)rnd();
			break;
		case 1:		/* counts forged */
			vfiomig_put_be16(buf + 32 + 2 * below(2),
					 (uint16_t)(below(3) ? below(80) : rnd()));
			break;
		case 2:		/* a name length forged */
			if (h.ndev) {
				size_t off = 36;
				unsigned d = below(h.ndev);

				for (unsigned j = 0; j < d; j++)
					off += 9 + buf[off + 8];
				buf[off + 8] = (uint8_t)rnd();
			}
			break;
		case 3:		/* an embedded NUL in a name */
			if (len > 45)
				buf[45 + below(len - 45)] = 0;
			break;
		case 4:		/* versions swapped / extreme */
			vfiomig_put_be16(buf, (uint16_t)rnd());
			break;
		case 5:		/* length lies: cut or extend by a little */
			len = below(2) ? len - (int)below(len + 1)
				       : len + (int)below(64);
			if (len > (int)sizeof(buf))
				len = sizeof(buf);
			break;
		case 6:		/* pure garbage */
			len = below(HELLO_BUF + 1);
			fill(buf, len);
			break;
		default:	/* garbage after a plausible fixed part */
			vfiomig_put_be16(buf + 32, 1);
			vfiomig_put_be16(buf + 34, 1 + below(3));
			fill(buf + 36, len - 36);
			break;
		}
		if (decode_checked(buf, len) == 0)
			acc++;
	}
	print_message("hello mutations: %u of %u accepted (all canonical)\n",
		      acc, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(hdr_random, seed_rng),
		cmocka_unit_test_setup(hdr_lengths_and_types, seed_rng),
		cmocka_unit_test_setup(hdr_bitflips, seed_rng),
		cmocka_unit_test_setup(payload_check, seed_rng),
		cmocka_unit_test_setup(hello_roundtrip_truncate_pad, seed_rng),
		cmocka_unit_test_setup(hello_mutations, seed_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
