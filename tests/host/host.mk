# SPDX-License-Identifier: MIT
# Host harness: mm/ compiled unchanged against tests/host/platform_host.c,
# run under ASan+UBSan and under TSan, plus the liburcu comparison.
#
#   make -f tests/host/host.mk host-test   unit tests, torture (ASan+UBSan, TSan),
#                                          the planted-bug check, a freestanding build
#   make -f tests/host/host.mk bench       mmuvisor RCU against liburcu QSBR
#
# The top Makefile includes this file. To add a unit test tests/host/foo.c,
# write before the include (or here):
#   HOST_UNIT_TESTS += foo
# and, if it tests code outside mm/, HOST_SRCS_foo := that/file.c ...
# Every .c under mm/ is built into libmm.a, so new mm/ files need no line here.

HOST_CC ?= gcc
HOST_AR ?= ar
HOST_BUILD ?= build/host
HOST_CFLAGS := -std=gnu11 -I. -Wall -Wextra -Werror -g -O1 -pthread -MMD -MP \
	-DPLATFORM_INLINE_CPU_ID -DPLATFORM_INLINE_CPU_WORD -DPLATFORM_INLINE=tests/host/platform_inline.h
HOST_DEBUG := -DMM_DEBUG -DMM_TORTURE
HOST_TORTURE_SECONDS ?= 3

HOST_UNIT_TESTS += test_rcu test_typesafe_cache
HOST_TORTURE_TESTS += torture_rcu
# The TDP MMU (mm/ept): docs/TDP_MMU.md.
HOST_UNIT_TESTS += test_tdp_mmu test_tdp_dirty test_mmu_lock
HOST_TORTURE_TESTS += torture_tdp
HOST_SRCS_torture_tdp := tests/host/torture_tdp_vcpu.c
# The shadow MMU (mm/shadow): docs/SHADOW_MMU.md.
HOST_UNIT_TESTS += test_shadow_walker
HOST_UNIT_TESTS += test_shadow_mmu test_shadow_random
HOST_TORTURE_TESTS += torture_rmap

# The dirty log's enable protocol against faults in flight (virt/dirty_log.c).
HOST_UNIT_TESTS += test_dirty_log
HOST_SRCS_test_dirty_log := virt/dirty_log.c

# console= parsing (arch/x86/console_spec.c).
HOST_UNIT_TESTS += test_console_spec
HOST_SRCS_test_console_spec := arch/x86/console_spec.c lib/printf.c

# The ACPI parser on synthetic tables: MADT, SRAT, SLIT, the FADT's reset register (arch/x86/acpi.c).
HOST_UNIT_TESTS += test_acpi
HOST_SRCS_test_acpi := arch/x86/acpi.c lib/printf.c

# The guest's local APICs and I/O APIC, and COM1's interrupt line (virt/dev).
HOST_UNIT_TESTS += test_lapic
HOST_SRCS_test_lapic := virt/dev/lapic.c virt/dev/lapic_irq.c virt/dev/lapic_timer.c \
	virt/dev/ioapic.c virt/dev/uart.c

# The PIT, the RTC and NVRAM, the i8042 and the reset paths (virt/dev), with the APICs behind them.
HOST_UNIT_TESTS += test_pcdev
HOST_SRCS_test_pcdev := virt/dev/pit.c virt/dev/rtc.c virt/dev/i8042.c virt/dev/lapic.c \
	virt/dev/lapic_irq.c virt/dev/lapic_timer.c virt/dev/ioapic.c

# The real-mode interpreter for VMX without unrestricted guest (virt/realmode.c).
HOST_UNIT_TESTS += test_realmode
HOST_SRCS_test_realmode := virt/realmode.c virt/realmode_sys.c

# The kernel loader's Linux boot protocol (virt/loader_linux.c).
HOST_UNIT_TESTS += test_loader
HOST_SRCS_test_loader := virt/loader.c virt/loader_linux.c lib/printf.c

HOST_MM_SRCS := $(sort $(wildcard mm/*.c mm/*/*.c))
HOST_LIB_SRCS := $(HOST_MM_SRCS) tests/host/platform_host.c

