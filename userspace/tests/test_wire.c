// SPDX-License-Identifier: GPL-2.0
/*
 * test_wire - the wire codec: round trips and every class of malformed
 * input the destination must reject (bad magic, header CRC, payload CRC,
 * unknown type, length above cap, sequence, malformed HELLO).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vfiomig_wire.h"

/* Bit-at-a-time CRC-32C: the definition, to check the fast paths against. */
static uint32_t crc32c_reference(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void crc32c_matches_reference_at_any_length_and_alignment(void **state)
{
	uint8_t buf[1100];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 1090; len += (len < 40 ? 1 : 37)) {
			uint32_t whole = vfiomig_crc32c(0, buf + off, len);
			size_t cut = len / 3;

			assert_int_equal(crc32c_reference(buf + off, len), whole);
			/* Continuing a CRC over a split gives the same result. */
			assert_int_equal(whole, vfiomig_crc32c(vfiomig_crc32c(0,
					 buf + off, cut), buf + off + cut, len - cut));
		}
}

static void crc_known_vector(void **state)
{
	(void)state;
	/* CRC-32C("123456789") = 0xe3069283 */
	assert_int_equal(0xe3069283u, vfiomig_crc32c(0, "123456789", 9));
}

static void hdr_round_trip(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;
	const char p[] = "payload";

	(void)state;
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_PRECOPY_DATA, 3, sizeof(p), 42, p);
	assert_int_equal(0, vfiomig_wire_decode_hdr(h, 42, &d));
	assert_int_equal(VFIOMIG_REC_PRECOPY_DATA, d.type);
	assert_int_equal(3, d.dev);
	assert_int_equal(sizeof(p), d.len);
	assert_int_equal(42, d.seq);
	assert_int_equal(0, vfiomig_wire_check_payload(&d, p));
}

static void bad_magic(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;

	(void)state;
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV, 0, 0, NULL);
	h[0] ^= 0xff;
	assert_int_equal(-EBADMSG, vfiomig_wire_decode_hdr(h, 0, &d));
}

static void header_bit_flips(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN], c[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;

	(void)state;
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_DEV_END, 1, 8, 5, "\0\0\0\0\0\0\0\x10");
	/* Any single flipped bit in the header is caught. */
	for (unsigned bit = 0; bit < VFIOMIG_WIRE_HDR_LEN * 8; bit++) {
		memcpy(c, h, sizeof(h));
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(-EBADMSG, vfiomig_wire_decode_hdr(c, 5, &d));
	}
}

static void payload_corruption(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN], p[256];
	struct vfiomig_wire_hdr d;

	(void)state;
	for (unsigned i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)i;
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_STOPCOPY_DATA, 0, sizeof(p), 0, p);
	assert_int_equal(0, vfiomig_wire_decode_hdr(h, 0, &d));
	p[77] ^= 4;
	assert_int_equal(-EBADMSG, vfiomig_wire_check_payload(&d, p));
}

/* Build a header with a valid CRC but arbitrary fields. */
static void raw_hdr(uint8_t *h, unsigned type, uint32_t len, uint32_t seq)
{
	vfiomig_put_be32(h, VFIOMIG_WIRE_MAGIC);
	vfiomig_put_be16(h + 4, (uint16_t)type);
	vfiomig_put_be16(h + 6, 0);
	vfiomig_put_be32(h + 8, len);
	vfiomig_put_be32(h + 12, seq);
	vfiomig_put_be32(h + 16, 0);
	vfiomig_put_be32(h + 20, vfiomig_crc32c(0, h, 20));
}

static void unknown_types(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;
	unsigned bad[] = { 0, VFIOMIG_REC_TYPE_MAX + 1, 0x7fff, 0xffff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_hdr(h, bad[i], 0, 0);
		assert_int_equal(-EPROTO, vfiomig_wire_decode_hdr(h, 0, &d));
	}
}

