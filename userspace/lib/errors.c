// SPDX-License-Identifier: GPL-2.0
/*
 * errors.c - per-handle error messages.
 *
 * Errors are kept in the handle rather than printed, so that a caller
 * driving many devices from many threads can report each failure once,
 * with the device, the arc and the errno together.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void vformat(char *buf, size_t len, const char *prefix, int e,
		    const char *fmt, va_list ap)
{
	char what[VM_ERRLEN];
	int n;

	vsnprintf(what, sizeof(what), fmt, ap);
	/* Truncation is fine: the start of the message names the device and arc. */
	n = snprintf(buf, len, "%s", prefix);
	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%s", what);
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ": %s (-%d)", strerror(e), e);
}

/* A -errno; anything else is a caller's bug, reported as EIO rather than hidden. */
static int positive_errno(int err)
{
	return err < 0 && err >= -4095 ? -err : EIO;
}

int vm_dev_err(struct vfiomig_device *dev, int err, const char *fmt, ...)
{
	char prefix[96];
	int e = positive_errno(err);
	va_list ap;

	snprintf(prefix, sizeof(prefix), "dev %s: ", dev->name);
	va_start(ap, fmt);
	vformat(dev->err, sizeof(dev->err), prefix, e, fmt, ap);
	va_end(ap);
	return -e;
}

int vm_ctx_err(struct vfiomig_ctx *ctx, int err, const char *fmt, ...)
{
	int e = positive_errno(err);
	va_list ap;

	va_start(ap, fmt);
	vformat(ctx->err, sizeof(ctx->err), "", e, fmt, ap);
	va_end(ap);
	return -e;
}

const char *vfiomig_device_errmsg(const struct vfiomig_device *dev)
{
	return dev->err[0] ? dev->err : "no error";
}

const char *vfiomig_ctx_errmsg(const struct vfiomig_ctx *ctx)
{
	return ctx->err[0] ? ctx->err : "no error";
}
