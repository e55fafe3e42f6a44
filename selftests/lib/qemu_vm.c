// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_vm.c - QEMU processes with VFIO devices, driven over QMP (see
 * qemu_vm.h).
 */
#define _GNU_SOURCE
#include "qemu_vm.h"
#include "qmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QVM_MAX_DEVICES 32
/* QEMU under TCG inside the TCG rig takes a few seconds to come up. */
#define QVM_CONNECT_TIMEOUT_MS 30000
#define QVM_QUIT_WAIT_MS 5000

struct qvm {
	char name[32];
	char dir[64];
	pid_t pid;
	bool reaped;
	int status;
	struct qmp *qmp;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Run @path with @args, stdout captured into @out (NUL-terminated), bounded
 * by @timeout_ms.  Returns the exit status (0..255), or -1 when it could
 * not run, was killed or timed out.
 */
static int run_capture(const char *path, const char *const *args, char *out,
		       size_t outlen, int timeout_ms)
{
	const char *argv[8];
	size_t fill = 0;
	long long end = now_ms() + timeout_ms;
	int fds[2], st, i, n = 0;
	pid_t pid;

	argv[n++] = path;
	for (i = 0; args[i] && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(fds[1], 1);
		dup2(null, 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		long long left = end - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (fill + 1 >= outlen) {
			char sink[4096];

			r = read(fds[0], sink, sizeof(sink));
		} else {
			r = read(fds[0], out + fill, outlen - 1 - fill);
			if (r > 0)
				fill += r;
		}
		if (r <= 0)
			break;
	}
	out[fill] = '\0';
	close(fds[0]);
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

const char *qvm_find_qemu(char *why, size_t whylen)
{
	static char checked[4096];
	static char reason[512];
	static int verdict;	/* 0 unknown, 1 usable, -1 not */
	static char out[256 * 1024];
	const char *const version_args[] = { "--version", NULL };
	/*
	 * Not "-device help": that loads every module, and a QEMU in a
	 * private prefix then trips over the system's modules of another
	 * build.
	 */
	const char *const help_args[] = { "-device", "vfio-pci,help", NULL };
	const char *q = getenv("VFIO_MIGTEST_QEMU");
	int major = 0, minor = 0, rc;
	const char *v;

	if (verdict && q && !strcmp(q, checked))
		goto out;
	verdict = -1;
	snprintf(checked, sizeof(checked), "%s", q ? q : "");
	if (!q || !*q) {
		snprintf(reason, sizeof(reason),
			 "no QEMU for the client tier: VFIO_MIGTEST_QEMU is not set (make sets it from QEMU= or from 'make deps')");
		goto out;
	}
	if (access(q, X_OK)) {
		snprintf(reason, sizeof(reason), "QEMU %s is not executable: %s",
			 q, strerror(errno));
		goto out;
	}
	rc = run_capture(q, version_args, out, sizeof(out), 30000);
	v = strstr(out, "version ");
	if (rc != 0 || !v || sscanf(v, "version %d.%d", &major, &minor) != 2) {
		snprintf(reason, sizeof(reason),
			 "'%s --version' exited %d and printed no QEMU version", q, rc);
		goto out;
	}
	if (major < 8) {
		snprintf(reason, sizeof(reason),
			 "QEMU %s is %d.%d: the tier needs >= 8.0 (VFIO migration with PRE_COPY and switchover-ack)",
			 q, major, minor);
		goto out;
	}
	rc = run_capture(q, help_args, out, sizeof(out), 30000);
	if (rc != 0 || !strstr(out, "vfio-pci options")) {
		snprintf(reason, sizeof(reason),
			 "QEMU %s %d.%d has no vfio-pci device ('-device vfio-pci,help')",
			 q, major, minor);
		goto out;
	}
	verdict = 1;
out:
	if (verdict < 0) {
		snprintf(why, whylen, "%s", reason);
		return NULL;
	}
	return checked;
}

const char *qvm_path(struct qvm *vm, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", vm->dir, file);
	return buf;
}

struct qmp *qvm_qmp(struct qvm *vm)
{
	return vm->qmp;
}

pid_t qvm_pid(struct qvm *vm)
{
	return vm->pid;
}

const char *qvm_name(struct qvm *vm)
{
	return vm->name;
}

bool qvm_exited(struct qvm *vm)
{
	if (vm->reaped)
		return true;
	if (waitpid(vm->pid, &vm->status, WNOHANG) == vm->pid)
		vm->reaped = true;
	return vm->reaped;
}

const char *qvm_stderr_tail(struct qvm *vm, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	off_t size;
	int fd;

	buf[0] = '\0';
	fd = open(qvm_path(vm, "stderr", path, sizeof(path)), O_RDONLY);
	if (fd < 0)
		return buf;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)(len - 1))
		lseek(fd, size - (off_t)(len - 1), SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	/* One line for a KTAP diagnostic. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' && p[1])
			*p = '|';
	return buf;
}

/* Append "QEMU is alive" or "QEMU exited N: <stderr>" to @err. */
static void add_liveness(struct qvm *vm, char *err, size_t errlen)
{
	size_t used = strlen(err);
	char tail[600];

	if (!qvm_exited(vm)) {
		snprintf(err + used, errlen - used, " (%s QEMU pid %d still running)",
			 vm->name, vm->pid);
		return;
	}
	qvm_stderr_tail(vm, tail, sizeof(tail));
	if (WIFEXITED(vm->status))
		snprintf(err + used, errlen - used, " (%s QEMU exited %d; stderr: %s)",
			 vm->name, WEXITSTATUS(vm->status), tail);
	else
		snprintf(err + used, errlen - used,
			 " (%s QEMU killed by signal %d; stderr: %s)", vm->name,
			 WIFSIGNALED(vm->status) ? WTERMSIG(vm->status) : 0, tail);
}

static void remove_dir(const char *dir)
{
	struct dirent *de;
	char path[512];
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void kill_and_reap(struct qvm *vm)
{
	long long end = now_ms() + QVM_QUIT_WAIT_MS;

	while (!qvm_exited(vm) && now_ms() < end)
		usleep(20000);
	if (!vm->reaped) {
		kill(-vm->pid, SIGKILL);
		kill(vm->pid, SIGKILL);
		if (waitpid(vm->pid, &vm->status, 0) == vm->pid)
			vm->reaped = true;
	}
}

void qvm_destroy(struct qvm *vm)
{
	char err[256];
	json_t *r;

	if (!vm)
		return;
	if (vm->qmp && !qvm_exited(vm)) {
		r = qmp_command(vm->qmp, "quit", NULL, 3000, err, sizeof(err));
		json_decref(r);
	}
	qmp_close(vm->qmp);
	vm->qmp = NULL;
	kill_and_reap(vm);
	remove_dir(vm->dir);
	free(vm);
}

struct qvm *qvm_start(const char *name, const char *const *uuids, int n,
		      const struct qvm_opts *opts, char *err, size_t errlen)
{
	static const struct qvm_opts no_opts;
	char qmp_arg[160], sock[128], errpath[128];
	char devs[QVM_MAX_DEVICES][256];
	const char *argv[48 + 2 * QVM_MAX_DEVICES];
	const char *qemu;
	struct qvm *vm;
	int a = 0, i;

	if (!opts)
		opts = &no_opts;
	qemu = qvm_find_qemu(err, errlen);
	if (!qemu)
		return NULL;
	if (n < 0 || n > QVM_MAX_DEVICES) {
		snprintf(err, errlen, "%s: %d devices (at most %d)", name, n,
			 QVM_MAX_DEVICES);
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	/* /dev/shm is a tmpfs in the rig, where unix sockets can be bound. */
	snprintf(vm->dir, sizeof(vm->dir), "/dev/shm/qvm-%.16s-XXXXXX", name);
	if (!mkdtemp(vm->dir)) {
		snprintf(err, errlen, "%s: mkdtemp %s: %s", name, vm->dir,
			 strerror(errno));
		free(vm);
		return NULL;
	}
	qvm_path(vm, "qmp.sock", sock, sizeof(sock));
	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", sock);

	argv[a++] = qemu;
	argv[a++] = "-nodefaults";
	argv[a++] = "-no-user-config";
	argv[a++] = "-display";
	argv[a++] = "none";
	argv[a++] = "-machine";
	argv[a++] = "q35";
	argv[a++] = "-accel";
	argv[a++] = "tcg";
	argv[a++] = "-m";
	argv[a++] = "128";
	argv[a++] = "-smp";
	argv[a++] = "1";
	argv[a++] = "-serial";
	argv[a++] = "none";
	argv[a++] = "-monitor";
	argv[a++] = "none";
	argv[a++] = "-qmp";
	argv[a++] = qmp_arg;
	for (i = 0; i < n; i++) {
		snprintf(devs[i], sizeof(devs[i]),
			 "vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s,enable-migration=on,id=vfio%d%s%s",
			 uuids[i], i, opts->device_props ? "," : "",
			 opts->device_props ? opts->device_props : "");
		argv[a++] = "-device";
		argv[a++] = devs[i];
	}
	if (opts->incoming) {
		argv[a++] = "-incoming";
		argv[a++] = "defer";
	}
	argv[a] = NULL;

	qvm_path(vm, "stderr", errpath, sizeof(errpath));
	vm->pid = fork();
	if (vm->pid < 0) {
		snprintf(err, errlen, "%s: fork: %s", name, strerror(errno));
		remove_dir(vm->dir);
		free(vm);
		return NULL;
	}
	if (vm->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* Its own process group, so a kill reaches any helper it forks. */
		setpgid(0, 0);
		dup2(null, 0);
		dup2(efd >= 0 ? efd : null, 1);
		dup2(efd >= 0 ? efd : null, 2);
		execv(qemu, (char *const *)argv);
		dprintf(2, "exec %s: %s\n", qemu, strerror(errno));
		_exit(127);
	}
	vm->qmp = qmp_connect(sock, QVM_CONNECT_TIMEOUT_MS, err, errlen);
	if (!vm->qmp) {
		size_t used = strlen(err);

		snprintf(err + used, errlen - used, " [%s QEMU start]", name);
		add_liveness(vm, err, errlen);
		kill_and_reap(vm);
		remove_dir(vm->dir);
		free(vm);
		return NULL;
	}
	return vm;
}

json_t *qvm_cmd(struct qvm *vm, const char *cmd, json_t *args,
		int timeout_ms, char *err, size_t errlen)
{
	char why[512];
	json_t *r;

	r = qmp_command(vm->qmp, cmd, args,
			timeout_ms > 0 ? timeout_ms : QVM_CMD_TIMEOUT_MS,
			why, sizeof(why));
	if (!r) {
		snprintf(err, errlen, "%s: %s", vm->name, why);
		add_liveness(vm, err, errlen);
	}
	return r;
}

int qvm_set_caps(struct qvm *vm, const char *const *caps, char *err,
		 size_t errlen)
{
	json_t *list = json_array(), *r;

	for (int i = 0; caps[i]; i++)
		json_array_append_new(list, json_pack("{s:s,s:b}", "capability",
						      caps[i], "state", 1));
	r = qvm_cmd(vm, "migrate-set-capabilities",
		    json_pack("{s:o}", "capabilities", list), 0, err, errlen);
	if (!r)
		return -1;
	json_decref(r);
	return 0;
}

int qvm_set_downtime_limit(struct qvm *vm, long ms, char *err, size_t errlen)
{
	json_t *r = qvm_cmd(vm, "migrate-set-parameters",
			    json_pack("{s:I}", "downtime-limit", (json_int_t)ms),
			    0, err, errlen);

	if (!r)
		return -1;
	json_decref(r);
	return 0;
}

int qvm_running(struct qvm *vm, char *status, size_t len, char *err,
		size_t errlen)
{
	json_t *r = qvm_cmd(vm, "query-status", NULL, 0, err, errlen);
	const char *s;
	int running;

	if (!r)
		return -1;
	s = json_string_value(json_object_get(r, "status"));
	running = json_is_true(json_object_get(r, "running"));
	if (status)
		snprintf(status, len, "%s", s ? s : "?");
	json_decref(r);
	return running;
}

int qvm_migrate(struct qvm *src, struct qvm *dst, int timeout_ms,
		json_t **final, char *err, size_t errlen)
{
	char sock[128], uri[160], why[512];
	json_t *r;
	int ret;

	if (final)
		*final = NULL;
	snprintf(uri, sizeof(uri), "unix:%s",
		 qvm_path(dst, "mig.sock", sock, sizeof(sock)));
	r = qvm_cmd(dst, "migrate-incoming", json_pack("{s:s}", "uri", uri), 0,
		    err, errlen);
	if (!r)
		return -1;
	json_decref(r);
	r = qvm_cmd(src, "migrate", json_pack("{s:s}", "uri", uri), 0, err,
		    errlen);
	if (!r)
		return -1;
	json_decref(r);
	ret = qmp_wait_migration(src->qmp, timeout_ms, final, why, sizeof(why));
	if (ret) {
		int e = errno;

		snprintf(err, errlen, "%s -> %s: %s", src->name, dst->name, why);
		add_liveness(dst, err, errlen);
		errno = e;
	}
	return ret;
}