static void length_caps(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;

	(void)state;
	for (unsigned t = 1; t <= VFIOMIG_REC_TYPE_MAX; t++) {
		uint32_t cap = vfiomig_wire_max_len(t);

		raw_hdr(h, t, cap, 0);
		assert_int_equal(0, vfiomig_wire_decode_hdr(h, 0, &d));
		raw_hdr(h, t, cap + 1, 0);
		assert_int_equal(-EMSGSIZE, vfiomig_wire_decode_hdr(h, 0, &d));
		raw_hdr(h, t, 0xffffffffu, 0);
		assert_int_equal(-EMSGSIZE, vfiomig_wire_decode_hdr(h, 0, &d));
	}
	assert_int_equal(VFIOMIG_WIRE_MAX_DATA, vfiomig_wire_max_len(VFIOMIG_REC_PRECOPY_DATA));
	assert_int_equal(0, vfiomig_wire_max_len(0));
}

static void sequence(void **state)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr d;

	(void)state;
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV, 0, 9, NULL);
	assert_int_equal(-EILSEQ, vfiomig_wire_decode_hdr(h, 8, &d));	/* replay/skip */
	assert_int_equal(-EILSEQ, vfiomig_wire_decode_hdr(h, 10, &d));
	assert_int_equal(0, vfiomig_wire_decode_hdr(h, 9, &d));
}

static struct vfiomig_wire_hello sample(void)
{
	struct vfiomig_wire_hello h;

	memset(&h, 0, sizeof(h));
	h.ver_min = 1;
	h.ver_max = 1;
	h.caps = VFIOMIG_CAP_ACK_LEGACY | VFIOMIG_CAP_ACK_PER_DEVICE;
	h.token = 0x0102030405060708ULL;
	h.boot_id[3] = 9;
	h.nchan = 2;
	h.ndev = 2;
	h.flags[0] = 7;
	h.flags[1] = 3;
	strcpy(h.names[0], "dev-a");
	strcpy(h.names[1], "0000:3b:00.1");
	return h;
}

