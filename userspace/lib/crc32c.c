// SPDX-License-Identifier: GPL-2.0
/*
 * crc32c.c - table-driven CRC-32C for wire records.
 *
 * CRC-32C rather than a cryptographic MAC: the goal is to reject corrupted
 * or truncated streams, not authenticated peers (run over a trusted
 * network or a tunnel for that).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "vfiomig_wire.h"

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
}

uint32_t vfiomig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&once, init_table);
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
