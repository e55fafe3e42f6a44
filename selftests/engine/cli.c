// SPDX-License-Identifier: GPL-2.0
/*
 * cli - vfio-migrate from the outside: bad input gives one clear line and
 * exit 2, failures exit 1, a device in use is named, local and
 * send/receive migrations work and write a versioned JSON report, and a
 * local migration is clean under valgrind.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_util.h"

#ifndef VFIO_MIGTEST_TOP
#define VFIO_MIGTEST_TOP "."
#endif
#define BIN VFIO_MIGTEST_TOP "/build/bin/vfio-migrate"

/* Run a shell command line, capture stdout+stderr, return the exit status. */
static int run(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	FILE *p = popen(cmd, "r");
	ASSERT_TRUE(p != NULL);
	while (n + 1 < len && fgets(out + n, (int)(len - n), p))
		n += strlen(out + n);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void need_bin(void)
{
	if (access(BIN, X_OK))
		SKIP("%s not built", BIN);
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

TEST(bad_usage_one_line_exit_2)
{
	static const char *const cases[] = {
		"", "bogus", "local", "local --src a", "local --src a,b --dst c",
		"local --src a --dst a", "local --src a --dst b --transitions fast",
		"send a", "send --to 127.0.0.1:1", "receive a",
		"send --to x:1 --channels 0 a", "send --to x:1 --max-queued 12 a",
		"send --to x:1 --switchover-ack maybe a", "send --to x:1 a a",
		"info", "info --channels 2 a", "local --src a --dst b --nope",
	};
	char out[4096];

	need_bin();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run(out, sizeof(out), "%s %s", BIN, cases[i]);
		mt_log("'%s' -> %d: %s", cases[i], st, out);
		EXPECT_EQ(2, st);
		EXPECT_EQ(1, lines(out));
		EXPECT_TRUE(!strncmp(out, "vfio-migrate: ", 14));
	}
}

TEST(help_for_each_command)
{
	static const char *const cmds[] = { "", "local", "send", "receive", "info", "plot" };
	char out[8192];

	need_bin();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(0, run(out, sizeof(out), "%s %s --help", BIN, cmds[i]));
		EXPECT_TRUE(strstr(out, "usage: vfio-migrate") != NULL);
	}
}

TEST(unknown_device_exit_1)
{
	char out[1024];

	need_bin();
	ASSERT_EQ(1, run(out, sizeof(out), "%s info 00000000-0000-0000-0000-000000000000", BIN));
	ASSERT_EQ(1, lines(out));
	ASSERT_TRUE(strstr(out, "no such device") != NULL);
}

TEST(device_in_use_named)
{
	char uuid[MOCKVF_UUID_LEN], out[1024], sock[64];

	need_bin();
	eu_need_mockvf();
	eu_create("tiny", uuid);
	snprintf(sock, sizeof(sock), "/tmp/vfiomig-cli-%d.sock", getpid());
	char addr[80];
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(BIN, BIN, "receive", "--listen", addr, "--timeout", "3000", uuid,
		      (char *)NULL);
		_exit(127);
	}
	/* Wait until the receiver listens (it opened the device first). */
	struct stat st;
	for (int i = 0; i < 100 && stat(sock, &st); i++)
		usleep(50000);
	int rc = run(out, sizeof(out), "%s info %s", BIN, uuid);
	mt_log("%d: %s", rc, out);
	waitpid(pid, NULL, 0);
	ASSERT_EQ(1, rc);
	ASSERT_EQ(1, lines(out));
	ASSERT_TRUE(strstr(out, "in use") || strstr(out, "already open"));
}

