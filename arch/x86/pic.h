// SPDX-License-Identifier: MIT
#pragma once

void pic_disable(void);
