// SPDX-License-Identifier: GPL-2.0
/*
 * modload.c - load/unload modules with libkmod, with errors a person can act
 * on: every message names the module and the kernel's errno.
 */
#define _GNU_SOURCE
#include "modload.h"

#include <errno.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

struct modload {
	struct kmod_ctx *ctx;
	char err[512];
};

static int ml_fail(struct modload *ml, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ml_fail(struct modload *ml, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(ml->err, sizeof(ml->err), fmt, ap);
	va_end(ap);
	n = strlen(ml->err);
	snprintf(ml->err + n, sizeof(ml->err) - n, ": %s (errno %d)",
		 strerror(-err), -err);
	return err;
}

/* Why the kernel may have refused a module, in the user's terms. */
static const char *insert_hint(int err)
{
	switch (err) {
	case -ENOEXEC:
		return " - invalid module format (built for another kernel?)";
	case -ENOENT:
		return " - unknown symbol in module (dependency missing? see dmesg)";
	case -ESRCH:
		return " - symbol version mismatch (see dmesg)";
	case -EKEYREJECTED:
		return " - signature rejected";
	case -EPERM:
		return " - not permitted (root? lockdown?)";
	default:
		return "";
	}
}

/* libkmod's own logging would repeat, less clearly, what ml->err says. */
static void quiet_log(void *data, int priority, const char *file, int line,
		      const char *fn, const char *format, va_list args)
{
	(void)data; (void)priority; (void)file; (void)line; (void)fn;
	(void)format; (void)args;
}

int modload_new(const char *moddir, struct modload **out)
{
	/* An array holding only NULL: read no modprobe.d configuration. */
	static const char *const no_config[] = { NULL };
	struct modload *ml = calloc(1, sizeof(*ml));

	if (!ml)
		return -ENOMEM;
	ml->ctx = kmod_new(moddir, no_config);
	if (!ml->ctx) {
		free(ml);
		return -ENOMEM;
	}
	kmod_set_log_fn(ml->ctx, quiet_log, NULL);
	*out = ml;
	return 0;
}

void modload_free(struct modload *ml)
{
	if (!ml)
		return;
	kmod_unref(ml->ctx);
	free(ml);
}

const char *modload_error(const struct modload *ml)
{
	return ml->err;
}

static int load_path(struct modload *ml, const char *path, const char *params)
{
	struct kmod_module *mod;
	char msg[256];
	int ret;

	ret = modload_check_ko(path, NULL, msg, sizeof(msg));
	if (ret) {
		snprintf(ml->err, sizeof(ml->err), "%s", msg);
		return ret;
	}
	ret = kmod_module_new_from_path(ml->ctx, path, &mod);
	if (ret < 0)
		return ml_fail(ml, ret, "%s: cannot open module", path);
	ret = kmod_module_insert_module(mod, 0, params);
	if (ret == -EEXIST)
		ret = 0;
	if (ret < 0)
		ml_fail(ml, ret, "%s: kernel refused to load %s%s", path,
			kmod_module_get_name(mod), insert_hint(ret));
	kmod_module_unref(mod);
	return ret;
}

static int load_name(struct modload *ml, const char *name, const char *params)
{
	struct kmod_list *list = NULL, *l;
	int ret, found = 0;

	ret = kmod_module_new_from_lookup(ml->ctx, name, &list);
	if (ret < 0)
		return ml_fail(ml, ret, "%s: module lookup failed", name);
	kmod_list_foreach(l, list) {
		struct kmod_module *mod = kmod_module_get_module(l);

		found = 1;
		/* Dependencies and softdeps, but never install commands. */
		ret = kmod_module_probe_insert_module(mod,
				KMOD_PROBE_IGNORE_COMMAND, params, NULL, NULL,
				NULL);
		if (ret < 0)
			ml_fail(ml, ret, "%s: kernel refused to load %s%s",
				name, kmod_module_get_name(mod),
				insert_hint(ret));
		else if (ret > 0)
			ret = ml_fail(ml, -EPERM, "%s: blacklisted", name);
		kmod_module_unref(mod);
		if (ret < 0)
			break;
	}
	kmod_module_unref_list(list);
	if (!found) {
		struct utsname u;

		uname(&u);
		return ml_fail(ml, -ENOENT,
			       "%s: no such module for kernel %s", name,
			       u.release);
	}
	return ret;
}

int modload_load(struct modload *ml, const char *module, const char *params)
{
	ml->err[0] = '\0';
	if (!module || !*module)
		return ml_fail(ml, -EINVAL, "empty module name");
	if (strchr(module, '/'))
		return load_path(ml, module, params);
	return load_name(ml, module, params);
}

int modload_is_loaded(struct modload *ml, const char *name)
{
	struct kmod_module *mod;
	int ret;

	ret = kmod_module_new_from_name(ml->ctx, name, &mod);
	if (ret < 0)
		return ml_fail(ml, ret, "%s: bad module name", name);
	ret = kmod_module_get_initstate(mod);
	kmod_module_unref(mod);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ml_fail(ml, ret, "%s: cannot read module state", name);
	return ret == KMOD_MODULE_LIVE || ret == KMOD_MODULE_BUILTIN;
}

int modload_unload(struct modload *ml, const char *name)
{
	struct kmod_module *mod;
	int ret;

	ml->err[0] = '\0';
	ret = kmod_module_new_from_name(ml->ctx, name, &mod);
	if (ret < 0)
		return ml_fail(ml, ret, "%s: bad module name", name);
	ret = kmod_module_remove_module(mod, 0);
	kmod_module_unref(mod);
	if (ret == -ENOENT)
		return ml_fail(ml, ret, "%s: not loaded", name);
	if (ret < 0)
		return ml_fail(ml, ret, "%s: kernel refused to unload", name);
	return 0;
}