TEST_TIMEOUT(local_with_json_and_plot, 120)
{
	char s[2][MOCKVF_UUID_LEN], d[2][MOCKVF_UUID_LEN], out[8192], json[64], svg[64];

	need_bin();
	eu_need_mockvf();
	eu_make("tiny", "tiny", 2, s, d);
	snprintf(json, sizeof(json), "/tmp/vfiomig-cli-%d.json", getpid());
	snprintf(svg, sizeof(svg), "/tmp/vfiomig-cli-%d.svg", getpid());
	int rc = run(out, sizeof(out), "%s local --src %s,%s --dst %s,%s --json %s", BIN,
		     s[0], s[1], d[0], d[1], json);
	const char *dt = strstr(out, "downtime: ");
	mt_log("exit %d, %.40s", rc, dt ? dt : out);
	ASSERT_EQ(0, rc);
	ASSERT_TRUE(dt != NULL);
	ASSERT_EQ(0, run(out, sizeof(out), "grep -c '\"schema\":\"vfiomig-report\",\"version\":1' %s",
			 json));
	ASSERT_EQ(0, run(out, sizeof(out), "%s plot %s -o %s", BIN, json, svg));
	ASSERT_EQ(0, run(out, sizeof(out), "grep -c '<svg' %s", svg));
	for (int i = 0; i < 2; i++) {
		char a[32], b[32];
		eu_attr(s[i], "digest", a, sizeof(a));
		eu_attr(d[i], "digest", b, sizeof(b));
		ASSERT_STREQ(a, b);
	}
	unlink(json);
	unlink(svg);
}

/*
 * The engine's memory hygiene in a real session (threads, data fds,
 * sockets, the read-ahead drain of a 4 MiB stop-copy stream), which the
 * host's ASan and valgrind runs of the unit tests cannot reach.
 */
TEST_TIMEOUT(local_under_valgrind, 280)
{
	char s[1][MOCKVF_UUID_LEN], d[1][MOCKVF_UUID_LEN];
	char s2[1][MOCKVF_UUID_LEN], d2[1][MOCKVF_UUID_LEN];
	char out[16384];

	need_bin();
	eu_need_mockvf();
	if (run(out, sizeof(out), "command -v valgrind"))
		SKIP("valgrind not installed");
	eu_make("tiny", "tiny", 1, s, d);
	eu_make("nopre", "nopre", 1, s2, d2);
	eu_set(s2[0], "state_size", "4194304");
	eu_set(d2[0], "state_size", "4194304");
	int rc = run(out, sizeof(out),
		     "valgrind -q --error-exitcode=99 --leak-check=full "
		     "--errors-for-leak-kinds=definite,indirect "
		     "%s local --quiet --src %s,%s --dst %s,%s", BIN, s[0],
		     s2[0], d[0], d2[0]);
	mt_log("exit %d%s%.2000s", rc, *out ? ":\n" : "", out);
	ASSERT_EQ(0, rc);
	for (int i = 0; i < 2; i++) {
		char a[32], b[32];

		eu_attr(i ? s2[0] : s[0], "saved_digest", a, sizeof(a));
		eu_attr(i ? d2[0] : d[0], "digest", b, sizeof(b));
		ASSERT_STREQ(a, b);
	}
}

TEST_TIMEOUT(send_receive_tcp_processes, 120)
{
	char s[2][MOCKVF_UUID_LEN], d[2][MOCKVF_UUID_LEN], out[8192], pf[64], port[16];

	need_bin();
	eu_need_mockvf();
	/* The test VM boots with lo down. */
	run(out, sizeof(out), "ip link set lo up");
	eu_make("tiny", "tiny", 2, s, d);
	snprintf(pf, sizeof(pf), "/tmp/vfiomig-cli-port-%d", getpid());
	unlink(pf);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		execl(BIN, BIN, "receive", "--listen", "127.0.0.1:0", "--port-file", pf,
		      "--quiet", d[0], d[1], (char *)NULL);
		_exit(127);
	}
	FILE *f = NULL;
	for (int i = 0; i < 200 && !(f = fopen(pf, "r")); i++)
		usleep(50000);
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(fgets(port, sizeof(port), f) != NULL);
	fclose(f);
	port[strcspn(port, "\n")] = '\0';
	int rc = run(out, sizeof(out), "%s send --to 127.0.0.1:%s --quiet %s %s", BIN, port,
		     s[0], s[1]);
	mt_log("exit %d %s", rc, out);
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	unlink(pf);
	ASSERT_EQ(0, rc);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 2; i++) {
		char a[32], b[32];
		eu_attr(s[i], "digest", a, sizeof(a));
		eu_attr(d[i], "digest", b, sizeof(b));
		ASSERT_STREQ(a, b);
	}
}

TEST_MAIN()
