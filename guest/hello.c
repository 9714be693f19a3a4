// SPDX-License-Identifier: MIT
/* hello: every vCPU says who it is, then they all meet at a barrier. */
#include "guest/runtime.h"

void guest_main(unsigned int vcpu_id)
{
	uint64_t id = hypercall(HC_VCPU_ID, 0, 0, 0);

	if (id != vcpu_id)
		guest_fail("HC_VCPU_ID says %lu, RDI said %u", (unsigned long)id, vcpu_id);
	guest_printf("hello from vcpu %u of %u", vcpu_id, boot_info->nr_vcpus);
	guest_barrier();
	guest_report(0, 0x600d);
}
