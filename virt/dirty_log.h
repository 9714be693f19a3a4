// SPDX-License-Identifier: MIT
/*
 * Dirty logging per memslot, as a VMM uses it for live migration.
 *
 * Write-protect based: enabling the log write-protects the slot (splitting
 * huge pages first with split=eager; split=lazy leaves them read-only until a
 * write); a write fault on a logging slot then maps a writable 4 KiB leaf and
 * the core marks the page dirty (vm_dirty_log_write_fault). Getting the log
 * write-protects the slot again and then takes the bitmap. With manual protect
 * (as KVM_CLEAR_DIRTY_LOG), get only takes the bitmap and clear re-protects
 * exactly the pages it returned.
 *
 * No write is lost as long as the caller copies a page after the call that
 * re-protected it (get without manual protect, clear with it): a write
 * before that call is in the copy, a write after it faults and is marked.
 * (Write-protecting keeps a leaf's D bit and marks nothing; D reaches the
 * bitmap only through a zap or clear-dirty, which mark_dirty also serves.)
 */
#pragma once

#include "virt/vm.h"

/* tdp_mmu_ops.mark_dirty: any CPU. */
void vm_mark_dirty(void *vm, gfn_t gfn);
/* The core's hook after a write fault was fixed in a logging slot (the vCPU's pCPU). */
void vm_dirty_log_write_fault(struct vm *vm, uint64_t gpa);

/*
 * The control CPU. The log covers every writable slot (virt/dirty_log.c says
 * why a read-only one needs none); a caller's bitmap has vm_dirty_log_words()
 * words, one bit per gfn from 0.
 */
bool vm_dirty_log_enable(struct vm *vm, struct tdp_page_cache *cache);
/* Harvest into out (zeroed by the call); returns the number of dirty pages. */
uint64_t vm_dirty_log_get(struct vm *vm, uint64_t *out, bool manual_protect);
/* Manual protect: write-protect the pages set in bitmap. */
void vm_dirty_log_clear(struct vm *vm, const uint64_t *bitmap);
/* Stop logging and collapse back to huge pages where the slot allows (one flush). */
void vm_dirty_log_disable(struct vm *vm);
uint64_t vm_dirty_log_words(const struct vm *vm);
