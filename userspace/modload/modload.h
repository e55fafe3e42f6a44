/* SPDX-License-Identifier: GPL-2.0 */
/*
 * modload.h - load and unload kernel modules through libkmod.
 *
 * The rig loads vfio, vfio_iommu_type1 and mdev with this, and tests load
 * kmod/mockvf.ko with it.  It never runs modprobe install commands and reads
 * no modprobe.d configuration, so what gets loaded depends only on the
 * arguments and the kernel's module directory.
 *
 * Every function returns 0 or a negative errno.  On failure a one-line
 * message naming the module and the kernel's errno is available from
 * modload_error() until the next call on the same context.
 */
#ifndef VFIO_MIGTEST_MODLOAD_H
#define VFIO_MIGTEST_MODLOAD_H

#include <stddef.h>

struct modload;

/**
 * modload_new() - create a loader context.
 * @moddir: module directory (NULL: /lib/modules/$(uname -r)).
 * @out: the new context; free it with modload_free().
 */
int modload_new(const char *moddir, struct modload **out);

/** modload_free() - release a context (NULL is allowed). */
void modload_free(struct modload *ml);

/**
 * modload_load() - load a module and its dependencies.
 * @ml: context.
 * @module: a module name ("vfio_iommu_type1") looked up in the module
 *	    directory, or a path to a .ko file (anything containing '/').
 * @params: module parameters ("a=1 b=2") or NULL.
 *
 * A module that is already loaded counts as success.  A .ko path is first
 * checked with modload_check_ko() against the running kernel, so a module
 * built for another kernel is refused with a clear message before the
 * kernel sees it.
 */
int modload_load(struct modload *ml, const char *module, const char *params);

/**
 * modload_unload() - remove a module by name.
 *
 * Returns -ENOENT if it is not loaded, -EBUSY/-EAGAIN if it is in use.
 */
int modload_unload(struct modload *ml, const char *name);

/**
 * modload_is_loaded() - 1 if @name is live in the kernel, 0 if not,
 * negative errno on error.
 */
int modload_is_loaded(struct modload *ml, const char *name);

/** modload_error() - the message for the last failure on @ml ("" if none). */
const char *modload_error(const struct modload *ml);

/**
 * modload_check_ko() - compare a .ko file's vermagic with a kernel release.
 * @path: the module file (uncompressed ELF).
 * @release: kernel release to compare with (NULL: the running kernel).
 * @msg: buffer for a one-line explanation on mismatch or error.
 * @msglen: its size.
 *
 * Reads the .modinfo section with libelf.  Returns 0 when the module's
 * vermagic names @release, -ENOEXEC on a mismatch or a file that is not a
 * kernel module, another negative errno when the file cannot be read.
 */
int modload_check_ko(const char *path, const char *release, char *msg,
		     size_t msglen);

#endif /* VFIO_MIGTEST_MODLOAD_H */
