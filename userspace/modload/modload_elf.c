// SPDX-License-Identifier: GPL-2.0
/*
 * modload_elf.c - read a .ko's .modinfo with libelf and compare its vermagic
 * with the target kernel, so a module built for another kernel is refused
 * with both versions named instead of the kernel's bare "Invalid module
 * format".
 */
#define _GNU_SOURCE
#include "modload.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Find "key=value" in a NUL-separated .modinfo blob; copy the value. */
static int modinfo_get(const char *blob, size_t len, const char *key,
		       char *val, size_t vallen)
{
	size_t klen = strlen(key);
	const char *p = blob, *end = blob + len;

	while (p < end) {
		size_t n = strnlen(p, end - p);

		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			snprintf(val, vallen, "%.*s", (int)(n - klen - 1),
				 p + klen + 1);
			return 0;
		}
		p += n + 1;
	}
	return -ENOENT;
}

static int read_modinfo(Elf *elf, const char *path, char *vermagic,
			size_t vlen, char *name, size_t nlen, char *msg,
			size_t msglen)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_kind(elf) != ELF_K_ELF ||
	    elf_getshdrstrndx(elf, &shstrndx)) {
		snprintf(msg, msglen, "%s: not an ELF kernel module (%s)",
			 path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const char *sname;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".modinfo"))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			break;
		if (modinfo_get(data->d_buf, data->d_size, "vermagic",
				vermagic, vlen)) {
			snprintf(msg, msglen, "%s: .modinfo has no vermagic",
				 path);
			return -ENOEXEC;
		}
		if (modinfo_get(data->d_buf, data->d_size, "name", name, nlen))
			snprintf(name, nlen, "?");
		return 0;
	}
	snprintf(msg, msglen, "%s: no .modinfo section: not a kernel module",
		 path);
	return -ENOEXEC;
}

int modload_check_ko(const char *path, const char *release, char *msg,
		     size_t msglen)
{
	char vermagic[256], name[64], modrel[256];
	struct utsname u;
	Elf *elf;
	int fd, ret;

	if (!release) {
		uname(&u);
		release = u.release;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(msg, msglen, "libelf: %s", elf_errmsg(-1));
		return -EIO;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return ret;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		snprintf(msg, msglen, "%s: not an ELF file (%s)", path,
			 elf_errmsg(-1));
		close(fd);
		return -ENOEXEC;
	}
	ret = read_modinfo(elf, path, vermagic, sizeof(vermagic), name,
			   sizeof(name), msg, msglen);
	elf_end(elf);
	close(fd);
	if (ret)
		return ret;

	/* vermagic is "<release> SMP preempt mod_unload ...". */
	snprintf(modrel, sizeof(modrel), "%.*s",
		 (int)strcspn(vermagic, " "), vermagic);
	if (strcmp(modrel, release)) {
		snprintf(msg, msglen,
			 "%s: module %s was built for kernel %s, but the "
			 "target kernel is %s: rebuild it with "
			 "KDIR=/lib/modules/%s/build",
			 path, name, modrel, release, release);
		return -ENOEXEC;
	}
	msg[0] = '\0';
	return 0;
}
