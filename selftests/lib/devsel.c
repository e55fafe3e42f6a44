// SPDX-License-Identifier: GPL-2.0
/*
 * devsel.c - device selection for selftests (see devsel.h).
 */
#define _GNU_SOURCE
#include "devsel.h"
#include "harness.h"
#include "mockvf_dev.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_pci(const char *s)
{
	size_t len = strlen(s);

	if (len == 7)		/* BB:DD.F */
		return all_hex(s, 2) && s[2] == ':' && all_hex(s + 3, 2) &&
		       s[5] == '.' && s[6] >= '0' && s[6] <= '7';
	if (len == 12)		/* DDDD:BB:DD.F */
		return all_hex(s, 4) && s[4] == ':' && is_pci(s + 5);
	return false;
}

static bool is_uuid(const char *s)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };

	for (int g = 0; g < 5; g++) {
		if (!all_hex(s, groups[g]))
			return false;
		s += groups[g];
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == '\0';
}

bool devsel_is_device_name(const char *s)
{
	return is_pci(s) || is_uuid(s);
}

static int add_name(char *dst, const char *s, size_t n, const char *list,
		    char *err, size_t errlen)
{
	if (n == 0 || n >= DEVSEL_NAME_MAX) {
		snprintf(err, errlen, "device list '%s': empty or overlong entry",
			 list);
		return -EINVAL;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	if (!devsel_is_device_name(dst)) {
		snprintf(err, errlen,
			 "device list '%s': '%s' is neither a PCI address "
			 "(DDDD:BB:DD.F) nor an mdev UUID", list, dst);
		return -EINVAL;
	}
	return 0;
}

int devsel_parse(const char *list, struct devsel *ds, char *err,
		 size_t errlen)
{
	const char *p = list;

	memset(ds, 0, sizeof(*ds));
	if (!*list) {
		snprintf(err, errlen, "device list is empty");
		return -EINVAL;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *eq = memchr(p, '=', n);
		int i = ds->ndevs, ret;

		if (i == DEVSEL_MAX) {
			snprintf(err, errlen, "device list: more than %d entries",
				 DEVSEL_MAX);
			return -EINVAL;
		}
		if (eq) {
			ret = add_name(ds->dev[i], p, eq - p, list, err, errlen);
			if (!ret)
				ret = add_name(ds->peer[i], eq + 1,
					       n - (eq - p) - 1, list, err, errlen);
		} else {
			ret = add_name(ds->dev[i], p, n, list, err, errlen);
		}
		if (ret)
			return ret;
		ds->ndevs++;
		p += n;
		if (*p == ',' && !*++p) {
			snprintf(err, errlen, "device list '%s': ends with ','",
				 list);
			return -EINVAL;
		}
	}
	return 0;
}

static bool exists(const char *name)
{
	char path[256];

	if (is_uuid(name))
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", name);
	else if (strlen(name) == 7)
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/0000:%s", name);
	else
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", name);
	return access(path, F_OK) == 0;
}

int devsel_user_list(struct devsel *ds, char *err, size_t errlen)
{
	const char *env = getenv("VFIO_MIGTEST_DEVICES");
	char joined[DEVSEL_MAX * 2 * DEVSEL_NAME_MAX];
	const char *origin;
	int ret;

	memset(ds, 0, sizeof(*ds));
	if (mt_nargs() > 0) {
		size_t used = 0;

		joined[0] = '\0';
		for (int i = 0; i < mt_nargs(); i++)
			used += snprintf(joined + used, sizeof(joined) - used,
					 "%s%s", i ? "," : "", mt_args()[i]);
		origin = "arguments";
	} else if (env) {
		snprintf(joined, sizeof(joined), "%s", env);
		origin = "VFIO_MIGTEST_DEVICES";
	} else {
		return 0;
	}
	ret = devsel_parse(joined, ds, err, errlen);
	if (ret) {
		/* Say where the list came from. */
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s: %s", origin, err);
		snprintf(err, errlen, "%s", tmp);
		return ret;
	}
	for (int i = 0; i < ds->ndevs; i++) {
		const char *bad = !exists(ds->dev[i]) ? ds->dev[i] :
				  ds->peer[i][0] && !exists(ds->peer[i]) ?
				  ds->peer[i] : NULL;

		if (bad) {
			snprintf(err, errlen, "%s: device %s does not exist",
				 origin, bad);
			return -ENODEV;
		}
	}
	ds->origin = origin;
	return 1;
}

int devsel_get(int n, const char *profile, struct devsel *ds, char *err,
	       size_t errlen)
{
	int ret = devsel_user_list(ds, err, errlen);

	if (ret)
		return ret < 0 ? ret : 0;
	if (n > DEVSEL_MAX) {
		snprintf(err, errlen, "at most %d mock pairs", DEVSEL_MAX);
		return -EINVAL;
	}
	ret = mockvf_load();
	if (ret) {
		snprintf(err, errlen, "no devices given and mockvf cannot be "
			 "loaded from %s: %s", mockvf_ko_path(), strerror(-ret));
		return ret;
	}
	ds->mock = true;
	ds->origin = "mockvf";
	for (int i = 0; i < n; i++) {
		ret = mockvf_create(profile, ds->dev[i]);
		if (!ret) {
			ret = mockvf_create(profile, ds->peer[i]);
			if (ret)
				mockvf_remove(ds->dev[i]);
		}
		if (ret) {
			snprintf(err, errlen, "creating mockvf-%s device: %s",
				 profile, strerror(-ret));
			devsel_release(ds);
			return ret;
		}
		ds->ndevs++;
	}
	return 0;
}

void devsel_release(struct devsel *ds)
{
	if (!ds->mock)
		return;
	for (int i = 0; i < ds->ndevs; i++) {
		mockvf_remove(ds->dev[i]);
		if (ds->peer[i][0])
			mockvf_remove(ds->peer[i]);
	}
	ds->ndevs = 0;
}
