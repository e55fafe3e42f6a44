// SPDX-License-Identifier: GPL-2.0
/*
 * qmp.c - QMP client: connect and negotiate, commands matched to their
 * replies by id, events queued until asked for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "qmp_internal.h"

/* How often qmp_connect() tries again while the socket is not there. */
#define CONNECT_RETRY_MS 10

struct qmp {
	struct qmp_line in;
	json_t *greeting;
	json_t *events;			/* array, oldest first */
	unsigned long long dropped_events;
	json_int_t next_id;
	int dead;			/* errno that killed the connection, or 0 */
	char dead_msg[256];
};

static int fail_errno(int e)
{
	errno = e;
	return -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A transport or protocol failure ends the connection: whatever follows
 * on the stream cannot be trusted to line up with our requests.
 */
static void kill_conn(struct qmp *q, int e, const char *msg)
{
	if (q->dead)
		return;
	q->dead = e;
	snprintf(q->dead_msg, sizeof(q->dead_msg), "%s", msg);
}

static void queue_event(struct qmp *q, json_t *ev)
{
	/* Bounded: a test that never asks for events must not grow forever. */
	if (json_array_size(q->events) >= QMP_MAX_QUEUED_EVENTS) {
		json_array_remove(q->events, 0);
		q->dropped_events++;
	}
	json_array_append(q->events, ev);
}

/*
 * Read one message.  Returns 0 with *out (a new reference), or a negative
 * errno with the reason in @err.  Errors other than a timeout kill the
 * connection.
 */
static int read_msg(struct qmp *q, int64_t deadline, json_t **out,
		    char *err, size_t errlen)
{
	char why[200];
	char *line;
	int ret;

	if (q->dead) {
		snprintf(err, errlen, "%s", q->dead_msg);
		return -q->dead;
	}
	do {
		ret = qmp_line_read(&q->in, deadline, &line, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s", why);
			if (ret != -ETIMEDOUT) {
				/* Keep a short, stable errno for the caller. */
				if (ret == -EMSGSIZE)
					ret = -EPROTO;
				kill_conn(q, -ret, err);
			}
			return ret;
		}
	} while (line[strspn(line, " \t")] == '\0');

	json_error_t jerr;
	json_t *msg = json_loads(line, 0, &jerr);

	if (!msg || !json_is_object(msg)) {
		snprintf(err, errlen, "%s from the peer: %.60s",
			 msg ? "a message that is not a JSON object" :
			 "invalid JSON", line);
		json_decref(msg);
		kill_conn(q, EPROTO, err);
		return -EPROTO;
	}
	*out = msg;
	return 0;
}

static int is_reply(json_t *msg)
{
	return json_object_get(msg, "return") || json_object_get(msg, "error");
}

/* Format QEMU's {"error": {"class", "desc"}} into @err. */
static void describe_error(json_t *reply, const char *cmd,
			   char *err, size_t errlen)
{
	json_t *e = json_object_get(reply, "error");
	const char *cls = json_string_value(json_object_get(e, "class"));
	const char *desc = json_string_value(json_object_get(e, "desc"));

	snprintf(err, errlen, "'%s' failed: %s: %s", cmd,
		 cls ? cls : "(no class)", desc ? desc : "(no description)");
}

json_t *qmp_command(struct qmp *q, const char *cmd, json_t *args,
		    int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = qmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	json_int_t id = ++q->next_id;
	char why[256];
	int ret;

	if (args && !json_is_object(args)) {
		json_decref(args);
		snprintf(err, errlen, "'%s': arguments must be a JSON object", cmd);
		fail_errno(EINVAL);
		return NULL;
	}
	json_t *req = json_pack("{s:s, s:I}", "execute", cmd, "id", id);

	if (req && args)
		json_object_set_new(req, "arguments", args);
	else
		json_decref(args);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;

	json_decref(req);
	if (!text) {
		snprintf(err, errlen, "'%s': encoding the request: %s (errno %d)",
			 cmd, strerror(ENOMEM), ENOMEM);
		fail_errno(ENOMEM);
		return NULL;
	}
	if (q->dead) {
		free(text);
		snprintf(err, errlen, "'%s': %s", cmd, q->dead_msg);
		fail_errno(q->dead);
		return NULL;
	}
	size_t len = strlen(text);

	text[len] = '\n';	/* json_dumps' NUL, replaced by the line end */
	ret = qmp_line_write(&q->in, text, len + 1, deadline, why, sizeof(why));
	free(text);
	if (ret == -ETIMEDOUT) {
		snprintf(err, errlen, "timed out after %d ms sending '%s'",
			 timeout_ms, cmd);
		fail_errno(ETIMEDOUT);
		return NULL;
	}
	if (ret) {
		kill_conn(q, -ret, why);
		snprintf(err, errlen, "sending '%s': %s", cmd, why);
		fail_errno(-ret);
		return NULL;
	}

	for (;;) {
		json_t *msg;

		ret = read_msg(q, deadline, &msg, why, sizeof(why));
		if (ret == -ETIMEDOUT) {
			snprintf(err, errlen,
				 "timed out after %d ms waiting for the reply to '%s'",
				 timeout_ms, cmd);
			fail_errno(ETIMEDOUT);
			return NULL;
		}
		if (ret) {
			snprintf(err, errlen, "waiting for the reply to '%s': %s",
				 cmd, why);
			fail_errno(-ret);
			return NULL;
		}
		if (json_object_get(msg, "event")) {
			queue_event(q, msg);
			json_decref(msg);
			continue;
		}
		if (!is_reply(msg)) {
			snprintf(err, errlen,
				 "waiting for the reply to '%s': a message that is neither a reply nor an event",
				 cmd);
			kill_conn(q, EPROTO, err);
			json_decref(msg);
			fail_errno(EPROTO);
			return NULL;
		}
		json_t *rid = json_object_get(msg, "id");

		/*
		 * A reply with another id answers a command that timed out
		 * earlier: drop it.  QEMU leaves the id out only when it could
		 * not parse the request, which makes it ours.
		 */
		if (rid && !(json_is_integer(rid) &&
			     json_integer_value(rid) == id)) {
			json_decref(msg);
			continue;
		}
		if (json_object_get(msg, "error")) {
			describe_error(msg, cmd, err, errlen);
			json_decref(msg);
			fail_errno(EREMOTEIO);
			return NULL;
		}
		json_t *result = json_incref(json_object_get(msg, "return"));

		json_decref(msg);
		return result;
	}
}

/* Take the oldest queued event named @name off the queue, or NULL. */
static json_t *dequeue_event(struct qmp *q, const char *name)
{
	for (size_t i = 0; i < json_array_size(q->events); i++) {
		json_t *ev = json_array_get(q->events, i);
		const char *n = json_string_value(json_object_get(ev, "event"));

		if (n && !strcmp(n, name)) {
			json_incref(ev);
			json_array_remove(q->events, i);
			return ev;
		}
	}
	return NULL;
}

json_t *qmp_wait_event(struct qmp *q, const char *event_name, int timeout_ms,
		       char *err, size_t errlen)
{
	int64_t deadline = qmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	json_t *ev = dequeue_event(q, event_name);
	char why[256];

	while (!ev) {
		json_t *msg;
		int ret = read_msg(q, deadline, &msg, why, sizeof(why));

		if (ret == -ETIMEDOUT) {
			snprintf(err, errlen,
				 "timed out after %d ms waiting for event '%s'",
				 timeout_ms, event_name);
			fail_errno(ETIMEDOUT);
			return NULL;
		}
		if (ret) {
			snprintf(err, errlen, "waiting for event '%s': %s",
				 event_name, why);
			fail_errno(-ret);
			return NULL;
		}
		const char *n = json_string_value(json_object_get(msg, "event"));

		if (n && !strcmp(n, event_name)) {
			ev = msg;
		} else if (n) {
			queue_event(q, msg);
			json_decref(msg);
		} else {
			/* No command is outstanding: a late reply, dropped. */
			json_decref(msg);
		}
	}
	return ev;
}

void qmp_discard_events(struct qmp *q)
{
	json_array_clear(q->events);
}

json_t *qmp_greeting(struct qmp *q)
{
	return q->greeting;
}

/*
 * One connect attempt.  Returns the connected fd, or -errno; ENOENT and
 * ECONNREFUSED mean "QEMU is not listening yet", EAGAIN a full backlog.
 */
static int try_connect(const struct sockaddr_un *sa, int64_t deadline)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return fd;
	int e = errno;

	if (e == EINPROGRESS) {
		char why[64];
		struct qmp_line l;
		socklen_t sl = sizeof(e);

		qmp_line_init(&l, fd);
		/* The write side becomes ready when the connect finishes. */
		if (qmp_line_write(&l, "", 0, deadline, why, sizeof(why)) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && !e)
			return fd;
		if (!e)
			e = ETIMEDOUT;
	}
	close(fd);
	return -e;
}