# Build variants: name and extra flags.
HOST_FLAGS_asan := $(HOST_DEBUG) -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
HOST_FLAGS_tsan := $(HOST_DEBUG) -fsanitize=thread
HOST_FLAGS_plant := $(HOST_DEBUG) -DRCU_PLANT_EARLY_FREE
HOST_FLAGS_plantts := $(HOST_DEBUG) -DTYPESAFE_PLANT_EARLY_FREE
HOST_FLAGS_plantfree := $(HOST_DEBUG) -DTDP_PLANT_FREE_BEFORE_FLUSH
HOST_FLAGS_plantnoflush := $(HOST_DEBUG) -DTDP_PLANT_ZAP_NO_FLUSH
HOST_FLAGS_plantfastpf := $(HOST_DEBUG) -DTDP_PLANT_FAST_PF_NO_CMPXCHG
HOST_FLAGS_planthint := $(HOST_DEBUG) -DTDP_PLANT_HINT_NO_GEN
HOST_FLAGS_bench := -O2
HOST_VARIANTS := asan tsan plant plantts plantfree plantnoflush plantfastpf planthint bench
# mm/shadow's planted rmap bugs (rmap-planted below).
HOST_FLAGS_rmapback := $(HOST_DEBUG) -DRMAP_PLANT_BACKWARD_MOVE
HOST_FLAGS_rmapnulls := $(HOST_DEBUG) -DRMAP_PLANT_NO_NULLS_CHECK
HOST_FLAGS_rmapmb := $(HOST_DEBUG) -DRMAP_PLANT_NO_BARRIER
HOST_VARIANTS += rmapback rmapnulls rmapmb

HOST_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# gcc 12's TSan cannot map its shadow under a 32-bit mmap randomisation
# (newer kernels' default); without ASLR it always can.
HOST_TSAN_RUN := $(shell setarch -R true >/dev/null 2>&1 && echo setarch -R)

# $(1): variant. Objects, libmm.a and one binary per program.
define HOST_VARIANT_RULES
$(HOST_BUILD)/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	@echo "  CC [$(1)] $$<"
	@$$(HOST_CC) $$(HOST_CFLAGS) $$(HOST_FLAGS_$(1)) -c $$< -o $$@

$(HOST_BUILD)/$(1)/libmm.a: $(patsubst %.c,$(HOST_BUILD)/$(1)/%.o,$(HOST_LIB_SRCS))
	@rm -f $$@
	@$$(HOST_AR) rcs $$@ $$^

$(addprefix $(HOST_BUILD)/$(1)/,$(HOST_UNIT_TESTS) $(HOST_TORTURE_TESTS)): \
		$(HOST_BUILD)/$(1)/%: $(HOST_BUILD)/$(1)/tests/host/%.o $(HOST_BUILD)/$(1)/libmm.a
	@echo "  LD [$(1)] $$@"
	@$$(HOST_CC) $$(HOST_CFLAGS) $$(HOST_FLAGS_$(1)) -o $$@ $$< \
		$$(patsubst %.c,$(HOST_BUILD)/$(1)/%.o,$$(HOST_SRCS_$$*)) $(HOST_BUILD)/$(1)/libmm.a
endef
$(foreach v,$(HOST_VARIANTS),$(eval $(call HOST_VARIANT_RULES,$(v))))

# A test's extra sources are prerequisites of its binary in every variant.
$(foreach v,$(HOST_VARIANTS),$(foreach t,$(HOST_UNIT_TESTS) $(HOST_TORTURE_TESTS),\
	$(eval $(HOST_BUILD)/$(v)/$(t): $(patsubst %.c,$(HOST_BUILD)/$(v)/%.o,$(HOST_SRCS_$(t))))))
