// SPDX-License-Identifier: GPL-2.0
/*
 * mockvf_dev.c - sysfs plumbing for mockvf devices used by the selftests.
 */
#define _GNU_SOURCE
#include "mockvf_dev.h"
#include "modload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MDEV_TYPES "/sys/class/mdev_bus/mockvf/mdev_supported_types"
#define MDEV_DEVICES "/sys/bus/mdev/devices"

#ifndef MOCKVF_DEFAULT_KO
#define MOCKVF_DEFAULT_KO "kmod/mockvf.ko"
#endif

/*
 * Where mockvf.ko is: $MOCKVF_KO, else beside an installed test tree
 * (<tree>/vfio-migtest/<area>/<test> -> <tree>/vfio-migtest/mockvf.ko),
 * else the build tree's kmod/mockvf.ko.
 */
const char *mockvf_ko_path(void)
{
	static char installed[PATH_MAX];
	const char *env = getenv("MOCKVF_KO");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(installed, sizeof(installed), "%s/../mockvf.ko",
			 dirname(exe));
		if (!access(installed, R_OK))
			return installed;
	}
	return MOCKVF_DEFAULT_KO;
}

static int write_file(const char *path, const char *val)
{
	ssize_t n, len = strlen(val);
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return n == len ? 0 : -EIO;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int mockvf_load(void)
{
	static const char *const deps[] = { "vfio", "vfio_iommu_type1", "mdev" };
	struct modload *ml;
	int ret;

	if (access(mockvf_ko_path(), R_OK))
		return -ENOENT;
	ret = modload_new(NULL, &ml);
	if (ret)
		return ret;
	for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]) && !ret; i++)
		ret = modload_load(ml, deps[i], NULL);
	if (!ret)
		ret = modload_load(ml, mockvf_ko_path(), NULL);
	if (ret)
		fprintf(stderr, "%s\n", modload_error(ml));
	modload_free(ml);
	return ret;
}

int mockvf_unload(void)
{
	struct modload *ml;
	int ret = modload_new(NULL, &ml);

	if (ret)
		return ret;
	ret = modload_unload(ml, "mockvf");
	modload_free(ml);
	return ret;
}

static void uuid_random(char out[MOCKVF_UUID_LEN])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = rand();
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, MOCKVF_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

int mockvf_create(const char *profile, char uuid[MOCKVF_UUID_LEN])
{
	char path[256];

	uuid_random(uuid);
	snprintf(path, sizeof(path), MDEV_TYPES "/mockvf-%s/create", profile);
	return write_file(path, uuid);
}

int mockvf_remove(const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/remove", uuid);
	return write_file(path, "1");
}

int mockvf_attr_read(const char *uuid, const char *attr, char *buf,
		     size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/mockvf/%s", uuid, attr);
	return read_file(path, buf, len);
}

int mockvf_attr_write(const char *uuid, const char *attr, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/mockvf/%s", uuid, attr);
	return write_file(path, val);
}

int mockvf_attr_u64(const char *uuid, const char *attr,
		    unsigned long long *val)
{
	char buf[64], *end;
	int ret = mockvf_attr_read(uuid, attr, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int mockvf_group_path(const char *uuid, char *buf, size_t len)
{
	char link[256], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), MDEV_DEVICES "/%s/iommu_group", uuid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	snprintf(buf, len, "/dev/vfio/%s", basename(target));
	return 0;
}
