// SPDX-License-Identifier: GPL-2.0
/*
 * modload_cli.c - vfio-modload: the command-line face of modload.h.
 *
 *	vfio-modload [-d MODDIR] load MODULE|PATH.ko [PARAMS...]
 *	vfio-modload [-d MODDIR] unload MODULE
 *	vfio-modload [-d MODDIR] status MODULE
 *	vfio-modload check PATH.ko [RELEASE]
 */
#include "modload_cli.h"
#include "modload.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int modload_cli_parse(int argc, char **argv, struct modload_cli_args *a,
		      char *err, size_t errlen)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			a->cmd = MODLOAD_CMD_HELP;
			return 0;
		}
		if (!strcmp(argv[i], "-d")) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "-d needs a directory");
				return -1;
			}
			a->moddir = argv[i + 1];
			i += 2;
			continue;
		}
		snprintf(err, errlen, "unknown option '%s'", argv[i]);
		return -1;
	}
	if (i >= argc) {
		snprintf(err, errlen, "missing command (load, unload, status, check)");
		return -1;
	}
	if (!strcmp(argv[i], "load"))
		a->cmd = MODLOAD_CMD_LOAD;
	else if (!strcmp(argv[i], "unload"))
		a->cmd = MODLOAD_CMD_UNLOAD;
	else if (!strcmp(argv[i], "status"))
		a->cmd = MODLOAD_CMD_STATUS;
	else if (!strcmp(argv[i], "check"))
		a->cmd = MODLOAD_CMD_CHECK;
	else {
		snprintf(err, errlen, "unknown command '%s'", argv[i]);
		return -1;
	}
	i++;
	if (i >= argc || !argv[i][0]) {
		snprintf(err, errlen, "%s: missing module", argv[i - 1]);
		return -1;
	}
	a->module = argv[i++];
	if (a->cmd == MODLOAD_CMD_CHECK) {
		if (i < argc)
			a->release = argv[i++];
	} else if (a->cmd == MODLOAD_CMD_LOAD) {
		size_t used = 0;

		for (; i < argc; i++) {
			int n;

			if (!strchr(argv[i], '=')) {
				snprintf(err, errlen,
					 "module parameter '%s' is not NAME=VALUE",
					 argv[i]);
				return -1;
			}
			n = snprintf(a->params + used, sizeof(a->params) - used,
				     "%s%s", used ? " " : "", argv[i]);
			if (n < 0 || (size_t)n >= sizeof(a->params) - used) {
				snprintf(err, errlen, "module parameters too long");
				return -1;
			}
			used += n;
		}
	}
	if (i < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
		return -1;
	}
	return 0;
}

#ifndef MODLOAD_CLI_NO_MAIN
static const char usage_text[] =
	"usage: vfio-modload [-d MODDIR] load MODULE|PATH.ko [PARAM=VALUE...]\n"
	"       vfio-modload [-d MODDIR] unload MODULE\n"
	"       vfio-modload [-d MODDIR] status MODULE\n"
	"       vfio-modload check PATH.ko [RELEASE]\n";

int main(int argc, char **argv)
{
	struct modload_cli_args a;
	struct modload *ml;
	char err[512];
	int ret;

	if (modload_cli_parse(argc, argv, &a, err, sizeof(err))) {
		fprintf(stderr, "vfio-modload: %s\n%s", err, usage_text);
		return 2;
	}
	if (a.cmd == MODLOAD_CMD_HELP) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (a.cmd == MODLOAD_CMD_CHECK) {
		ret = modload_check_ko(a.module, a.release, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "vfio-modload: %s\n", err);
			return 1;
		}
		printf("%s: vermagic matches\n", a.module);
		return 0;
	}
	ret = modload_new(a.moddir, &ml);
	if (ret) {
		fprintf(stderr, "vfio-modload: cannot create libkmod context\n");
		return 1;
	}
	switch (a.cmd) {
	case MODLOAD_CMD_LOAD:
		ret = modload_load(ml, a.module, a.params[0] ? a.params : NULL);
		break;
	case MODLOAD_CMD_UNLOAD:
		ret = modload_unload(ml, a.module);
		break;
	default:
		ret = modload_is_loaded(ml, a.module);
		if (ret >= 0) {
			printf("%s: %s\n", a.module, ret ? "loaded" : "not loaded");
			ret = ret ? 0 : 3;
		}
		break;
	}
	if (ret < 0)
		fprintf(stderr, "vfio-modload: %s\n", modload_error(ml));
	modload_free(ml);
	return ret < 0 ? 1 : ret;
}
#endif
