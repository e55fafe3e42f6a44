// SPDX-License-Identifier: GPL-2.0
/*
 * test_qmp - the QMP client against a scripted fake server on a unix
 * socket: normal replies, events around replies, error replies, silence,
 * a peer that closes mid-line or sends garbage or an endless line, a
 * socket that appears late, stale replies, and the migration poller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 9, \"minor\": 2, \"micro\": 0}}, \"capabilities\": [\"oob\"]}}\r\n"

/*
 * The fake server runs a script, one step per string:
 *   "recv"      read one request line, remember its id and command
 *   "send:TEXT" send TEXT + "\r\n", "$ID" replaced by the last id
 *   "raw:TEXT"  send TEXT as is (no line end)
 *   "sleep:MS"  sleep
 *   "flood:N"   send N bytes of 'x' and no line end
 *   "close"     close the connection now
 * After the script it reads until the client closes.  Every script starts
 * with the greeting and the qmp_capabilities exchange unless it sets
 * no_handshake.
 */
struct server {
	char dir[64];
	char path[100];
	const char *const *script;
	int no_handshake;
	int listen_delay_ms;
	pthread_t th;
	/* what the server saw */
	char cmds[16][64];
	int ncmds;
	char last_request[4096];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One request line; returns its length or -1 on EOF/timeout. */
static int recv_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		char c;
		ssize_t r = recv(fd, &c, 1, 0);

		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return (int)n;
}

static void *serve(void *arg)
{
	struct server *s = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char id[32] = "0";
	char line[4096];

	if (s->listen_delay_ms)
		sleep_ms(s->listen_delay_ms);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1)) {
		close(lfd);
		return NULL;
	}
	int fd = accept(lfd, NULL, NULL);

	close(lfd);
	if (fd < 0)
		return NULL;
	/* A safety net: a broken client must not hang the test run. */
	struct timeval tv = { 10, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	static const char *const handshake[] = {
		"send:" GREETING, "recv", "send:{\"return\": {}, \"id\": $ID}", NULL
	};
	const char *const *steps[2] = { s->no_handshake ? NULL : handshake,
					s->script };

	for (int part = 0; part < 2; part++) {
		for (const char *const *p = steps[part]; p && *p; p++) {
			const char *st = *p;

			if (!strcmp(st, "recv")) {
				if (recv_line(fd, line, sizeof(line)) < 0)
					goto out;
				json_t *req = json_loads(line, 0, NULL);

				snprintf(s->last_request, sizeof(s->last_request),
					 "%s", line);
				snprintf(id, sizeof(id), "%lld", (long long)
					 json_integer_value(json_object_get(req, "id")));
				if (s->ncmds < 16)
					snprintf(s->cmds[s->ncmds++], 64, "%s",
						 json_string_value(json_object_get(req, "execute")));
				json_decref(req);
			} else if (!strncmp(st, "send:", 5) || !strncmp(st, "raw:", 4)) {
				const char *t = strchr(st, ':') + 1;
				char out[4096];
				size_t o = 0;

				for (; *t && o + 40 < sizeof(out); t++) {
					if (!strncmp(t, "$ID", 3)) {
						o += (size_t)snprintf(out + o, sizeof(out) - o,
								      "%s", id);
						t += 2;
					} else {
						out[o++] = *t;
					}
				}
				if (st[0] == 's' && (o < 2 || out[o - 1] != '\n')) {
					out[o++] = '\r';
					out[o++] = '\n';
				}
				send_all(fd, out, o);
			} else if (!strncmp(st, "sleep:", 6)) {
				sleep_ms(atoi(st + 6));
			} else if (!strncmp(st, "flood:", 6)) {
				size_t n = strtoul(st + 6, NULL, 10);
				char chunk[65536];

				memset(chunk, 'x', sizeof(chunk));
				while (n) {
					size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

					send_all(fd, chunk, k);
					n -= k;
				}
			} else if (!strcmp(st, "close")) {
				goto out;
			}
		}
	}
	/* Hold the connection until the client closes it. */
	while (recv(fd, line, sizeof(line), 0) > 0)
		;
out:
	close(fd);
	return NULL;
}

