// SPDX-License-Identifier: MIT
/*
 * A VM's PC devices: creation, teardown, and the ports without a device.
 * Those read all ones and drop writes, as an ISA bus with nothing on it;
 * each is counted and named once on the console when first touched.
 */
#include "arch/x86/console.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/page_alloc.h"
#include "virt/dev/pc.h"

#define REPORT_LINE_MAX 400 /* under the console's 512-byte line */

struct pc_devices *pc_devices_create(const struct pc_config *cfg)
{
	struct pc_devices *d;

	BUG_ON(cfg->nr_vcpus == 0 || cfg->nr_vcpus > PC_MAX_VCPUS);
	pc_io_check_tables();
	d = page_alloc_zeroed(page_order_for(sizeof(*d)));
	if (!d)
		return NULL;
	d->uart_out = page_alloc(PC_UART_OUT_ORDER);
	if (!d->uart_out) {
		page_free(d, page_order_for(sizeof(*d)));
		return NULL;
	}
	d->cfg = *cfg;
	atomic_init(&d->exit_status, -1);
	atomic_init(&d->reset_cause, PC_RESET_NONE);
	atomic_init(&d->pit_next, 0);
	spin_lock_init(&d->lock, "pc_devices");
	pc_uart_reset(d);
	pc_pic_reset(d);
	pc_fw_cfg_setup(d);
	pc_pm_timer_setup(d);
	pc_lapic_reset(d);
	pc_ioapic_reset(d);
	pc_pit_reset(d);     /* after the I/O APIC: it sets pin 2 */
	pc_rtc_reset(d);
	pc_i8042_reset(d);
	return d;
}

void pc_devices_destroy(struct pc_devices *d)
{
	if (!d)
		return;
	spin_lock(&d->lock);
	pc_uart_flush_line(d);
	spin_unlock(&d->lock);
	page_free(d->uart_out, PC_UART_OUT_ORDER);
	page_free(d, page_order_for(sizeof(*d)));
}

int pc_exit_status(const struct pc_devices *d)
{
	return atomic_load_explicit(&d->exit_status, memory_order_acquire);
}

/*
 * Count the access; true if port was not seen before and should be named
 * now (the caller prints after dropping the lock). *overflowed: this is
 * the first port that did not fit the table.
 */
static bool unknown_port_count(struct pc_devices *d, uint16_t port, bool in, bool *overflowed)
{
	struct pc_unknown_port *u = NULL;

	pc_assert_locked(d);
	*overflowed = false;
	for (unsigned int i = 0; i < d->nr_unknown; i++) {
		if (d->unknown[i].port == port) {
			u = &d->unknown[i];
			break;
		}
	}
	if (!u && d->nr_unknown < PC_UNKNOWN_PORTS_MAX) {
		u = &d->unknown[d->nr_unknown++];
		u->port = port;
		u->reads = u->writes = 0;
		if (in)
			u->reads++;
		else
			u->writes++;
		return true;
	}
	if (!u) {
		if (in)
			d->others_reads++;
		else
			d->others_writes++;
		*overflowed = !d->others_reported;
		d->others_reported = true;
		return false;
	}
	if (in)
		u->reads++;
	else
		u->writes++;
	return false;
}

enum pc_io_result pc_unknown_port_io(struct pc_devices *d, uint16_t port, unsigned int size,
				     bool in, uint32_t *val)
{
	bool first, overflowed;

	spin_lock(&d->lock);
	first = unknown_port_count(d, port, in, &overflowed);
	spin_unlock(&d->lock);
	if (d->cfg.io_strict)
		return PC_IO_STRICT_STOP; /* the caller prints the stop line */
	if (in)
		*val = pc_io_mask(size);
	if (first)
		kprintf("vm %u: port 0x%x has no device (reads all ones, writes dropped); reported once\n",
			d->cfg.vm_id, port);
	if (overflowed)
		kprintf("vm %u: more than %u ports without a device: the rest are counted together, not named\n",
			d->cfg.vm_id, PC_UNKNOWN_PORTS_MAX);
	return PC_IO_DONE;
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* "12 writes", "3 reads, 1 write" */
static int format_counts(char *buf, size_t len, uint64_t reads, uint64_t writes)
{
	if (reads && writes)
		return fmt_snprintf(buf, len, "%lu read%s, %lu write%s", (unsigned long)reads,
				    plural(reads), (unsigned long)writes, plural(writes));
	if (reads)
		return fmt_snprintf(buf, len, "%lu read%s", (unsigned long)reads, plural(reads));
	return fmt_snprintf(buf, len, "%lu write%s", (unsigned long)writes, plural(writes));
}

void pc_devices_report(const struct pc_devices *d)
{
	struct pc_devices *dm = (struct pc_devices *)d; /* the lock only */
	struct pc_unknown_port ports[PC_UNKNOWN_PORTS_MAX];
	unsigned int nr;
	uint64_t others_reads, others_writes, dropped;
	char line[REPORT_LINE_MAX], item[64], counts[48];
	size_t len = 0;

	spin_lock(&dm->lock);
	nr = d->nr_unknown;
	memcpy(ports, d->unknown, nr * sizeof(ports[0]));
	others_reads = d->others_reads;
	others_writes = d->others_writes;
	dropped = d->uart.out_dropped;
	spin_unlock(&dm->lock);

	if (dropped)
		kprintf("vm %u com1: %lu bytes past the %lu KiB output buffer were printed but not kept\n",
			d->cfg.vm_id, (unsigned long)dropped,
			(unsigned long)((PAGE_SIZE << PC_UART_OUT_ORDER) >> 10));
	if (!nr)
		return;
	for (unsigned int i = 0; i <= nr; i++) {
		int n;

		if (i == nr && !others_reads && !others_writes)
			break;
		if (i < nr) {
			format_counts(counts, sizeof(counts), ports[i].reads, ports[i].writes);
			n = fmt_snprintf(item, sizeof(item), "0x%x (%s)", ports[i].port, counts);
		} else {
			format_counts(counts, sizeof(counts), others_reads, others_writes);
			n = fmt_snprintf(item, sizeof(item), "others (%s)", counts);
		}
		/* A full line goes out, and the list goes on on the next. */
		if (len && len + 2 + (size_t)n >= sizeof(line)) {
			kprintf("vm %u: unhandled ports: %s,\n", d->cfg.vm_id, line);
			len = 0;
		}
		len += fmt_snprintf(line + len, sizeof(line) - len, "%s%s", len ? ", " : "", item);
	}
	kprintf("vm %u: unhandled ports: %s\n", d->cfg.vm_id, line);
}
