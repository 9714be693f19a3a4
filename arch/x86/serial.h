// SPDX-License-Identifier: MIT
/* COM1, a 16550 UART at 115200 8N1, polled. */
#pragma once

void serial_init(void);
void serial_putc(char c);
/* Wait until the last byte has left the wire (before power-off or exit). */
void serial_drain(void);
