// SPDX-License-Identifier: GPL-2.0
/*
 * wire_hostile - the destination never trusts the source: corrupted,
 * truncated, oversized, unknown and out-of-sequence records are rejected
 * with every device reset to RUNNING, and neither a flood nor a slow
 * device makes the destination queue more than --max-queued bytes.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine_util.h"
#include "vfiomig_wire.h"

struct dest {
	char uuid[2][MOCKVF_UUID_LEN];
	unsigned n;
	struct vfiomig_ctx *ctx;
	struct vfiomig_device *dev[2];
	struct vfiomig_link *link;
	struct vfiomig_opts o;
	struct vfiomig_report *rep;
	char path[108];
	pthread_t th;
	int ret;
	char err[512];
	char state[2][32];
};

static void *dest_main(void *arg)
{
	struct dest *d = arg;

	d->ret = vfiomig_migrate_dest(d->dev, d->n, d->link, &d->o, &d->rep,
				      d->err, sizeof(d->err));
	/* Read states while the devices are still open. */
	for (unsigned i = 0; i < d->n; i++)
		eu_attr(d->uuid[i], "state", d->state[i], 32);
	return NULL;
}

/* resume_strict of the destination devices (NULL: the profile default) */
static const char *dest_resume_strict;

static void dest_start(struct dest *d, unsigned n, uint64_t max_queued)
{
	char addr[128];

	memset(d, 0, sizeof(*d));
	d->n = n;
	eu_need_mockvf();
	for (unsigned i = 0; i < n; i++) {
		eu_create("tiny", d->uuid[i]);
		if (dest_resume_strict)
			eu_set(d->uuid[i], "resume_strict", dest_resume_strict);
	}
	ASSERT_EQ(0, vfiomig_ctx_new(&d->ctx));
	for (unsigned i = 0; i < n; i++)
		ASSERT_EQ(0, vfiomig_device_open(d->ctx, d->uuid[i], &d->dev[i]));
	snprintf(d->path, sizeof(d->path), "/tmp/vfiomig-hostile-%d.sock", getpid());
	snprintf(addr, sizeof(addr), "unix:%s", d->path);
	ASSERT_EQ(0, vfiomig_link_listen(addr, &d->link));
	vfiomig_opts_init(&d->o);
	d->o.io_timeout_ms = 2000;
	if (max_queued)
		d->o.max_queued = max_queued;
	ASSERT_EQ(0, pthread_create(&d->th, NULL, dest_main, d));
}

static void dest_join(struct dest *d)
{
	pthread_join(d->th, NULL);
	mt_log("destination: %d (%s)", d->ret, d->err);
	for (unsigned i = 0; i < d->n; i++) {
		mt_log("dev %u state %s", i, d->state[i]);
		EXPECT_EQ(0, strcmp(d->state[i], "RUNNING"));
	}
	vfiomig_link_free(d->link);
	for (unsigned i = 0; i < d->n; i++)
		vfiomig_device_close(d->dev[i]);
	vfiomig_ctx_free(d->ctx);
}

static int connect_to(struct dest *d)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	strcpy(un.sun_path, d->path);
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&un, sizeof(un)));
	return fd;
}

static void put_record(int fd, unsigned type, unsigned dev, uint32_t seq,
		       const void *p, uint32_t len)
{
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];

	vfiomig_wire_encode_hdr(h, type, dev, len, seq, p);
	/*
	 * One call: a destination that rejects the header closes at once,
	 * and a second write for the payload would then die of SIGPIPE.
	 */
	struct iovec v[2] = { { h, sizeof(h) }, { (void *)p, len } };
	ASSERT_EQ((ssize_t)(sizeof(h) + len), writev(fd, v, len ? 2 : 1));
}

