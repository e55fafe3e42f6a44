/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfiomig_wire.h - the libvfiomig wire protocol codec (see docs/wire-protocol.md).
 *
 * Pure functions over byte buffers: no I/O, no allocation.  Exposed so that
 * tests (and hostile-peer tools) can build exact byte streams.
 */
#ifndef VFIOMIG_WIRE_H
#define VFIOMIG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define VFIOMIG_WIRE_MAGIC 0x564d4731u	/* "VMG1" */
#define VFIOMIG_WIRE_VERSION_MIN 2
#define VFIOMIG_WIRE_VERSION_MAX 2
#define VFIOMIG_WIRE_HDR_LEN 24
#define VFIOMIG_WIRE_NODEV 0xffffu
#define VFIOMIG_WIRE_MAX_DATA (1u << 20)	/* device data payload cap */
#define VFIOMIG_WIRE_MAX_CTRL 4096u		/* control payload cap */
#define VFIOMIG_WIRE_MAX_DEVICES 64
#define VFIOMIG_WIRE_MAX_CHANNELS 16
#define VFIOMIG_WIRE_NAME_MAX 63
/* ERROR record: u32 errno, then up to ERROR_MSG_MAX message bytes. */
#define VFIOMIG_WIRE_ERROR_MSG_MAX 512u
#define VFIOMIG_WIRE_ERROR_MAX (4u + VFIOMIG_WIRE_ERROR_MSG_MAX)
/* Errnos a peer may send: Linux uses 1..4095 (the range of -MAX_ERRNO). */
#define VFIOMIG_WIRE_ERRNO_MAX 4095u

enum vfiomig_wire_type {
	VFIOMIG_REC_HELLO = 1,		/* src->dst, channel 0: handshake */
	VFIOMIG_REC_WELCOME = 2,	/* dst->src: handshake accepted */
	VFIOMIG_REC_CHAN_HELLO = 3,	/* src->dst: first record of channel >= 1 */
	VFIOMIG_REC_PRECOPY_DATA = 4,	/* src->dst, channel 0: device bytes */
	VFIOMIG_REC_INIT_DATA_SENT = 5,	/* src->dst: ack request for a device */
	VFIOMIG_REC_ACK = 6,		/* dst->src: switchover ack */
	VFIOMIG_REC_SWITCHOVER = 7,	/* src->dst: precopy over, devices stopping */
	VFIOMIG_REC_STOPCOPY_DATA = 8,	/* src->dst, any channel: device bytes */
	VFIOMIG_REC_DEV_END = 9,	/* src->dst: device stream complete */
	VFIOMIG_REC_DONE = 10,		/* dst->src: every device RUNNING */
	VFIOMIG_REC_ERROR = 11,		/* either way: abort, errno + message */
	VFIOMIG_REC_KEEPALIVE = 12,	/* src->dst, channel 0: precopy idle, still here */
	VFIOMIG_REC_TYPE_MAX = 12,
};

/* Capability bits exchanged in HELLO/WELCOME. */
#define VFIOMIG_CAP_ACK_LEGACY (1u << 0)	/* one ack for all devices */
#define VFIOMIG_CAP_ACK_PER_DEVICE (1u << 1)	/* re-usable per-device acks */
#define VFIOMIG_CAP_REINIT (1u << 2)		/* source may re-send initial data */
#define VFIOMIG_CAP_KEEPALIVE (1u << 3)	/* source sends KEEPALIVE while idle */

struct vfiomig_wire_hdr {
	uint16_t type;
	uint16_t dev;
	uint32_t len;
	uint32_t seq;
	uint32_t psum;
};

/** vfiomig_crc32c() - CRC-32C (Castagnoli) of @len bytes, continuing @crc (start 0). */
uint32_t vfiomig_crc32c(uint32_t crc, const void *buf, size_t len);

/** vfiomig_wire_type_name() - "HELLO", ...; "?" for unknown types. */
const char *vfiomig_wire_type_name(unsigned type);

/**
 * vfiomig_wire_max_len() - payload cap of @type (0 for unknown types, which
 * are errors).
 */
uint32_t vfiomig_wire_max_len(unsigned type);

/** vfiomig_wire_encode_hdr() - fill @out for a record with @payload of @len bytes. */
void vfiomig_wire_encode_hdr(uint8_t out[VFIOMIG_WIRE_HDR_LEN], unsigned type,
			     unsigned dev, uint32_t len, uint32_t seq,
			     const void *payload);

