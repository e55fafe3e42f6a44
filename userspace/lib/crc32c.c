// SPDX-License-Identifier: GPL-2.0
/*
 * crc32c.c - CRC-32C of wire record headers (payloads use XXH64, see
 * wire_codec.c).
 *
 * CRC-32C rather than a cryptographic MAC: the goal is to reject corrupted
 * or truncated streams, not authenticated peers (run over a trusted
 * network or a tunnel for that).
 */
#define _GNU_SOURCE
#include <string.h>

#include "vfiomig_wire.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

static uint32_t table[256];
/* The CPU's CRC-32C instruction when there is one, the table otherwise. */
static uint32_t (*update)(uint32_t crc, const uint8_t *p, size_t len);

static uint32_t update_table(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t update_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
	}
	crc = (uint32_t)c;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}
#endif

/*
 * Filled before main(), before any thread exists: no lazy initialisation
 * for concurrent callers to race on (or for helgrind to doubt).
 */
__attribute__((constructor))
static void init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
	update = update_table;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		update = update_sse42;
#endif
}

uint32_t vfiomig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return ~update(~crc, p, len);
}