/* HELLO for d's devices, then swallow the WELCOME; returns the token. */
static uint64_t hello(struct dest *d, int fd, unsigned nchan)
{
	struct vfiomig_wire_hello h;
	uint8_t buf[4096];

	memset(&h, 0, sizeof(h));
	h.ver_min = h.ver_max = VFIOMIG_WIRE_VERSION_MIN;
	h.caps = VFIOMIG_CAP_ACK_PER_DEVICE;
	h.token = 0x1234;
	h.nchan = (uint16_t)nchan;
	h.ndev = (uint16_t)d->n;
	for (unsigned i = 0; i < d->n; i++) {
		h.flags[i] = vfiomig_device_flags(d->dev[i]);
		snprintf(h.names[i], sizeof(h.names[i]), "hostile%u", i);
	}
	int len = vfiomig_wire_encode_hello(&h, buf, sizeof(buf));
	ASSERT_GT(len, 0);
	put_record(fd, VFIOMIG_REC_HELLO, VFIOMIG_WIRE_NODEV, 0, buf, (uint32_t)len);
	uint8_t hdr[VFIOMIG_WIRE_HDR_LEN];
	struct vfiomig_wire_hdr wh;
	ASSERT_EQ((ssize_t)sizeof(hdr), recv(fd, hdr, sizeof(hdr), MSG_WAITALL));
	ASSERT_EQ(0, vfiomig_wire_decode_hdr(hdr, 0, &wh));
	ASSERT_EQ(VFIOMIG_REC_WELCOME, wh.type);
	ASSERT_EQ((ssize_t)wh.len, recv(fd, buf, wh.len, MSG_WAITALL));
	return h.token;
}

TEST(corrupt_payload_rejected)
{
	struct dest d;
	uint8_t payload[64], h[VFIOMIG_WIRE_HDR_LEN];

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	memset(payload, 0xab, sizeof(payload));
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_PRECOPY_DATA, 0, sizeof(payload), 1,
				payload);
	payload[10] ^= 1;	/* flipped in transit */
	ASSERT_EQ((ssize_t)sizeof(h), write(fd, h, sizeof(h)));
	ASSERT_EQ((ssize_t)sizeof(payload), write(fd, payload, sizeof(payload)));
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EBADMSG, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(corrupt_header_rejected)
{
	struct dest d;
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV, 0, 1, NULL);
	h[6] ^= 0x40;
	ASSERT_EQ((ssize_t)sizeof(h), write(fd, h, sizeof(h)));
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EBADMSG, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(truncated_stream_rejected)
{
	struct dest d;
	uint8_t payload[4096], h[VFIOMIG_WIRE_HDR_LEN];

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	memset(payload, 1, sizeof(payload));
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_PRECOPY_DATA, 0, sizeof(payload), 1,
				payload);
	ASSERT_EQ((ssize_t)sizeof(h), write(fd, h, sizeof(h)));
	ASSERT_EQ(100, write(fd, payload, 100));
	close(fd);	/* the source dies mid-record */
	dest_join(&d);
	ASSERT_EQ(-ECONNRESET, d.ret);
	vfiomig_report_free(d.rep);
}

/*
 * The same with mlx5-like destination devices (resume_strict=0), which
 * accept whatever they get: the engine catches the cut by itself.
 */
