# vfio-migtest top-level Makefile.
#
#   make deps     install what the project needs (Debian; fast when satisfied)
#   make          build kmod/ (against KDIR), userspace/ and selftests/
#   make check    unit tests on the host, then the selftests in a VM
#   make demo     the main job: migrate mock devices, sequential vs parallel
#   make bench    the seeds' downtime tables on mockvf (build/bench/)
#   make check-debug  the selftests in a KASAN/lockdep/kmemleak kernel
#   make fuzz [FUZZ_OPS=N]  the fuzz collection in that kernel (long mode)
#   make sparse   run sparse on the module
#   make install INSTALL_PATH=DIR   a kselftest tree of the selftests
#
# KDIR defaults to the running kernel's build tree when it exists, else the
# installed test kernel's headers.  check, demo and bench boot the test
# kernel, so they build the module against its headers (TEST_KDIR).

TOP := $(CURDIR)
BUILD := $(TOP)/build
include ci/kernel.conf

# Recursively expanded (=), not :=, and only ever expanded inside recipes:
# on a fresh machine the test kernel appears when 'deps' has run, after make
# parsed this file.
TEST_KDIR = $(shell $(TOP)/ci/test-kernel --kdir)
RUNNING_KDIR = /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(TEST_KDIR))
VMTEST_ARGS ?=
# The QEMU the client tier (selftests/qemu) and the bench's QEMU rows drive:
# empty = the one 'make deps' unpacked (ci/qemu-client).  Any build works,
# e.g. QEMU=~/qemu/build/qemu-system-x86_64; QEMU=/bin/false skips the tier.
QEMU ?=

export TOP BUILD QEMU

all: kmod userspace selftests

kdir-check:
	@if [ -z "$(KDIR)" ]; then \
		echo "make: no kernel build tree: run 'make deps' or pass KDIR=..." >&2; exit 2; fi
	@if [ ! -f "$(KDIR)/Makefile" ]; then \
		echo "make: KDIR=$(KDIR) has no Makefile: not a kernel build tree" >&2; exit 2; fi

kmod: kdir-check
	$(MAKE) -C kmod KDIR=$(KDIR)

userspace:
	$(MAKE) -C userspace

selftests: userspace
	$(MAKE) -C selftests

sparse: kdir-check
	$(MAKE) -C kmod KDIR=$(KDIR) sparse

deps:
	@ci/deps

# Everything the VM runs is built for the test kernel.
vm-build: deps
	@kdir=$$(ci/test-kernel --kdir) || { \
		echo "make: no $(KERNEL_SERIES) test kernel headers after 'make deps'" >&2; exit 2; }; \
	$(MAKE) all KDIR=$$kdir

check: vm-build
	@ci/check $(VMTEST_ARGS)

# The debug kernel (ci/debug-kernel: built once, then cached) and mockvf
# built against it from a copy of kmod/ in build/debug/kmod, so the
# module in kmod/ stays the test kernel's.
DEBUG_KMOD := $(BUILD)/debug/kmod
debug-build: deps userspace selftests
	@ci/debug-deps
	@dir=$$(ci/debug-kernel) || exit 1; \
	mkdir -p $(DEBUG_KMOD) && \
	cp -p kmod/Kbuild kmod/*.c kmod/*.h $(DEBUG_KMOD)/ && \
	nice -n 19 $(MAKE) -s -C $$dir/obj M=$(DEBUG_KMOD) W=1 modules

# VM part only: 'flock LOCK make check-debug' after a 'make debug-build'
# holds LOCK while VMs run, or VM_LOCK=LOCK make check-debug.
check-debug: debug-build
	@ci/check-debug $(VMTEST_ARGS)

# The fuzz collection in the debug kernel; FUZZ_OPS=N makes fuzz/throughput
# run until N ioctls and N resume streams (capped at 30 min), e.g.
# make fuzz FUZZ_OPS=1000000.  CI runs the short mode (in check-debug).
FUZZ_OPS ?=
fuzz: debug-build
	@DEBUG_COLLECTIONS=fuzz FUZZ_OPS=$(FUZZ_OPS) DEBUG_TIMEOUT=3600 \
	DEBUG_PROG_TIMEOUT=2400 ci/check-debug $(VMTEST_ARGS)

demo: vm-build
	@mkdir -p $(BUILD)/demo
	@ci/vmtest $(VMTEST_ARGS) --rwdir $(BUILD)/demo -- ci/demo

# A kselftest-style tree of everything: make install INSTALL_PATH=DIR
install: all
	$(MAKE) -C selftests install INSTALL_PATH=$(INSTALL_PATH)

# The seeds' downtime tables on mockvf; reports and timelines in build/bench.
BENCH_ARGS ?=
bench: vm-build
	@mkdir -p $(BUILD)/bench
	@VFIO_MIGTEST_QEMU=$${QEMU:-$$(ci/qemu-client)} \
	ci/vmtest $(VMTEST_ARGS) --timeout 1800 --rwdir $(BUILD)/bench -- \
		$(BUILD)/bin/vfio-migbench --out $(BUILD)/bench $(BENCH_ARGS)

clean:
	-$(MAKE) -C kmod clean KDIR=$(KDIR)
	rm -rf $(BUILD)

.PHONY: debug-build check-debug fuzz bench install all kdir-check kmod userspace selftests sparse deps vm-build check demo clean
