/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qemu_vm.h - start QEMU processes with VFIO devices and drive them over
 * QMP, for the QEMU client tier (selftests/qemu, docs/qemu.md).
 *
 * Which QEMU: $VFIO_MIGTEST_QEMU (the make variable QEMU= sets it; 'make
 * deps' provides QEMU 10 from Debian's bookworm-backports).  Each machine
 * is a TCG guest with no disk and 128 MiB (its firmware idles), one
 * `vfio-pci,sysfsdev=...,enable-migration=on` per device, a QMP socket in
 * a private directory on a tmpfs (unix sockets cannot be bound on the
 * rig's 9p root) and its stderr in a file there.  Every QMP call is
 * bounded; when QEMU has died, the error says so and carries the tail of
 * its stderr.  qvm_destroy() always leaves no process behind: quit over
 * QMP, then SIGKILL after a bounded wait, then reap.
 */
#ifndef VFIO_MIGTEST_QEMU_VM_H
#define VFIO_MIGTEST_QEMU_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

struct qvm;
struct qmp;

/* Bound for one QMP command (a TCG QEMU in the TCG rig can be slow). */
#define QVM_CMD_TIMEOUT_MS 20000

/**
 * qvm_find_qemu() - the QEMU to test: $VFIO_MIGTEST_QEMU, checked.
 * @why, @whylen: the reason when it cannot be used.
 *
 * Return: the path, or NULL when unset, not runnable, older than 8.0 or
 * without the vfio-pci device (the tier then skips with @why).
 */
const char *qvm_find_qemu(char *why, size_t whylen);

/* What a machine gets besides its devices. */
struct qvm_opts {
	bool incoming;		/* -incoming defer: a migration destination */
	const char *device_props; /* appended to every vfio-pci, e.g.
				   * "x-migration-multifd-transfer=on" */
};

/**
 * qvm_start() - start a machine with the mdev devices @uuids[0..n) and
 * connect its QMP.
 * @name: a label for messages and the run directory ("src", "dst").
 *
 * Return: the machine, or NULL with the reason (and QEMU's stderr) in @err.
 */
struct qvm *qvm_start(const char *name, const char *const *uuids, int n,
		      const struct qvm_opts *opts, char *err, size_t errlen);

/* qvm_destroy() - quit (bounded), kill, reap, remove the run directory. */
void qvm_destroy(struct qvm *vm);

/* The machine's QMP connection and process. */
struct qmp *qvm_qmp(struct qvm *vm);
pid_t qvm_pid(struct qvm *vm);
const char *qvm_name(struct qvm *vm);
/* A path in the machine's private tmpfs directory ("mig.sock"). */
const char *qvm_path(struct qvm *vm, const char *file, char *buf, size_t len);

/**
 * qvm_cmd() - qmp_command() bounded by QVM_CMD_TIMEOUT_MS (or @timeout_ms
 * when > 0); on failure @err names the machine and the command, and says
 * whether QEMU is still alive (with the tail of its stderr if not).
 * @args is stolen.  Return: the "return" value (new reference) or NULL.
 */
json_t *qvm_cmd(struct qvm *vm, const char *cmd, json_t *args,
		int timeout_ms, char *err, size_t errlen);

/* qvm_set_caps() - migrate-set-capabilities: NULL-terminated names on. */
int qvm_set_caps(struct qvm *vm, const char *const *caps, char *err,
		 size_t errlen);

/*
 * qvm_set_downtime_limit() - migrate-set-parameters downtime-limit (ms).
 * With mlx5's full-image MIG_DATA_SIZE (the cx7 default) QEMU counts
 * every device's whole image as pending and only switches over once its
 * bandwidth estimate times this limit covers it; in the nested TCG rig
 * the default 300 ms never does.  The limit moves the switchover
 * decision only: QEMU still measures the real downtime.
 */
int qvm_set_downtime_limit(struct qvm *vm, long ms, char *err, size_t errlen);

/* qvm_running() - query-status: 1 running, 0 not, -1 on error. */
int qvm_running(struct qvm *vm, char *status, size_t len, char *err,
		size_t errlen);

/**
 * qvm_migrate() - migrate @src to @dst over a unix socket in @dst's
 * directory (migrate-incoming, then migrate) and wait for the source's
 * migration to end (bounded by @timeout_ms).
 * @final: if not NULL, the source's last query-migrate reply.
 *
 * Return: 0 when it completed, -1 (errno ECANCELED) when QEMU reports it
 * failed, -1 on any other error; the reason is in @err.
 */
int qvm_migrate(struct qvm *src, struct qvm *dst, int timeout_ms,
		json_t **final, char *err, size_t errlen);

/* qvm_stderr_tail() - the last @len - 1 bytes of QEMU's stderr. */
const char *qvm_stderr_tail(struct qvm *vm, char *buf, size_t len);

/* qvm_exited() - true once the process has exited (reaps it). */
bool qvm_exited(struct qvm *vm);

#endif /* VFIO_MIGTEST_QEMU_VM_H */
