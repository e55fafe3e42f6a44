// SPDX-License-Identifier: GPL-2.0
/*
 * emulated_pci_device - the PCI path, on QEMU's pci-testdev behind an
 * emulated Intel IOMMU (ci/vmtest --pci-test): the bind helper gives it to
 * vfio-pci, the engine opens it by PCI address and says it cannot migrate,
 * and the conformance suite pointed at it skips with that reason.  Without
 * such a device (a normal VM run) every test skips.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "vfiomig.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VFIO_MIGTEST_TOP
#define VFIO_MIGTEST_TOP "."
#endif

#define TESTDEV_VENDOR 0x1b36	/* Red Hat, QEMU's devices */
#define TESTDEV_DEVICE 0x0005	/* pci-testdev */

static char bdf[16];

static unsigned read_hex(const char *dev, const char *attr)
{
	char path[256];
	unsigned v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%x", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static void find_testdev(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;

	ASSERT_TRUE(d != NULL);
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.' &&
		    read_hex(e->d_name, "vendor") == TESTDEV_VENDOR &&
		    read_hex(e->d_name, "device") == TESTDEV_DEVICE) {
			snprintf(bdf, sizeof(bdf), "%.15s", e->d_name);
			break;
		}
	}
	closedir(d);
	if (!bdf[0])
		SKIP("no emulated PCI test device: run in ci/vmtest --pci-test");
}

/* Run a shell command, return its exit status and (some of) its output. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int status;

	ASSERT_TRUE(p != NULL);
	if (out) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void restore(void *p)
{
	char cmd[512];

	(void)p;
	snprintf(cmd, sizeof(cmd), "VFIO_BIND_STATE=/tmp/pci-bind "
		 VFIO_MIGTEST_TOP "/selftests/tools/bind-vfio-driver restore 2>&1");
	run(cmd, NULL, 0);
}

static void bind_vfio_pci(void)
{
	char cmd[512], out[1024];
	int rc;

	find_testdev();
	snprintf(cmd, sizeof(cmd), "VFIO_BIND_STATE=/tmp/pci-bind "
		 VFIO_MIGTEST_TOP "/selftests/tools/bind-vfio-driver bind %s "
		 "--driver vfio-pci 2>&1", bdf);
	rc = run(cmd, out, sizeof(out));
	mt_defer(restore, NULL);
	mt_log("%s", out);
	ASSERT_EQ(0, rc);
}

TEST(engine_refuses_device_without_migration)
{
	struct vfiomig_device *dev = NULL;
	struct vfiomig_ctx *ctx;

	bind_vfio_pci();
	ASSERT_EQ(0, vfiomig_ctx_new(&ctx));
	ASSERT_EQ(-EOPNOTSUPP, vfiomig_device_open(ctx, bdf, &dev));
	mt_log("%s", vfiomig_ctx_errmsg(ctx));
	ASSERT_TRUE(strstr(vfiomig_ctx_errmsg(ctx), bdf) != NULL);
	ASSERT_TRUE(strstr(vfiomig_ctx_errmsg(ctx), "migration") != NULL);
	vfiomig_ctx_free(ctx);
}

TEST(info_says_no_migration_support)
{
	char cmd[512], out[2048];
	int rc;

	bind_vfio_pci();
	snprintf(cmd, sizeof(cmd), VFIO_MIGTEST_TOP "/build/bin/vfio-migrate "
		 "info %s 2>&1", bdf);
	rc = run(cmd, out, sizeof(out));
	mt_log("exit %d: %s", rc, out);
	ASSERT_TRUE(strstr(out, "no migration support") != NULL);
}

/*
 * The conformance suite pointed at a device without migration: every test
 * skips naming the device and the reason, through the uAPI
 * (state_machine) and through the engine (engine).  Bad device lists are
 * conformance/bad_input's business.
 */
static void skips(const char *prog)
{
	char cmd[768], out[8192];
	int rc;

	bind_vfio_pci();
	snprintf(cmd, sizeof(cmd), "VFIO_MIGTEST_DEVICES=%s=%s "
		 VFIO_MIGTEST_TOP "/build/selftests/conformance/%s 2>&1",
		 bdf, bdf, prog);
	rc = run(cmd, out, sizeof(out));
	mt_log("%s", out);
	ASSERT_EQ(KSFT_SKIP, rc);
	ASSERT_TRUE(strstr(out, "not ok") == NULL);
	ASSERT_TRUE(strstr(out, "no VFIO migration support") != NULL);
	ASSERT_TRUE(strstr(out, bdf) != NULL);
}

TEST(conformance_skips_with_the_reason)
{
	skips("state_machine");
}

TEST(conformance_engine_skips_with_the_reason)
{
	skips("engine");
}

TEST_MAIN()
