# SPDX-License-Identifier: MIT
# libFuzzer harnesses (Debian's clang, ASan and UBSan) for what a loader,
# firmware, a user or a guest hands the hypervisor: the multiboot2
# information, the ACPI tables, the command line, the instructions of a
# guest's emulated stores, a PC guest's kernel image with its modules (the
# multiboot loader), and a guest's page tables (the shadow MMU's walker,
# against the SDM reference in tests/host/walker_ref.h).
#   make fuzz         each for FUZZ_SECONDS (60), on a copy of its corpus
#   make fuzz-smoke   each for FUZZ_SMOKE_SECONDS (3): part of make test
# The seeds live in tests/fuzz/corpus/<name>/ (the loader's in
# tests/fuzz/corpus-loader/); an input that finds a bug is
# written to build/fuzz/ and belongs in the corpus once fixed.

FUZZ_CC ?= clang
FUZZ_BUILD ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_TIMEOUT ?= 20
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS := mb2 cmdline emulate loader acpi walker
FUZZ_SRCS_mb2 := boot/mb2.c lib/printf.c
FUZZ_SRCS_cmdline := boot/options.c lib/cmdline.c lib/printf.c
FUZZ_SRCS_emulate := virt/emulate.c
FUZZ_SRCS_loader := virt/loader.c virt/loader_linux.c lib/printf.c
FUZZ_SRCS_acpi := arch/x86/acpi.c lib/printf.c
FUZZ_SRCS_walker := mm/shadow/walker.c
# Headers a harness includes from elsewhere (rebuilt when they change).
FUZZ_DEPS_acpi := arch/x86/acpi.h
FUZZ_DEPS_walker := tests/host/walker_ref.h mm/shadow/walker.h mm/shadow/x86_pte.h

.PHONY: fuzz fuzz-smoke fuzz-deps
fuzz-deps:
	@tools/deps clang libclang-rt-14-dev

define FUZZ_BINARY
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(FUZZ_DEPS_$(1)) | fuzz-deps
	@mkdir -p $$(dir $$@)
	@echo "  CC [fuzz] $$@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SRCS_$(1)) $$< -o $$@
endef
$(foreach f,$(FUZZERS),$(eval $(call FUZZ_BINARY,$(f))))

# $(1): seconds each. A fuzzer that finds nothing prints its executions and
# coverage; one that finds a crash, or an input that runs FUZZ_TIMEOUT
# seconds (a hang), fails the target and names the input.
define FUZZ_RUN
	@set -e; pass=0; for f in $(FUZZERS); do \
	  seeds=tests/fuzz/corpus/$$f; [ -d $$seeds ] || seeds=tests/fuzz/corpus-$$f; \
	  rm -rf $(FUZZ_BUILD)/corpus-$$f; cp -r $$seeds $(FUZZ_BUILD)/corpus-$$f; \
	  if ! $(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(1) -timeout=$(FUZZ_TIMEOUT) \
	      -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$f- $(FUZZ_BUILD)/corpus-$$f \
	      >$(FUZZ_BUILD)/$$f.log 2>&1; then \
	    tail -40 $(FUZZ_BUILD)/$$f.log; echo "fuzz: $$f found a bug; the input is in $(FUZZ_BUILD)/"; \
	    echo "fuzz: $$pass passed, 1 failed"; exit 1; fi; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/$$f.log); \
	  cov=$$(grep -o 'cov: [0-9]*' $(FUZZ_BUILD)/$$f.log | tail -1); \
	  echo "fuzz: $$f: $$runs executions in $(1) s, $$cov edges, nothing found"; \
	  pass=$$((pass + 1)); \
	done; echo "fuzz: $$pass passed, 0 failed"
endef

fuzz: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZERS))
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZERS))
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))