-include $(wildcard $(addprefix $(HOST_BUILD)/*/,*/*.d */*/*.d */*/*/*.d))

.PHONY: host-test host-unit host-torture-asan host-torture-tsan rcu-planted \
	host-freestanding bench tdp-planted tdp-funnel

host-test: host-unit host-torture-asan host-torture-tsan rcu-planted tdp-planted tdp-funnel \
		host-freestanding layers
	@echo "host-test: all passed"

host-unit: $(addprefix $(HOST_BUILD)/asan/,$(HOST_UNIT_TESTS)) \
		$(addprefix $(HOST_BUILD)/tsan/,$(HOST_UNIT_TESTS))
	@set -e; for t in $(HOST_UNIT_TESTS); do \
	  echo "== $$t (asan+ubsan)"; $(HOST_ENV) $(HOST_BUILD)/asan/$$t; \
	  echo "== $$t (tsan)"; $(HOST_ENV) $(HOST_TSAN_RUN) $(HOST_BUILD)/tsan/$$t; \
	done

host-torture-asan: $(addprefix $(HOST_BUILD)/asan/,$(HOST_TORTURE_TESTS))
	@set -e; for t in $(HOST_TORTURE_TESTS); do \
	  echo "== $$t $(HOST_TORTURE_SECONDS)s (asan+ubsan)"; \
	  $(HOST_ENV) $(HOST_BUILD)/asan/$$t $(HOST_TORTURE_SECONDS); \
	done

host-torture-tsan: $(addprefix $(HOST_BUILD)/tsan/,$(HOST_TORTURE_TESTS))
	@set -e; for t in $(HOST_TORTURE_TESTS); do \
	  echo "== $$t $(HOST_TORTURE_SECONDS)s (tsan)"; \
	  $(HOST_ENV) $(HOST_TSAN_RUN) $(HOST_BUILD)/tsan/$$t $(HOST_TORTURE_SECONDS); \
	done

# The torture test must catch a planted early free: $(1) variant, $(2) the
# message it must fail with.
define HOST_PLANTED_CHECK
	@echo "== torture_rcu, $(1) variant (a planted early free): must fail"
	@if timeout 60 $(HOST_BUILD)/$(1)/torture_rcu 10 >$(HOST_BUILD)/$(1)/torture.log 2>&1; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "rcu-planted: FAIL: the planted early free went unnoticed"; exit 1; \
	fi
	@if ! grep -q "$(2)" $(HOST_BUILD)/$(1)/torture.log; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "rcu-planted: FAIL: torture_rcu failed, but not by catching the early free"; exit 1; \
	fi
	@grep -m1 "$(2)" $(HOST_BUILD)/$(1)/torture.log | cut -c1-160
endef

rcu-planted: $(HOST_BUILD)/plant/torture_rcu $(HOST_BUILD)/plantts/torture_rcu
	$(call HOST_PLANTED_CHECK,plant,saw freed memory)
	$(call HOST_PLANTED_CHECK,plantts,its page left the cache)
	@echo "rcu-planted: ok, both planted early frees were caught"

# The TDP MMU torture must catch each planted bug with its own message:
# $(1) variant, $(2) the bug, $(3) the message (a grep pattern). A stale
# walk hint reads a freed table: its poison, or, once the page is free
# again, the allocator's link word taken for a table address.
define TDP_PLANTED_CHECK
	@echo "== torture_tdp, $(1) variant ($(2)): must fail"
	@if timeout 120 $(HOST_BUILD)/$(1)/torture_tdp 10 >$(HOST_BUILD)/$(1)/torture.log 2>&1; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "tdp-planted: FAIL: $(2) went unnoticed"; exit 1; \
	fi
	@if ! grep -q "$(3)" $(HOST_BUILD)/$(1)/torture.log; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "tdp-planted: FAIL: torture_tdp failed, but not by catching $(2)"; exit 1; \
	fi
	@grep -m1 "$(3)" $(HOST_BUILD)/$(1)/torture.log | cut -c1-160
endef

tdp-planted: $(HOST_BUILD)/plantfree/torture_tdp $(HOST_BUILD)/plantnoflush/torture_tdp \
		$(HOST_BUILD)/plantfastpf/torture_tdp $(HOST_BUILD)/planthint/torture_tdp
	$(call TDP_PLANTED_CHECK,plantfree,a free before the flush,read a freed table)
	$(call TDP_PLANTED_CHECK,plantnoflush,a zap that skips its flush,stale translation)
	$(call TDP_PLANTED_CHECK,plantfastpf,a fast page fault without cmpxchg,changed after the freeze)
	$(call TDP_PLANTED_CHECK,planthint,a walk hint kept across an unlink,read a freed table\|outside the arena)
	@echo "tdp-planted: ok, all four planted bugs were caught"

# The SPTE funnel: outside mm/ept/tdp_spte.c nothing stores to a table entry
# (no "*sptep =", no "table[i] =", no atomic store, exchange or RMW on one).
TDP_FUNNEL_BAD := \*[a-z_>.-]*sptep[[:space:]]*=[^=]|(sptep|table|root_pt|pt_path[^]]*\])\[[^]]*\][[:space:]]*=[^=]|atomic_(store|exchange|compare_exchange|fetch)[a-z_]*\([^,]*(sptep|table|root_pt)
tdp-funnel:
	@bad=$$(grep -nE '$(TDP_FUNNEL_BAD)' $$(ls mm/ept/*.[ch] | grep -v '^mm/ept/tdp_spte.c$$') || true); \
	if [ -n "$$bad" ]; then echo "tdp-funnel: entries written outside tdp_spte.c:"; echo "$$bad"; exit 1; fi; \
	n=$$(grep -cE '$(TDP_FUNNEL_BAD)' mm/ept/tdp_spte.c); \
	echo "tdp-funnel: ok, every entry store is in mm/ept/tdp_spte.c ($$n sites)"

# The layers include only downward (tools/check-layers), and the check
# catches a planted violation of each of its rules.
.PHONY: layers
layers:
	@tools/check-layers --self-test
	@tools/check-layers

# The shadow MMU's rmap (mm/shadow/rmap.c): torture_rmap must catch each
# planted bug with its own message: $(1) variant, $(2) the bug, $(3) the
# message, $(4) the phase that shows it.
.PHONY: rmap-planted model-check shadow-funnel
host-test: rmap-planted model-check shadow-funnel
define RMAP_PLANTED_CHECK
	@echo "== torture_rmap, $(1) variant ($(2)): must fail"
	@if timeout 60 $(HOST_BUILD)/$(1)/torture_rmap 8 $(4) >$(HOST_BUILD)/$(1)/torture.log 2>&1; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "rmap-planted: FAIL: $(2) went unnoticed"; exit 1; \
	fi
	@if ! grep -q "$(3)" $(HOST_BUILD)/$(1)/torture.log; then \
	  cat $(HOST_BUILD)/$(1)/torture.log; \
	  echo "rmap-planted: FAIL: torture_rmap failed, but not by catching $(2)"; exit 1; \
	fi
	@grep -m1 "$(3)" $(HOST_BUILD)/$(1)/torture.log | cut -c1-160
endef

rmap-planted: $(HOST_BUILD)/rmapback/torture_rmap $(HOST_BUILD)/rmapnulls/torture_rmap \
		$(HOST_BUILD)/rmapmb/torture_rmap
	$(call RMAP_PLANTED_CHECK,rmapback,a backward move on delete,missed an SPTE present for its whole walk,churn)
	$(call RMAP_PLANTED_CHECK,rmapnulls,a missing nulls check,missed an SPTE present for its whole walk,churn)
	$(call RMAP_PLANTED_CHECK,rmapmb,a missing dirty-log barrier,the dirty-log barrier pair is broken,barrier)
	@echo "rmap-planted: ok, all three planted bugs were caught"

# The shadow MMU's SPTE funnel: outside mm/shadow/shadow_spte.c nothing
# stores to a shadow entry (no "*sptep =", no atomic store, exchange or RMW).
SHADOW_FUNNEL_BAD := \*sptep[[:space:]]*=[^=]|atomic_(store|exchange|compare_exchange|fetch)[a-z_]*\([[:space:]]*(sptep|&?table\[|&?sp_table)
shadow-funnel:
	@bad=$$(grep -nE '$(SHADOW_FUNNEL_BAD)' $$(ls mm/shadow/*.[ch] | grep -v '^mm/shadow/shadow_spte.c$$') || true); \
	if [ -n "$$bad" ]; then echo "shadow-funnel: entries written outside shadow_spte.c:"; echo "$$bad"; exit 1; fi; \
	n=$$(grep -cE '$(SHADOW_FUNNEL_BAD)' mm/shadow/shadow_spte.c); \
	echo "shadow-funnel: ok, every shadow entry store is in mm/shadow/shadow_spte.c ($$n sites)"

# The pte_list protocol in Promela, checked exhaustively by spin: the
# property must hold, and each planted bug (a -D to spin) must violate it.
HOST_MODEL_DIR := $(HOST_BUILD)/model
model-check:
	@tools/deps spin
	@set -e; for v in ok BACKWARD_MOVE NO_NULLS_CHECK; do \
	  d=$(HOST_MODEL_DIR)/$$v; rm -rf $$d; mkdir -p $$d; \
	  def=$$([ $$v = ok ] || echo -D$$v); \
	  (cd $$d && spin $$def -a $(CURDIR)/tests/model/pte_list.pml >spin.log 2>&1 && \
	   $(HOST_CC) -O2 -DSAFETY -o pan pan.c && ./pan -m100000 >pan.log 2>&1) || \
	    { cat $$d/spin.log $$d/pan.log 2>/dev/null; echo "model-check: spin failed ($$v)"; exit 1; }; \
	  if [ $$v = ok ]; then \
	    grep -q "errors: 0" $$d/pan.log || { cat $$d/pan.log; echo "model-check: FAIL: pte_list.pml is violated"; exit 1; }; \
	    ! grep -q "search depth too small" $$d/pan.log || { cat $$d/pan.log; echo "model-check: FAIL: the search was cut short"; exit 1; }; \
	    echo "model-check: pte_list.pml holds: $$(grep -o '[0-9]* states, stored' $$d/pan.log), no assertion violated"; \
	  else \
	    grep -q "assertion violated seen_p" $$d/pan.log || { cat $$d/pan.log; echo "model-check: FAIL: -D$$v went unnoticed"; exit 1; }; \
	    echo "model-check: -D$$v violates it: $$(grep -o 'assertion violated.*' $$d/pan.log)"; \
	  fi; \
	done

# The shadow MMU's rmap walk against chain length (make bench): RESULT scenario=host_rmap.
.PHONY: bench-rmap
bench: bench-rmap
$(HOST_BUILD)/bench/bench_rmap: $(HOST_BUILD)/bench/tests/host/bench_rmap.o $(HOST_BUILD)/bench/libmm.a
	@echo "  LD [bench] $@"
	@$(HOST_CC) $(HOST_CFLAGS) $(HOST_FLAGS_bench) -o $@ $^
bench-rmap: $(HOST_BUILD)/bench/bench_rmap
	$(HOST_BUILD)/bench/bench_rmap

# mm/ must build with the kernel's flags, with and without MM_DEBUG, and
# call nothing outside itself but the platform hooks and the mem* builtins.
HOST_KERNEL_CFLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -mno-red-zone \
	-mgeneral-regs-only -fno-pic -Wall -Wextra -Werror -I.
host-freestanding:
	@set -e; for d in release debug; do \
	  dir=$(HOST_BUILD)/freestanding-$$d; rm -rf $$dir; mkdir -p $$dir; \
	  flags=$$([ $$d = debug ] && echo -DMM_DEBUG || true); \
	  for f in $(HOST_MM_SRCS); do \
	    $(HOST_CC) $(HOST_KERNEL_CFLAGS) $$flags -c $$f -o $$dir/$$(echo $$f | tr / _).o; \
	  done; \
	  ld -r -o $$dir/mm.o $$dir/*_*.o; \
	  bad=$$(nm -u $$dir/mm.o | awk '{print $$2}' | \
	    grep -vE '^(platform_[a-z_]+|memset|memcpy|memmove|memcmp)$$' || true); \
	  if [ -n "$$bad" ]; then echo "host-freestanding: mm/ ($$d) calls outside mm/:" $$bad; exit 1; fi; \
	done; echo "host-freestanding: mm/ builds freestanding (release and MM_DEBUG), needs only platform_* and mem*"

# The benchmark: release flags, our RCU and liburcu's QSBR flavour in one binary.
HOST_URCU_LIBS := -lurcu-qsbr -lurcu-common
$(HOST_BUILD)/bench/bench_rcu: $(HOST_BUILD)/bench/tests/host/bench_rcu.o \
		$(HOST_BUILD)/bench/tests/host/bench_urcu.o $(HOST_BUILD)/bench/libmm.a
	@echo "  LD [bench] $@"
	@$(HOST_CC) $(HOST_CFLAGS) $(HOST_FLAGS_bench) -o $@ $^ $(HOST_URCU_LIBS)

# The TDP MMU: fault scaling, flushes per zap, and instructions per 4 KiB
# fault counted by callgrind inside tdp_mmu_page_fault() (repeatable where
# wall time is not). HOST_TDP_COST_FAULTS faults, first-touch included.
HOST_TDP_COST_FAULTS ?= 100000
$(HOST_BUILD)/bench/bench_tdp: $(HOST_BUILD)/bench/tests/host/bench_tdp.o $(HOST_BUILD)/bench/libmm.a
	@echo "  LD [bench] $@"
	@$(HOST_CC) $(HOST_CFLAGS) $(HOST_FLAGS_bench) -o $@ $^

# The shadow MMU: instructions per demand fault (a read, then the write that
# sets D), counted by callgrind inside shadow_mmu_page_fault().
$(HOST_BUILD)/bench/bench_shadow: $(HOST_BUILD)/bench/tests/host/bench_shadow.o $(HOST_BUILD)/bench/libmm.a
	@echo "  LD [bench] $@"
	@$(HOST_CC) $(HOST_CFLAGS) $(HOST_FLAGS_bench) -o $@ $^

# A benchmark that misses its goal says so and the run goes on (make's "-"):
# a missed bar on a busy machine must not hide the figures after it.
HOST_TDP_COST_GOAL := 500
bench: $(HOST_BUILD)/bench/bench_rcu $(HOST_BUILD)/bench/bench_tdp $(HOST_BUILD)/bench/bench_shadow
	-$(HOST_BUILD)/bench/bench_rcu
	tools/deps valgrind
	-$(HOST_BUILD)/bench/bench_tdp
	@valgrind --tool=callgrind --toggle-collect=tdp_mmu_page_fault \
	  --callgrind-out-file=$(HOST_BUILD)/bench/callgrind.tdp.out \
	  $(HOST_BUILD)/bench/bench_tdp --fault-cost $(HOST_TDP_COST_FAULTS) \
	  >$(HOST_BUILD)/bench/callgrind.tdp.log 2>&1 || { cat $(HOST_BUILD)/bench/callgrind.tdp.log; exit 1; }
	@ir=$$(sed -n 's/^summary: //p' $(HOST_BUILD)/bench/callgrind.tdp.out); \
	echo "RESULT scenario=host_fault_cost page=4K faults=$(HOST_TDP_COST_FAULTS) instructions=$$ir" \
	  "instructions_per_fault=$$((ir / $(HOST_TDP_COST_FAULTS))) goal=$(HOST_TDP_COST_GOAL)" \
	  "met=$$([ $$((ir / $(HOST_TDP_COST_FAULTS))) -le $(HOST_TDP_COST_GOAL) ] && echo yes || echo no)"
	@valgrind --tool=callgrind --toggle-collect=shadow_mmu_page_fault \
	  --callgrind-out-file=$(HOST_BUILD)/bench/callgrind.shadow.out \
	  $(HOST_BUILD)/bench/bench_shadow >$(HOST_BUILD)/bench/callgrind.shadow.log 2>&1 || \
	  { cat $(HOST_BUILD)/bench/callgrind.shadow.log; exit 1; }
	@ir=$$(sed -n 's/^summary: //p' $(HOST_BUILD)/bench/callgrind.shadow.out); \
	n=$$(sed -n 's/^bench_shadow: \([0-9]*\) faults.*$$/\1/p' $(HOST_BUILD)/bench/callgrind.shadow.log); \
	echo "RESULT scenario=host_shadow_fault_cost page=4K faults=$$n instructions=$$ir" \
	  "instructions_per_fault=$$((ir / n))"