TEST(truncated_stream_rejected_mlx5)
{
	struct dest d;
	uint8_t payload[4096], h[VFIOMIG_WIRE_HDR_LEN];

	dest_resume_strict = "0";
	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	memset(payload, 1, sizeof(payload));
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_PRECOPY_DATA, 0, sizeof(payload), 1,
				payload);
	ASSERT_EQ((ssize_t)sizeof(h), write(fd, h, sizeof(h)));
	ASSERT_EQ(100, write(fd, payload, 100));
	close(fd);
	dest_join(&d);
	ASSERT_EQ(-ECONNRESET, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(huge_length_rejected)
{
	struct dest d;
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	/* Claims 4 GiB of device data: must be refused before any allocation. */
	vfiomig_wire_encode_hdr(h, VFIOMIG_REC_PRECOPY_DATA, 0, 0, 1, NULL);
	vfiomig_put_be32(h + 8, 0xfffffff0u);
	vfiomig_put_be32(h + 20, vfiomig_crc32c(0, h, 20));
	ASSERT_EQ((ssize_t)sizeof(h), write(fd, h, sizeof(h)));
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EMSGSIZE, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(unknown_record_rejected)
{
	struct dest d;

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	put_record(fd, 99, 0, 1, "x", 1);
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EPROTO, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(out_of_sequence_rejected)
{
	struct dest d;

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	put_record(fd, VFIOMIG_REC_SWITCHOVER, VFIOMIG_WIRE_NODEV, 7, NULL, 0);
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EILSEQ, d.ret);
	vfiomig_report_free(d.rep);
}

TEST(bad_device_index_rejected)
{
	struct dest d;

	dest_start(&d, 1, 0);
	int fd = connect_to(&d);
	hello(&d, fd, 1);
	put_record(fd, VFIOMIG_REC_PRECOPY_DATA, 5, 1, "abcd", 4);
	dest_join(&d);
	close(fd);
	ASSERT_EQ(-EPROTO, d.ret);
	vfiomig_report_free(d.rep);
}

static long vm_hwm_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * A source that floods stop-copy data on channel 1 without ever switching
 * over: the destination must stop reading (the source blocks) instead of
 * queueing, then time out cleanly.
 */
TEST_TIMEOUT(flood_does_not_grow_memory, 120)
{
	static uint8_t chunk[VFIOMIG_WIRE_MAX_DATA];
	struct dest d;
	uint8_t p[10];
	long hwm0 = vm_hwm_kb();

	dest_start(&d, 2, 4ULL << 20);
	int fd0 = connect_to(&d);
	uint64_t token = hello(&d, fd0, 2);
	int fd1 = connect_to(&d);
	vfiomig_put_be64(p, token);
	vfiomig_put_be16(p + 8, 1);
	put_record(fd1, VFIOMIG_REC_CHAN_HELLO, VFIOMIG_WIRE_NODEV, 0, p, 10);
	fcntl(fd1, F_SETFL, O_NONBLOCK);
	memset(chunk, 0x5a, sizeof(chunk));

	/* Try to push 64 MiB; count what the destination accepts. */
	uint64_t pushed = 0;
	uint8_t h[VFIOMIG_WIRE_HDR_LEN];
	for (uint32_t seq = 1; seq <= 64 && pushed < (64ULL << 20); seq++) {
		vfiomig_wire_encode_hdr(h, VFIOMIG_REC_STOPCOPY_DATA, 1, sizeof(chunk), seq,
					chunk);
		struct iovec iov[2] = { { h, sizeof(h) }, { chunk, sizeof(chunk) } };
		size_t want = sizeof(h) + sizeof(chunk), done = 0;
		while (done < want) {
			struct pollfd pf = { .fd = fd1, .events = POLLOUT };
			if (poll(&pf, 1, 500) <= 0)
				goto blocked;
			ssize_t n;
			if (done < sizeof(h))
				n = writev(fd1, iov, 2);
			else
				n = write(fd1, chunk + (done - sizeof(h)), want - done);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				goto blocked;
			done += (size_t)n;
			if (done >= sizeof(h)) {
				iov[0].iov_len = 0;
			} else {
				iov[0].iov_base = h + done;
				iov[0].iov_len = sizeof(h) - done;
			}
			pushed += (uint64_t)n;
		}
	}
blocked:
	mt_log("source could push %llu bytes before blocking", (unsigned long long)pushed);
	EXPECT_LT(pushed, 16ULL << 20);
	dest_join(&d);
	close(fd0);
	close(fd1);
	EXPECT_NE(0, d.ret);
	long hwm1 = vm_hwm_kb();
	mt_log("VmHWM %ld kB -> %ld kB", hwm0, hwm1);
	EXPECT_LT(hwm1 - hwm0, 32 * 1024);
	vfiomig_report_free(d.rep);
}

/*
 * A legitimate fast source against a slow-loading destination with a
 * small cap: the migration completes and the queue never exceeds the cap.
 */
TEST_TIMEOUT(slow_load_respects_cap, 180)
{
	char src[1][MOCKVF_UUID_LEN], dst[1][MOCKVF_UUID_LEN];
	struct vfiomig_opts o;

	eu_need_mockvf();
	eu_make("tiny", "tiny", 1, src, dst);
	eu_set(src[0], "state_size", "16777216");
	eu_set(dst[0], "state_size", "16777216");
	eu_set(dst[0], "timing/load_bw_kbps", "8192");
	vfiomig_opts_init(&o);
	o.max_queued = 2ULL << 20;
	struct eu_result *r = eu_local(src, dst, 1, &o);
	ASSERT_EQ(0, r->src_ret);
	ASSERT_EQ(0, r->dst_ret);
	ASSERT_STREQ(r->src_digest[0], r->dst_digest[0]);
	/* The JSON carries peak_queued; parse it from a dump. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_TRUE(f != NULL);
	vfiomig_report_write_json(r->rep, f);
	fclose(f);
	char *pk = strstr(strstr(buf, "\"destination\":"), "\"peak_queued\":");
	ASSERT_TRUE(pk != NULL);
	unsigned long long peak = strtoull(pk + 14, NULL, 10);
	mt_log("peak queued %llu of cap %llu", peak, (unsigned long long)o.max_queued);
	free(buf);
	ASSERT_GT(peak, 0);
	ASSERT_LE(peak, o.max_queued);
}

TEST_MAIN()