static void hello_round_trip(void **state)
{
	struct vfiomig_wire_hello h = sample(), d;
	uint8_t buf[4096];

	(void)state;
	int len = vfiomig_wire_encode_hello(&h, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(0, vfiomig_wire_decode_hello(buf, (size_t)len, &d));
	assert_int_equal(h.token, d.token);
	assert_int_equal(2, d.ndev);
	assert_int_equal(3, d.flags[1]);
	assert_string_equal("0000:3b:00.1", d.names[1]);
	assert_memory_equal(h.boot_id, d.boot_id, 16);
}

static void hello_malformed(void **state)
{
	struct vfiomig_wire_hello h = sample(), d;
	uint8_t buf[4096], c[4096];

	(void)state;
	int len = vfiomig_wire_encode_hello(&h, buf, sizeof(buf));
	/* Every truncation is rejected. */
	for (int l = 0; l < len; l++)
		assert_int_equal(-EBADMSG, vfiomig_wire_decode_hello(buf, (size_t)l, &d));
	/* Trailing garbage. */
	memcpy(c, buf, (size_t)len);
	c[len] = 0;
	assert_int_equal(-EBADMSG, vfiomig_wire_decode_hello(c, (size_t)len + 1, &d));
	/* Zero and too many devices, zero and too many channels, inverted versions. */
	struct { size_t off; uint16_t v; } bad[] = {
		{ 34, 0 }, { 34, VFIOMIG_WIRE_MAX_DEVICES + 1 }, { 32, 0 },
		{ 32, VFIOMIG_WIRE_MAX_CHANNELS + 1 }, { 0, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(c, buf, (size_t)len);
		vfiomig_put_be16(c + bad[i].off, bad[i].v);
		assert_int_equal(-EBADMSG, vfiomig_wire_decode_hello(c, (size_t)len, &d));
	}
	/* Name length beyond the cap, and an embedded NUL. */
	memcpy(c, buf, (size_t)len);
	c[36 + 8] = VFIOMIG_WIRE_NAME_MAX + 1;
	assert_int_equal(-EBADMSG, vfiomig_wire_decode_hello(c, (size_t)len, &d));
	memcpy(c, buf, (size_t)len);
	c[36 + 9 + 1] = 0;
	assert_int_equal(-EBADMSG, vfiomig_wire_decode_hello(c, (size_t)len, &d));
}

static void hello_encode_limits(void **state)
{
	struct vfiomig_wire_hello h = sample();
	uint8_t buf[16];

	(void)state;
	assert_int_equal(-ENOSPC, vfiomig_wire_encode_hello(&h, buf, sizeof(buf)));
	h.ndev = VFIOMIG_WIRE_MAX_DEVICES + 1;
	assert_int_equal(-EINVAL, vfiomig_wire_encode_hello(&h, buf, sizeof(buf)));
}

static void names(void **state)
{
	(void)state;
	assert_string_equal("STOPCOPY_DATA", vfiomig_wire_type_name(VFIOMIG_REC_STOPCOPY_DATA));
	assert_string_equal("?", vfiomig_wire_type_name(0));
	assert_string_equal("?", vfiomig_wire_type_name(1000));
	assert_non_null(strstr(vfiomig_wire_strerror(-EMSGSIZE), "cap"));
}

/* A peer chooses the errno of an ERROR record: any u32 must be safe. */
static void error_record_errno_from_the_wire(void **state)
{
	static const uint32_t hostile[] = { 0, 4096, 0x7fffffffu, 0x80000000u,
					    0xffffffffu };
	uint8_t buf[VFIOMIG_WIRE_ERROR_MAX];
	char msg[VFIOMIG_WIRE_ERROR_MSG_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		vfiomig_put_be32(buf, hostile[i]);
		memcpy(buf + 4, "why", 3);
		assert_int_equal(-EPROTO, vfiomig_wire_decode_error(buf, 7, msg, sizeof(msg)));
		assert_string_equal("why", msg);
	}
	vfiomig_put_be32(buf, ENOSPC);
	assert_int_equal(-ENOSPC, vfiomig_wire_decode_error(buf, 4, msg, sizeof(msg)));
	assert_string_equal("", msg);
	vfiomig_put_be32(buf, VFIOMIG_WIRE_ERRNO_MAX);
	assert_int_equal(-(int)VFIOMIG_WIRE_ERRNO_MAX,
			 vfiomig_wire_decode_error(buf, 4, msg, sizeof(msg)));
	assert_int_equal(-EPROTO, vfiomig_wire_decode_error(buf, 3, msg, sizeof(msg)));
	/* The message is cut to the caller's buffer. */
	assert_int_equal(-(int)VFIOMIG_WIRE_ERRNO_MAX,
			 vfiomig_wire_decode_error(buf, 7, msg, 3));
	assert_int_equal(2, strlen(msg));

	/* Encoding: out-of-range codes become EIO; the message is capped. */
	char longmsg[VFIOMIG_WIRE_ERROR_MSG_MAX + 100];
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	assert_int_equal(VFIOMIG_WIRE_ERROR_MAX, vfiomig_wire_encode_error(buf, INT_MIN, longmsg));
	assert_int_equal(EIO, vfiomig_get_be32(buf));
	assert_int_equal(4 + 2, vfiomig_wire_encode_error(buf, -ETIMEDOUT, "ab"));
	assert_int_equal(-ETIMEDOUT, vfiomig_wire_decode_error(buf, 6, msg, sizeof(msg)));

	/* strerror of any int, INT_MIN included, is defined. */
	assert_string_equal("error code out of range", vfiomig_wire_strerror(INT_MIN));
	assert_string_equal("error code out of range", vfiomig_wire_strerror(INT_MAX));
	assert_string_equal(strerror(EIO), vfiomig_wire_strerror(-EIO));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_matches_reference_at_any_length_and_alignment),
		cmocka_unit_test(crc_known_vector),
		cmocka_unit_test(hdr_round_trip),
		cmocka_unit_test(bad_magic),
		cmocka_unit_test(header_bit_flips),
		cmocka_unit_test(payload_corruption),
		cmocka_unit_test(unknown_types),
		cmocka_unit_test(length_caps),
		cmocka_unit_test(sequence),
		cmocka_unit_test(hello_round_trip),
		cmocka_unit_test(hello_malformed),
		cmocka_unit_test(hello_encode_limits),
		cmocka_unit_test(names),
		cmocka_unit_test(error_record_errno_from_the_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