static void server_start(struct server *s, const char *const *script)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/test_qmp.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/qmp.sock", s->dir);
	s->script = script;
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->th, NULL);
	unlink(s->path);
	rmdir(s->dir);
}

/* Connect and keep the server's handle; the script runs after the handshake. */
static struct qmp *connect_ok(struct server *s, const char *const *script)
{
	char err[256] = "";

	server_start(s, script);
	struct qmp *q = qmp_connect(s->path, 2000, err, sizeof(err));

	if (!q)
		fail_msg("qmp_connect: %s", err);
	return q;
}

static void normal_reply(void **state)
{
	static const char *const script[] = {
		"recv",
		"send:{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);
	json_t *g = qmp_greeting(q);

	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(g, "version"), "qemu"), "major")), 9);
	json_t *r = qmp_command(q, "query-status",
				json_pack("{s:b}", "verbose", 1), 1000,
				err, sizeof(err));

	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "status")),
			    "running");
	json_decref(r);
	qmp_close(q);
	server_stop(&s);
	assert_int_equal(s.ncmds, 2);
	assert_string_equal(s.cmds[0], "qmp_capabilities");
	assert_string_equal(s.cmds[1], "query-status");
	/* The request carried its arguments and a numeric id. */
	json_t *req = json_loads(s.last_request, 0, NULL);

	assert_non_null(req);
	assert_true(json_is_true(json_object_get(json_object_get(req, "arguments"),
						 "verbose")));
	assert_true(json_is_integer(json_object_get(req, "id")));
	json_decref(req);
}

static void events_before_reply(void **state)
{
	static const char *const script[] = {
		"recv",
		"send:{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}",
		"send:{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}}",
		"send:{\"event\": \"MIGRATION\", \"data\": {\"status\": \"completed\"}}",
		"send:{\"return\": {}, \"id\": $ID}",
		"sleep:100",
		"send:{\"event\": \"RESUME\"}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);
	json_t *r = qmp_command(q, "stop", NULL, 1000, err, sizeof(err));

	assert_non_null(r);
	assert_true(json_is_object(r) && json_object_size(r) == 0);
	json_decref(r);

	/* Queued events come back at once, oldest of that name first. */
	int64_t t0 = now_ms();
	json_t *ev = qmp_wait_event(q, "MIGRATION", 0, err, sizeof(err));

	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(ev, "data"), "status")), "active");
	json_decref(ev);
	ev = qmp_wait_event(q, "STOP", 1000, err, sizeof(err));
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(ev, "timestamp"), "seconds")), 1);
	json_decref(ev);
	assert_true(now_ms() - t0 < 50);

	/* One that arrives later is waited for. */
	ev = qmp_wait_event(q, "RESUME", 2000, err, sizeof(err));
	assert_non_null(ev);
	json_decref(ev);

	ev = qmp_wait_event(q, "MIGRATION", 0, err, sizeof(err));
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(ev, "data"), "status")), "completed");
	json_decref(ev);
	qmp_close(q);
	server_stop(&s);
}

static void error_reply(void **state)
{
	static const char *const script[] = {
		"recv",
		"send:{\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'nic9' not found\"}, \"id\": $ID}",
		"recv",
		"send:{\"return\": 7, \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);

	errno = 0;
	assert_null(qmp_command(q, "device_del",
				json_pack("{s:s}", "id", "nic9"), 1000,
				err, sizeof(err)));
	assert_int_equal(errno, EREMOTEIO);
	assert_non_null(strstr(err, "'device_del'"));
	assert_non_null(strstr(err, "GenericError"));
	assert_non_null(strstr(err, "Device 'nic9' not found"));

	/* An error reply leaves the connection usable. */
	json_t *r = qmp_command(q, "query-x", NULL, 1000, err, sizeof(err));

	assert_non_null(r);
	assert_int_equal(json_integer_value(r), 7);
	json_decref(r);
	qmp_close(q);
	server_stop(&s);
}

static void never_replies(void **state)
{
	static const char *const script[] = { "recv", NULL };
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);
	int64_t t0 = now_ms();

	errno = 0;
	assert_null(qmp_command(q, "query-migrate", NULL, 200, err, sizeof(err)));
	int64_t took = now_ms() - t0;

	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(err,
		"timed out after 200 ms waiting for the reply to 'query-migrate'");
	assert_true(took >= 195 && took < 700);
	qmp_close(q);
	server_stop(&s);
}