/**
 * vfiomig_wire_decode_hdr() - parse and validate a header before any payload
 * is read: -EBADMSG bad magic or header CRC, -EPROTO unknown type,
 * -EMSGSIZE length above the type's cap, -EILSEQ sequence number not
 * @expect_seq (lost, replayed or reordered record).
 */
int vfiomig_wire_decode_hdr(const uint8_t in[VFIOMIG_WIRE_HDR_LEN],
			    uint32_t expect_seq, struct vfiomig_wire_hdr *h);

/**
 * vfiomig_wire_payload_sum() - the psum field for @len bytes at @payload:
 * the low 32 bits of XXH64 with seed 0, or 0 when @len is 0.
 */
uint32_t vfiomig_wire_payload_sum(const void *payload, uint32_t len);

/** vfiomig_wire_check_payload() - -EBADMSG if @payload does not match h->psum. */
int vfiomig_wire_check_payload(const struct vfiomig_wire_hdr *h,
			       const void *payload);

/**
 * vfiomig_wire_strerror() - why a decode failed, for the codes above; any
 * other -errno (or errno) as strerror(); "error code out of range" outside
 * 1..VFIOMIG_WIRE_ERRNO_MAX.
 */
const char *vfiomig_wire_strerror(int err);

/**
 * vfiomig_wire_encode_error() - an ERROR payload for -errno (or errno) @err
 * and @msg (cut at VFIOMIG_WIRE_ERROR_MSG_MAX bytes) into @buf, which holds
 * VFIOMIG_WIRE_ERROR_MAX bytes.  An @err outside 1..VFIOMIG_WIRE_ERRNO_MAX
 * is sent as EIO.  Returns the payload length.
 */
uint32_t vfiomig_wire_encode_error(uint8_t buf[VFIOMIG_WIRE_ERROR_MAX], int err,
				   const char *msg);

/**
 * vfiomig_wire_decode_error() - parse an ERROR payload of @len bytes: the
 * message, NUL-terminated, into @msg (@msglen > VFIOMIG_WIRE_ERROR_MSG_MAX
 * keeps all of it).  Returns the peer's errno as -errno when it is in
 * 1..VFIOMIG_WIRE_ERRNO_MAX, else -EPROTO (a short payload included): a
 * peer-chosen number is never negated unchecked.
 */
int vfiomig_wire_decode_error(const uint8_t *buf, uint32_t len, char *msg,
			      size_t msglen);

struct vfiomig_wire_hello {
	uint16_t ver_min, ver_max;	/* WELCOME: both = chosen version */
	uint32_t caps;
	uint64_t token;			/* session token, echoed in CHAN_HELLO */
	uint8_t boot_id[16];		/* equal boot ids: clocks comparable */
	uint16_t nchan;
	uint16_t ndev;
	uint64_t flags[VFIOMIG_WIRE_MAX_DEVICES];
	char names[VFIOMIG_WIRE_MAX_DEVICES][VFIOMIG_WIRE_NAME_MAX + 1];
};

/**
 * vfiomig_wire_encode_hello() - serialise @h (HELLO or WELCOME payload) into
 * @buf; returns the length or -ENOSPC/-EINVAL.
 */
int vfiomig_wire_encode_hello(const struct vfiomig_wire_hello *h, uint8_t *buf,
			      size_t len);

/**
 * vfiomig_wire_decode_hello() - parse a HELLO/WELCOME payload; -EBADMSG on
 * truncation, trailing bytes, too many devices or channels, bad names.
 */
int vfiomig_wire_decode_hello(const uint8_t *buf, size_t len,
			      struct vfiomig_wire_hello *h);

/* Fixed-layout helpers for the small records (big-endian fields). */
void vfiomig_put_be16(uint8_t *p, uint16_t v);
void vfiomig_put_be32(uint8_t *p, uint32_t v);
void vfiomig_put_be64(uint8_t *p, uint64_t v);
uint16_t vfiomig_get_be16(const uint8_t *p);
uint32_t vfiomig_get_be32(const uint8_t *p);
uint64_t vfiomig_get_be64(const uint8_t *p);

#endif /* VFIOMIG_WIRE_H */
