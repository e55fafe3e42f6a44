// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_modules - the vfio stack is loaded by our libkmod loader, and the
 * loader's errors name the module and the errno.
 */
#include "harness.h"
#include "modload.h"

#include <stdlib.h>

static void free_ml(void *p)
{
	modload_free(p);
}

static struct modload *loader(void)
{
	struct modload *ml;

	ASSERT_EQ(0, modload_new(NULL, &ml));
	mt_defer(free_ml, ml);
	return ml;
}

TEST(vfio_stack_is_loaded)
{
	struct modload *ml = loader();

	ASSERT_EQ(1, modload_is_loaded(ml, "vfio"));
	ASSERT_EQ(1, modload_is_loaded(ml, "vfio_iommu_type1"));
	ASSERT_EQ(1, modload_is_loaded(ml, "mdev"));
}

TEST(loading_again_is_harmless)
{
	struct modload *ml = loader();

	ASSERT_EQ(0, modload_load(ml, "vfio_iommu_type1", NULL));
	ASSERT_EQ(1, modload_is_loaded(ml, "vfio_iommu_type1"));
}

TEST(unknown_module_is_named_in_the_error)
{
	struct modload *ml = loader();

	ASSERT_EQ(-ENOENT, modload_load(ml, "no_such_module_xyz", NULL));
	ASSERT_TRUE(strstr(modload_error(ml), "no_such_module_xyz") != NULL);
	ASSERT_TRUE(strstr(modload_error(ml), "errno 2") != NULL);
}

TEST(missing_ko_path_is_named_in_the_error)
{
	struct modload *ml = loader();

	ASSERT_EQ(-ENOENT, modload_load(ml, "/nonexistent/mockvf.ko", NULL));
	ASSERT_TRUE(strstr(modload_error(ml), "/nonexistent/mockvf.ko") != NULL);
}

TEST(module_in_use_refuses_unload)
{
	struct modload *ml = loader();

	/* vfio_iommu_type1 and mdev hold vfio. */
	ASSERT_LT(modload_unload(ml, "vfio"), 0);
	ASSERT_TRUE(strstr(modload_error(ml), "vfio") != NULL);
	ASSERT_EQ(1, modload_is_loaded(ml, "vfio"));
}

TEST_MAIN()