static void stale_reply_dropped(void **state)
{
	static const char *const script[] = {
		"recv",			/* times out on the client */
		"sleep:250",
		"send:{\"return\": \"late\", \"id\": $ID}",
		"recv",
		"send:{\"event\": \"X\"}",
		"send:{\"return\": \"fresh\", \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);

	assert_null(qmp_command(q, "slow", NULL, 100, err, sizeof(err)));
	assert_int_equal(errno, ETIMEDOUT);
	sleep_ms(200);
	json_t *r = qmp_command(q, "next", NULL, 1000, err, sizeof(err));

	assert_non_null(r);
	assert_string_equal(json_string_value(r), "fresh");
	json_decref(r);
	qmp_close(q);
	server_stop(&s);
}

/* The connection fails with @e and a message containing @what (and "'cmd'"). */
static void expect_dead(const char *const *script, int e, const char *what)
{
	struct server s = { 0 };
	char err[256] = "";

	struct qmp *q = connect_ok(&s, script);
	int64_t t0 = now_ms();

	errno = 0;
	assert_null(qmp_command(q, "query-status", NULL, 3000, err, sizeof(err)));
	assert_int_equal(errno, e);
	assert_non_null(strstr(err, "'query-status'"));
	if (!strstr(err, what))
		fail_msg("'%s' not in '%s'", what, err);
	/* Detected, not timed out. */
	assert_true(now_ms() - t0 < 1500);
	/* The connection stays dead: the next call fails at once. */
	char err2[256] = "";

	t0 = now_ms();
	assert_null(qmp_command(q, "query-name", NULL, 3000, err2, sizeof(err2)));
	assert_int_equal(errno, e);
	assert_non_null(strstr(err2, "'query-name'"));
	assert_non_null(strstr(err2, what));
	assert_true(now_ms() - t0 < 100);
	qmp_close(q);
	server_stop(&s);
}

/* Peers that break the connection, each with the errno and words it earns. */
static const struct dead_peer {
	const char *const script[6];
	int err;
	const char *what;
} dead_peers[] = {
	{ { "recv", "raw:{\"return\": {\"sta", "sleep:50", "close" },
	  ECONNRESET, "in the middle of a message" },
	{ { "recv", "close" }, ECONNRESET, "connection closed by the peer" },
	{ { "recv", "send:this is not json at all" },
	  EPROTO, "invalid JSON from the peer: this is not json" },
	{ { "recv", "send:[1, 2]" }, EPROTO, "not a JSON object" },
	{ { "recv", "send:{\"hello\": 1}" }, EPROTO, "neither a reply nor an event" },
	{ { "recv", "flood:3145728" }, EPROTO, "message longer than 1048576 bytes" },
};

static void dead_connections(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dead_peers) / sizeof(dead_peers[0]); i++)
		expect_dead(dead_peers[i].script, dead_peers[i].err,
			    dead_peers[i].what);
}

