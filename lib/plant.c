// SPDX-License-Identifier: MIT
/* The planted-bug switch of lib/plant.h: init/main.c sets it, before any scenario runs. */
#include "lib/plant.h"

enum plant_kind planted_bug; /* immutable once the scenario starts */
