// SPDX-License-Identifier: MIT
/*
 * beside=: the control CPU's work while a PC guest runs (scenario=guest),
 * between vm_wait's polls (vm_wait_beside). dirty_log: live migration's
 * pre-copy: the log on every writable slot, a first full pass into a
 * destination image, then harvest rounds; after the guest stopped, a last
 * harvest and a byte-for-byte check of the copy (stress/migrate.h). age:
 * aging rounds over all guest RAM, each followed by a remote flush.
 */
#pragma once

#include "boot/options.h"
#include "stress/migrate.h"

struct guest_beside {
	enum guest_beside_mode what;
	bool dirty_log, age, locked, manual_protect; /* what, spelt out; manual_protect= */
	gfn_t gfns;                                  /* guest RAM: [0, gfns) */
	uint64_t *bits;                              /* the harvested log, or a pass's young bits */
	unsigned int bits_order;
	struct migrate_image image;  /* dirty_log: the destination */
	struct tdp_page_cache cache; /* dirty_log: splits when the log goes on */
	bool enabled;                /* dirty_log: the log is on */
	uint64_t first_pass_at;      /* dirty_log: the first pass has copied up to here */
	uint64_t next_round;         /* the TSC at which the next step may run */

	/* The figures: */
	uint64_t rounds;               /* harvests (aging passes) while the guest ran */
	uint64_t pages;                /* pages copied from the log (young pages found) */
	uint64_t final_dirty;          /* dirty_log: the last harvest's pages */
	uint64_t work_cycles;          /* all of it: enable, passes, harvests, copies */
	uint64_t protect_cycles;       /* dirty_log: get and clear alone (what wp= changes) */
	uint64_t differ, first_differ; /* dirty_log: pages of the copy that differ, the lowest */
	bool checked;
};

/* Before vm_create: the VM's MMU policy that beside= selects (wp=, age=). */
void guest_beside_config(enum guest_beside_mode what, struct vm_mmu_config *mmu);
/* After vm_create: the bitmaps and the image; false (and a line) when memory runs out. */
bool guest_beside_prepare(struct guest_beside *b, enum guest_beside_mode what, struct vm *vm);
/* vm_wait_beside's work: one step when its time has come (ctx: the struct guest_beside). */
void guest_beside_step(struct vm *vm, void *ctx);
/* After vm_wait: dirty_log's last harvest and the check; false if the copy differs. */
bool guest_beside_finish(struct guest_beside *b, struct vm *vm);
/* " beside=... " keys for the RESULT line ("" for beside=none). */
void guest_beside_keys(const struct guest_beside *b, char *buf, size_t len);
void guest_beside_release(struct guest_beside *b);