static int connect_retry(const char *path, int timeout_ms, int64_t deadline,
			 char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "QMP socket path '%s' is longer than %zu bytes: %s (errno %d)",
			 path, sizeof(sa.sun_path) - 1, strerror(ENAMETOOLONG),
			 ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		int fd = try_connect(&sa, deadline);

		if (fd >= 0)
			return fd;
		int e = -fd;

		if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN) {
			snprintf(err, errlen, "connect to QMP socket %s: %s (errno %d)",
				 path, strerror(e), e);
			return -e;
		}
		int left = qmp_left_ms(deadline);

		if (!left) {
			snprintf(err, errlen,
				 "timed out after %d ms connecting to QMP socket %s (last error: %s, errno %d)",
				 timeout_ms, path, strerror(e), e);
			return -ETIMEDOUT;
		}
		sleep_ms(left < CONNECT_RETRY_MS ? left : CONNECT_RETRY_MS);
	}
}

struct qmp *qmp_connect(const char *unix_path, int timeout_ms,
			char *err, size_t errlen)
{
	int64_t deadline = qmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char why[256];
	json_t *msg = NULL;
	struct qmp *q;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q || !(q->events = json_array())) {
		free(q);
		snprintf(err, errlen, "allocating a QMP handle: %s (errno %d)",
			 strerror(ENOMEM), ENOMEM);
		fail_errno(ENOMEM);
		return NULL;
	}
	qmp_line_init(&q->in, -1);
	ret = connect_retry(unix_path, timeout_ms, deadline, err, errlen);
	if (ret < 0)
		goto fail;
	q->in.fd = ret;

	ret = read_msg(q, deadline, &msg, why, sizeof(why));
	if (ret) {
		if (ret == -ETIMEDOUT)
			snprintf(err, errlen,
				 "timed out after %d ms waiting for the QMP greeting on %s",
				 timeout_ms, unix_path);
		else
			snprintf(err, errlen, "reading the QMP greeting on %s: %s",
				 unix_path, why);
		goto fail;
	}
	q->greeting = json_incref(json_object_get(msg, "QMP"));
	json_decref(msg);
	if (!json_is_object(q->greeting)) {
		snprintf(err, errlen,
			 "%s: the first message is not a QMP greeting ({\"QMP\": {...}})",
			 unix_path);
		ret = -EPROTO;
		goto fail;
	}

	json_t *r = qmp_command(q, "qmp_capabilities", NULL,
				qmp_left_ms(deadline), why, sizeof(why));

	if (!r) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", unix_path, why);
		goto fail;
	}
	json_decref(r);
	return q;

fail:
	qmp_close(q);
	fail_errno(-ret);
	return NULL;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->in.fd >= 0)
		close(q->in.fd);
	qmp_line_free(&q->in);
	json_decref(q->greeting);
	json_decref(q->events);
	free(q);
}
