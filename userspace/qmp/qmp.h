/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qmp.h - a small, bounded QMP client for tests that drive QEMU processes
 * over unix sockets.
 *
 * QMP is line-oriented JSON: the server greets with {"QMP": {...}}, every
 * request gets one reply ({"return": ...} or {"error": {...}}) carrying
 * the request's "id", and asynchronous events ({"event": NAME, ...}) may
 * arrive at any time, also between a request and its reply.
 *
 * Every call here is bounded by a timeout in milliseconds: each read and
 * write waits with poll() for the time that is left, so a QEMU that hangs,
 * dies, or sends garbage makes the call fail with a message instead of
 * blocking a test forever.  A single message may be at most QMP_MAX_LINE
 * bytes; a longer one is a protocol error (memory use stays bounded).
 *
 * On failure, functions return NULL (or -1) with a one-line message in
 * @err (naming the command or event and, for system errors, the errno)
 * and errno set: ETIMEDOUT (the bound passed), ECONNRESET (the peer
 * closed), EPROTO (the peer sent something that is not QMP), EREMOTEIO
 * (QEMU answered with an error) or the errno of the failing system call.
 * After ECONNRESET or EPROTO the connection is dead: later calls fail at
 * once with the same message.  A timeout does not kill the connection; a
 * late reply to a timed-out command is recognised by its id and dropped.
 *
 * A handle is not thread-safe: use it from one thread at a time.
 */
#ifndef VFIO_MIGTEST_QMP_H
#define VFIO_MIGTEST_QMP_H

#include <stddef.h>
#include <jansson.h>

/* Longest QMP message accepted, in bytes (without the line end). */
#define QMP_MAX_LINE (1024 * 1024)
/* Events kept while waiting for something else; older ones are dropped. */
#define QMP_MAX_QUEUED_EVENTS 1024

struct qmp;

/**
 * qmp_connect() - connect to a QMP unix socket and leave capabilities
 * negotiation.
 * @unix_path: the socket path (QEMU's -qmp unix:PATH,server=on,wait=off).
 * @timeout_ms: bound for the whole call: connecting, the greeting and the
 *	qmp_capabilities reply.  The connect is retried every 10 ms while the
 *	socket does not exist yet or refuses, because QEMU creates it a moment
 *	after it starts.
 * @err, @errlen: receives the reason on failure.
 *
 * Return: a handle to free with qmp_close(), or NULL.
 */
struct qmp *qmp_connect(const char *unix_path, int timeout_ms,
			char *err, size_t errlen);

/**
 * qmp_close() - close the connection and free the handle and its queued
 * events.  NULL is allowed.
 */
void qmp_close(struct qmp *q);

/**
 * qmp_greeting() - the server's greeting object (the value of "QMP":
 * version and capabilities), borrowed: valid until qmp_close().
 */
json_t *qmp_greeting(struct qmp *q);

/**
 * qmp_command() - execute a command and wait for its reply.
 * @q: connection.
 * @cmd: command name ("query-status").
 * @args: its arguments, a JSON object, or NULL for none.  The reference is
 *	stolen, also on failure.
 * @timeout_ms: how long to wait for the reply (and to send the request).
 * @err, @errlen: receives the reason on failure: the command name and
 *	QEMU's error class and description, or "timed out after N ms waiting
 *	for the reply to 'cmd'", or the transport error.
 *
 * Events arriving before the reply are queued for qmp_wait_event().
 *
 * Return: the reply's "return" value (a new reference; QEMU's {} for
 * commands without a result), or NULL.
 */
json_t *qmp_command(struct qmp *q, const char *cmd, json_t *args,
		    int timeout_ms, char *err, size_t errlen);

/**
 * qmp_wait_event() - wait for an event.
 * @q: connection.
 * @event_name: event name ("STOP", "MIGRATION").
 * @timeout_ms: bound; 0 only looks at events already queued or readable
 *	without waiting.
 * @err, @errlen: receives the reason on failure.
 *
 * The oldest queued event of that name is returned first; otherwise the
 * first one to arrive.  Other events are queued meanwhile.
 *
 * Return: the whole event object ({"event", "data", "timestamp"}, a new
 * reference), or NULL.
 */
json_t *qmp_wait_event(struct qmp *q, const char *event_name, int timeout_ms,
		       char *err, size_t errlen);

/**
 * qmp_discard_events() - drop every queued event (e.g. before starting the
 * step whose events a test wants to see).
 */
void qmp_discard_events(struct qmp *q);

/**
 * qmp_wait_migration() - poll query-migrate until the migration ends.
 * @q: connection (either end of a migration).
 * @timeout_ms: bound for the whole wait; query-migrate is sent every 20 ms.
 * @final: if not NULL, receives the last query-migrate reply (a new
 *	reference; also on failure when one was received, else NULL).
 * @err, @errlen: receives the reason on failure: the final status and
 *	QEMU's "error-desc" for failed/cancelled, or the last status seen on
 *	timeout.
 *
 * Return: 0 when the status is "completed", -1 when it is "failed" or
 * "cancelled" (errno ECANCELED), or on timeout or a transport error.
 */
int qmp_wait_migration(struct qmp *q, int timeout_ms, json_t **final,
		       char *err, size_t errlen);

#endif
