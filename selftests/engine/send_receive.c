// SPDX-License-Identifier: GPL-2.0
/*
 * send_receive - the source and the destination in two processes over a
 * unix socket; digests must match.  (Over TCP loopback, on any device:
 * conformance/engine send_receive_tcp_loopback.)
 */
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_util.h"

#define N 2

/* Destination child: no harness calls here (they would run the parent's cleanups). */
static int child(char (*dst)[MOCKVF_UUID_LEN], const char *addr, int wfd,
		 unsigned channels)
{
	struct vfiomig_device *dd[N];
	struct vfiomig_link *l;
	struct vfiomig_ctx *ctx;
	struct vfiomig_opts o;
	char err[512];
	int port;

	if (vfiomig_ctx_new(&ctx))
		return 2;
	for (int i = 0; i < N; i++)
		if (vfiomig_device_open(ctx, dst[i], &dd[i])) {
			fprintf(stderr, "child: %s\n", vfiomig_ctx_errmsg(ctx));
			return 2;
		}
	if (vfiomig_link_listen(addr, &l))
		return 3;
	port = vfiomig_link_port(l);
	if (write(wfd, &port, sizeof(port)) != sizeof(port))
		return 4;
	close(wfd);
	vfiomig_opts_init(&o);
	o.channels = channels;
	int ret = vfiomig_migrate_dest(dd, N, l, &o, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "child: %s\n", err);
	vfiomig_link_free(l);
	for (int i = 0; i < N; i++)
		vfiomig_device_close(dd[i]);
	vfiomig_ctx_free(ctx);
	return ret ? 1 : 0;
}

/* The test VM boots with "lo" down; TCP loopback needs it up. */
static void loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ASSERT_GE(fd, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
			close(fd);
			SKIP("loopback interface is down and cannot be brought up: %s",
			     strerror(errno));
		}
		mt_log("brought the loopback interface up");
	}
	close(fd);
}

/* If the parent fails, the child must not keep the devices open (removal would block). */
static void kill_child(void *arg)
{
	pid_t pid = (pid_t)(long)arg;

	if (kill(pid, SIGKILL) == 0)
		waitpid(pid, NULL, 0);
}

static void two_processes(const char *listen_addr, bool tcp)
{
	char src[N][MOCKVF_UUID_LEN], dst[N][MOCKVF_UUID_LEN];
	struct vfiomig_device *sd[N];
	struct vfiomig_link *l;
	struct vfiomig_ctx *ctx;
	struct vfiomig_opts o;
	struct vfiomig_report *rep = NULL;
	char err[512], addr[128];
	int pfd[2], port, status;

	eu_need_mockvf();
	if (tcp)
		loopback_up();
	eu_make("tiny", "tiny", N, src, dst);
	ASSERT_EQ(0, pipe(pfd));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(pfd[0]);
		_exit(child(dst, listen_addr, pfd[1], 2));
	}
	close(pfd[1]);
	mt_defer(kill_child, (void *)(long)pid);
	ASSERT_EQ((ssize_t)sizeof(port), read(pfd[0], &port, sizeof(port)));
	close(pfd[0]);
	if (tcp)
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	else
		snprintf(addr, sizeof(addr), "%s", listen_addr);

	ASSERT_EQ(0, vfiomig_ctx_new(&ctx));
	for (int i = 0; i < N; i++)
		ASSERT_EQ(0, vfiomig_device_open(ctx, src[i], &sd[i]));
	ASSERT_EQ(0, vfiomig_link_connect(addr, &l));
	vfiomig_opts_init(&o);
	int ret = vfiomig_migrate_source(sd, N, l, &o, &rep, err, sizeof(err));
	if (ret)
		mt_log("source: %s", err);
	char sdig[N][32];
	for (int i = 0; i < N; i++)
		eu_attr(src[i], "digest", sdig[i], 32);
	vfiomig_link_free(l);
	for (int i = 0; i < N; i++)
		vfiomig_device_close(sd[i]);
	vfiomig_ctx_free(ctx);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, ret);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	mt_log("downtime %.3f ms (%s)", vfiomig_report_downtime_ns(rep) / 1e6, addr);
	vfiomig_report_free(rep);
	for (int i = 0; i < N; i++) {
		char dd[32], st[32];
		eu_attr(dst[i], "digest", dd, sizeof(dd));
		eu_attr(dst[i], "state", st, sizeof(st));
		mt_log("dev %d: %s / %s (%s)", i, sdig[i], dd, st);
		ASSERT_STREQ(sdig[i], dd);
	}
}

TEST(unix_socket)
{
	char path[64];

	snprintf(path, sizeof(path), "unix:/tmp/vfiomig-sr-%d.sock", getpid());
	two_processes(path, false);
}

TEST_MAIN()
