// SPDX-License-Identifier: MIT
/*
 * The guest programs built into the hypervisor. The Makefile builds
 * guest/<name>.c into build/guest/<name>.bin for each name in GUESTS and
 * embeds it as guest_image_<name>_start/_end; keep the two lists alike (a
 * missing one is a link error). stress/guests.h finds an image by name.
 */
#pragma once

#define GUEST_IMAGES(X) X(hello) X(misbehave) X(demand_paging) X(spin) X(zap_stress) X(dirty_log) X(access_tracking) X(shadow_pt) \
	X(hostile) X(fuzz) X(isolation) X(exits)
