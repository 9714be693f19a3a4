// SPDX-License-Identifier: MIT
/*
 * The hypervisor's own page tables: an identity map of physical memory in
 * 2 MiB pages. boot/entry.S maps the first 4 GiB; paging_map_above_4g()
 * extends the map to the top of the memory map.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

bool paging_map_above_4g(uint64_t top);
void paging_set_uncached(uint64_t pa); /* the 2 MiB page holding pa: MMIO */