static void line_at_the_cap_is_fine(void **state)
{
	/* {"return": "xxx...x", "id": N} just under the cap, then a reply. */
	static char big[64];
	static const char *script[] = {
		"recv", "raw:{\"return\": \"", big, "raw:\", \"id\": $ID}\r\n", NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	snprintf(big, sizeof(big), "flood:%d", QMP_MAX_LINE - 100);
	struct qmp *q = connect_ok(&s, script);
	json_t *r = qmp_command(q, "big", NULL, 5000, err, sizeof(err));

	if (!r)
		fail_msg("%s", err);
	assert_int_equal(json_string_length(r), QMP_MAX_LINE - 100);
	json_decref(r);
	qmp_close(q);
	server_stop(&s);
}

static void delayed_socket(void **state)
{
	static const char *const script[] = {
		"recv", "send:{\"return\": {}, \"id\": $ID}", NULL
	};
	struct server s = { .listen_delay_ms = 300 };
	char err[256] = "";

	(void)state;
	int64_t t0 = now_ms();
	struct qmp *q = connect_ok(&s, script);

	assert_true(now_ms() - t0 >= 290);
	json_t *r = qmp_command(q, "cont", NULL, 1000, err, sizeof(err));

	assert_non_null(r);
	json_decref(r);
	qmp_close(q);
	server_stop(&s);
}

static void no_socket_times_out(void **state)
{
	char err[256] = "";

	(void)state;
	int64_t t0 = now_ms();

	errno = 0;
	assert_null(qmp_connect("/tmp/test_qmp.nonexistent/qmp.sock", 200,
				err, sizeof(err)));
	int64_t took = now_ms() - t0;

	assert_int_equal(errno, ETIMEDOUT);
	assert_non_null(strstr(err, "timed out after 200 ms connecting"));
	assert_non_null(strstr(err, "/tmp/test_qmp.nonexistent/qmp.sock"));
	assert_non_null(strstr(err, "errno 2"));
	assert_true(took >= 195 && took < 700);
}

static void path_too_long(void **state)
{
	char path[200], err[256] = "";

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_null(qmp_connect(path, 100, err, sizeof(err)));
	assert_int_equal(errno, ENAMETOOLONG);
	assert_non_null(strstr(err, "longer than"));
}

/*
 * A server that breaks the handshake: qmp_connect() fails within
 * @limit_ms (well before @timeout_ms where it must not wait it out) with
 * errno @e and @what in the message.
 */
static void expect_connect_fails(const char *const *script, unsigned timeout_ms,
				 int e, const char *what, int64_t limit_ms)
{
	struct server s = { .no_handshake = 1 };
	char err[256] = "";

	server_start(&s, script);
	int64_t t0 = now_ms();

	assert_null(qmp_connect(s.path, timeout_ms, err, sizeof(err)));
	assert_int_equal(errno, e);
	if (!strstr(err, what))
		fail_msg("'%s' not in '%s'", what, err);
	assert_true(now_ms() - t0 < limit_ms);
	server_stop(&s);
}

static void handshake_failures(void **state)
{
	static const char *const silent[] = { "sleep:500", NULL };
	static const char *const wrong[] = { "send:{\"return\": {}}", NULL };
	static const char *const refused[] = {
		"send:" GREETING, "recv",
		"send:{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}, \"id\": $ID}",
		NULL
	};

	(void)state;
	expect_connect_fails(silent, 300, ETIMEDOUT, "greeting", 1000);
	expect_connect_fails(wrong, 1000, EPROTO, "not a QMP greeting", 1000);
	expect_connect_fails(refused, 1000, EREMOTEIO,
			     "'qmp_capabilities' failed: CommandNotFound: nope",
			     1000);
}

static void wait_event_times_out(void **state)
{
	static const char *const script[] = {
		"send:{\"event\": \"OTHER\"}", NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);
	int64_t t0 = now_ms();

	assert_null(qmp_wait_event(q, "SHUTDOWN", 150, err, sizeof(err)));
	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(err, "timed out after 150 ms waiting for event 'SHUTDOWN'");
	assert_true(now_ms() - t0 >= 145 && now_ms() - t0 < 600);
	/* The other event was kept, and can be discarded. */
	json_t *ev = qmp_wait_event(q, "OTHER", 0, err, sizeof(err));

	assert_non_null(ev);
	json_decref(ev);
	qmp_close(q);
	server_stop(&s);
}

static void discard_events(void **state)
{
	static const char *const script[] = {
		"recv", "send:{\"event\": \"STOP\"}", "send:{\"return\": {}, \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);

	json_decref(qmp_command(q, "stop", NULL, 1000, err, sizeof(err)));
	qmp_discard_events(q);
	assert_null(qmp_wait_event(q, "STOP", 50, err, sizeof(err)));
	assert_int_equal(errno, ETIMEDOUT);
	qmp_close(q);
	server_stop(&s);
}

static void migration_completes(void **state)
{
	static const char *const script[] = {
		"recv", "send:{\"return\": {}, \"id\": $ID}",
		"recv", "send:{\"return\": {\"status\": \"setup\"}, \"id\": $ID}",
		"recv", "send:{\"event\": \"MIGRATION\"}",
		"send:{\"return\": {\"status\": \"active\"}, \"id\": $ID}",
		"recv", "send:{\"return\": {\"status\": \"completed\", \"downtime\": 42}, \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";
	json_t *final = NULL;

	(void)state;
	struct qmp *q = connect_ok(&s, script);

	assert_int_equal(qmp_wait_migration(q, 2000, &final, err, sizeof(err)), 0);
	assert_non_null(final);
	assert_int_equal(json_integer_value(json_object_get(final, "downtime")), 42);
	json_decref(final);
	qmp_close(q);
	server_stop(&s);
	assert_int_equal(s.ncmds, 5);
	assert_string_equal(s.cmds[4], "query-migrate");
}

static void migration_fails(void **state)
{
	static const char *const script[] = {
		"recv", "send:{\"return\": {\"status\": \"active\"}, \"id\": $ID}",
		"recv", "send:{\"return\": {\"status\": \"failed\", \"error-desc\": \"vfio: STOP_COPY failed\"}, \"id\": $ID}",
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";
	json_t *final = NULL;

	(void)state;
	struct qmp *q = connect_ok(&s, script);

	assert_int_equal(qmp_wait_migration(q, 2000, &final, err, sizeof(err)), -1);
	assert_int_equal(errno, ECANCELED);
	assert_string_equal(err, "migration failed: vfio: STOP_COPY failed");
	assert_string_equal(json_string_value(json_object_get(final, "status")),
			    "failed");
	json_decref(final);
	qmp_close(q);
	server_stop(&s);
}

static void migration_times_out(void **state)
{
	static const char *const script[] = {
		"recv", "send:{\"return\": {\"status\": \"active\"}, \"id\": $ID}",
		"recv", "send:{\"return\": {\"status\": \"device\"}, \"id\": $ID}",
		"recv",		/* and then silence */
		NULL
	};
	struct server s = { 0 };
	char err[256] = "";

	(void)state;
	struct qmp *q = connect_ok(&s, script);
	int64_t t0 = now_ms();

	assert_int_equal(qmp_wait_migration(q, 300, NULL, err, sizeof(err)), -1);
	int64_t took = now_ms() - t0;

	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(err,
		"migration not finished after 300 ms (last status 'device')");
	assert_true(took >= 295 && took < 800);
	qmp_close(q);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normal_reply),
		cmocka_unit_test(events_before_reply),
		cmocka_unit_test(error_reply),
		cmocka_unit_test(never_replies),
		cmocka_unit_test(stale_reply_dropped),
		cmocka_unit_test(dead_connections),
		cmocka_unit_test(line_at_the_cap_is_fine),
		cmocka_unit_test(delayed_socket),
		cmocka_unit_test(no_socket_times_out),
		cmocka_unit_test(path_too_long),
		cmocka_unit_test(handshake_failures),
		cmocka_unit_test(wait_event_times_out),
		cmocka_unit_test(discard_events),
		cmocka_unit_test(migration_completes),
		cmocka_unit_test(migration_fails),
		cmocka_unit_test(migration_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
