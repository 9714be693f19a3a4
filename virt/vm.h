// SPDX-License-Identifier: MIT
/*
 * A VM: guest memory in memslots backed by host pages, one TDP MMU, and
 * vCPUs placed round robin on the pCPUs (pCPU 0 is the control CPU and
 * runs none); virt/sched.c time-slices a pCPU that has several.
 */
#pragma once

#include "arch/x86/cpumask.h"
#include "arch/x86/virt.h"
#include "mm/ept/tdp_mmu.h"
#include "mm/shadow/shadow_mmu.h"
#include "mm/shadow/walker.h"
#include "mm/platform.h"
#include "virt/breakdown.h"

#define VM_MAX_VCPUS 1024
#define VM_MAX_SLOTS 4

/*
 * vcpu.mode (the shootdown protocol; see virt/shootdown.c and docs/LOCKING.md).
 * BLOCKED: a PC guest's vCPU sleeps in its pCPU's HLT (virt/pc_irq.c) and
 * is woken by any request but a TLB flush.
 */
enum vcpu_mode { VCPU_OUTSIDE, VCPU_IN_GUEST, VCPU_EXITING, VCPU_BLOCKED };

/*
 * vcpu.requests bits, set by any CPU, consumed by the vCPU before it
 * enters. (A TLB flush is not one: the vCPU compares vm.flush_seq with its
 * served_flush_seq; virt/shootdown.c.)
 */
#define VCPU_REQ_STOP (1u << 1)
#define VCPU_REQ_EVENT (1u << 2)   /* a PC guest's local APIC has something new (virt/pc_irq.c) */

#define NOT_IN_GUEST UINT64_MAX

/*
 * How long a flush waits for a kicked vCPU to leave the guest before it
 * gives up on the VM (virt/shootdown.c: it stops the VM and waits on, with
 * NMIs; the vCPU may still use what the flusher would free). A stop
 * (vm_wait) NMIs a lingering vCPU every KICK_NMI_EVERY_MS until it leaves.
 */
#define VCPU_LEAVE_BOUND_MS 2000

/* Exits a PC guest took, by kind (counted by the vCPU's pCPU; read after vm_wait). */
struct pc_exit_stats {
	uint64_t io, msr, cpuid, cr, dr, mmio, other;
};

struct vcpu_stats {
	uint64_t exits, hypercalls, tdp_faults, tdp_retries, flushes, halts, interrupts;
	uint64_t ipis_received;
	/* virt/sched.c: turns on the pCPU, turns cut short by the timer, state switches to it */
	uint64_t slices, preemptions, switches_in, yields, pause_exits;
	uint64_t emulated; /* mmu=shadow: stores done by virt/emulate.c */
	uint64_t write_retries_emulated; /* ... of them after a write kept faulting */
	struct pc_exit_stats pc; /* a PC guest's */
	/* A PC guest's interrupts (virt/pc_irq.c): */
	uint64_t irqs_injected, nmis_injected, irq_windows, sleeps, sipis;
};

struct vcpu {
	/* Immutable after vm_create (pcpu: sched_place), pcpu_shared after sched_launch: */
	struct vm *vm;
	unsigned int id;
	unsigned int pcpu;
	bool pcpu_shared;           /* other vCPUs share its pCPU: it runs in time slices */

	/* Cross-CPU (atomics): */
	_Atomic int mode;           /* enum vcpu_mode */
	atomic_uint requests;       /* VCPU_REQ_* */
	/*
	 * served_flush_seq while really in the guest, else NOT_IN_GUEST:
	 * stored by the vCPU after its entry's check, and by the world switch
	 * at its exit (vcpu_arch.left); read by flushers (virt/shootdown.c).
	 */
	atomic_ulong in_guest_seq;

	/* Owned by the vCPU's pCPU: */
	struct vcpu_arch arch;      /* what the backend sees (arch/x86/virt.h) */
	uint64_t served_flush_seq;  /* vm->flush_seq as read before its last TLB flush */
	struct tdp_page_cache tdp_cache;
	struct shadow_vcpu *shadow;  /* mmu=shadow */
	const uint64_t *shadow_root_pa; /* mmu=shadow: its current root's address (shadow_vcpu_root_pa_word) */
	/*
	 * mmu=shadow: the control registers as the guest sees them. On VMX a
	 * CR0 bit outside the guest/host mask (WP, PG, PE) changes without an
	 * exit, so only those three are exact in guest_cr0; nothing reads others.
	 */
	uint64_t guest_cr0, guest_cr3, guest_cr4, guest_efer;
	uint64_t guest_cr8;          /* the task priority (VMX: CR8 exits; virt/cr.c) */
	uint64_t guest_dr[8];        /* a PC guest's debug registers (MOV DR exits; virt/pc.c) */
	/* A PC guest's interrupt state (virt/pc_irq.c): */
	bool wait_sipi;              /* after INIT (an AP from the start): waits for a SIPI */
	bool halted;                 /* HLT: sleeps until an interrupt it can take */
	bool nmi_pending;            /* taken from the APIC, not injected yet */
	bool dead_halt;              /* counted in vm->pc_dead_halts */
	uint64_t timer_armed;        /* the TSC the host timer is armed for, 0 none */
	uint64_t mtrr[32];           /* its MTRRs as it wrote them (virt/msr.c) */
	uint64_t entered_hw_cr3;     /* mmu=shadow: the arch.hw_cr3 the TLB last saw (a change flushes) */
	struct {                     /* mmu=shadow: a write unprotected and retried (shadow_emulate.c);
				      * unprotects goes back to 0 at an exit at another RIP (vcpu.c) */
		uint64_t rip, gva;
		unsigned int unprotects;
	} write_retry;
	/*
	 * mmu=shadow: write faults that come back at one RIP and address
	 * however many others come between them (an interrupt handler's):
	 * a few slots, replaced round robin (shadow_exits.c).
	 */
	struct {
		uint64_t rip, gva;
		unsigned int count;
	} write_faults[4];
	unsigned int write_faults_next;
	/*
	 * mmu=shadow: the paging state the last #PF walked with, and the
	 * control registers it was made from (shadow_exits.c): a fault under
	 * the same CR0, CR3, CR4 and EFER walks with it again.
	 */
	struct fault_paging {
		bool valid;
		uint64_t cr0, cr3, cr4, efer;
		struct guest_paging gp;
	} fault_paging;
	/* The scheduler's (virt/sched.c), on its pCPU: */
	struct vcpu *sched_next;     /* its pCPU's ring */
	bool sched_finished;         /* it will not run again */
	bool yield;                  /* it halted: the rest of its slice goes to another */
	bool in_barrier;             /* HC_BARRIER: waits until barrier_gen moves on */
	unsigned int barrier_gen;
#ifdef EXIT_BREAKDOWN
	struct vcpu_breakdown breakdown; /* make BREAKDOWN=1 (virt/breakdown.h) */
#endif
	struct vcpu_stats stats;
	bool done, failed;
	char fail_reason[200];

	/*
	 * HC_REPORT values: written by the vCPU's pCPU; the control CPU polls
	 * them with __atomic loads while the vCPU runs (stress/) and reads them
	 * plainly once vm_wait() has returned (ordered by cpu_work_wait()'s
	 * acquire), as it does done, failed and the stats above.
	 */
	uint64_t result[5];
};

struct memslot {
	/* Immutable after vm_create: */
	uint64_t base_gfn, npages;
	bool writable;
	uint64_t *chunk_pfn; /* host pfn of each 2 MiB chunk */

	/* Dirty logging (virt/dirty_log.c): */
	atomic_bool logging;         /* set and cleared by the control CPU */
	/*
	 * One bit per page, set by any CPU with fetch_or and taken by the
	 * control CPU with xchg, word by word. The pointer is stored with
	 * release by vm_dirty_log_enable, after the bitmap is zeroed, and read
	 * with acquire by vm_mark_dirty; NULL until logging is first enabled.
	 */
	_Atomic(_Atomic uint64_t *) dirty;
	unsigned int dirty_order;    /* the bitmap's allocation order */
};

/* What a VM asks of its MMU, whichever it is (virt/mmu.c makes the MMU's own config). */
struct vm_mmu_config {
	bool shadow;              /* mmu=shadow: no NPT/EPT, the guest's tables shadowed */
	unsigned int max_level;   /* mmu=tdp: largest page to map: 1 = 4 KiB, 2 = 2 MiB */
	bool split_lazy;          /* mmu=tdp: dirty logging leaves huge pages read-only */
	struct mmu_policy policy;
};

struct pc_guest; /* virt/pc.h */

struct vm_config {
	unsigned int nr_vcpus;
	uint64_t mem_bytes;       /* guest RAM from gpa 0, rounded up to 2 MiB */
	struct vm_mmu_config mmu;
	const uint8_t *image;     /* the guest program, loaded at GUEST_IMAGE_BASE */
	size_t image_len;
	uint64_t arg[4];          /* handed to the guest in its boot info */
	/*
	 * A PC guest instead (virt/pc.c): a kernel from outside, loaded by the
	 * multiboot loader, on a small PC; image and arg are unused.
	 */
	const struct pc_guest *pc;
	/*
	 * Several VMs launched together (sched_launch): this one is number
	 * place_index of place_count (0 and 0: alone), on the pCPUs all of
	 * them share (round robin on, across the VMs) or on a disjoint share
	 * of its own (place_split).
	 */
	unsigned int place_index, place_count;
	bool place_split;
	/* Where guest RAM comes from on a NUMA host (one node: anywhere). */
	enum vm_numa { VM_NUMA_LOCAL, VM_NUMA_INTERLEAVE, VM_NUMA_OFF } numa;
};

struct vm {
	/* Immutable after vm_create: */
	unsigned int id;
	struct vm_config cfg;
	struct memslot slots[VM_MAX_SLOTS];
	unsigned int nr_slots;
	struct tdp_mmu *mmu;        /* mmu=tdp */
	struct shadow_mmu *smmu;    /* mmu=shadow */
	struct vcpu *vcpus;         /* cfg.nr_vcpus of them */
	unsigned int vcpus_order;   /* their allocation's */
	struct pc_devices *dev;     /* a PC guest's devices (virt/dev/), else NULL */
	cpumask_t vcpu_pcpus;       /* the pCPUs its vCPUs run on (sched_place) */
	/* pcpu_vcpu_valid: at most one vCPU on each pCPU, all below 64; pcpu_vcpu[p] is p's. */
	bool pcpu_vcpu_valid;
	struct vcpu *pcpu_vcpu[64];
	/*
	 * Some slot logs dirty pages (virt/dirty_log.c): raised before the
	 * slots' own flags, lowered after them, by the control CPU. A write
	 * fault reads it (relaxed) to skip the slot lookup of
	 * vm_dirty_log_write_fault() when nothing logs; reading it "off"
	 * while a slot turns on is the race the slot flag alone already had.
	 */
	atomic_bool logging;
	/*
	 * Some slot has a dirty bitmap (it logged once): set by the control
	 * CPU before the first bitmap is published, never cleared.
	 * vm_mark_dirty() reads it first: without it every slot's bitmap is
	 * NULL, and the slot lookup would only find that out.
	 */
	atomic_bool dirty_bitmaps;
	atomic_uint pc_dead_halts;  /* vCPUs that nothing but another vCPU can wake (virt/pc_irq.c) */

	/* Cross-CPU: */
	atomic_bool stopping;      /* a vCPU failed: every vCPU leaves */
	atomic_uint barrier_count, barrier_gen; /* HC_BARRIER */
	atomic_uint vcpus_done;
	atomic_ulong remote_flushes, ipis_sent, ipis_avoided;
	atomic_ulong flush_seq;     /* one per remote flush; a vCPU flushes when it is past its served_flush_seq */
	/*
	 * kick=: a flush IPIs every target's pCPU first (virt/shootdown.c).
	 * Set by sched_place; scenario=tlb_shootdown changes it between its
	 * phases. Each flush reads it once, relaxed: either order is correct
	 * for any flush, whatever another flusher chose.
	 */
	atomic_bool kick_early;
	atomic_ulong shootdown_violations; /* a vCPU in the guest that missed a finished flush */
	atomic_ulong nmi_kicks;     /* NMIs sent because a kick IPI did not force an exit */
	atomic_bool unresponsive;  /* a vCPU stayed in the guest past VCPU_LEAVE_BOUND_MS */
	atomic_bool host_state_restored; /* a pCPU's CR/MSR state differed after a vCPU's last run */
	/*
	 * A PC guest ended itself (isa-debug-exit, or a halt that nothing can
	 * end): set once, by the vCPU that did it, before it stops the VM.
	 */
	atomic_bool guest_ended;
	_Atomic int guest_status;  /* QEMU's exit status for it ((V << 1) | 1), -1: halted */
};

struct vm *vm_create(const struct vm_config *cfg, char *err, size_t err_len);
void vm_destroy(struct vm *vm);
/* Run every vCPU on its pCPU until all are done or the VM stops; true if none failed. */
bool vm_run(struct vm *vm, unsigned int timeout_ms);
/* vm_run in two halves, for a control CPU that works while the guests run. */
void vm_start(struct vm *vm);
bool vm_wait(struct vm *vm, unsigned int timeout_ms);
/*
 * Several VMs launched together (sched_launch): wait until every vCPU of
 * each is done or its VM stopped (a VM past timeout_ms is stopped), then
 * until their pCPUs are idle. True if none failed. Destroy them after.
 */
bool vm_group_wait(struct vm *const *vms, unsigned int n, unsigned int timeout_ms);
/*
 * vm_wait with the control CPU's own work between its polls: beside(vm, ctx)
 * runs after each poll's smp_call_handle and quiescent state, until every
 * vCPU is done or the VM is stopping (the time-out and the stop's NMIs are
 * vm_wait's as ever). It decides itself whether this poll is its turn, and
 * returns soon: nothing serves smp_call or the time-out while it runs.
 */
typedef void (*vm_beside_fn)(struct vm *vm, void *ctx);
bool vm_wait_beside(struct vm *vm, unsigned int timeout_ms, vm_beside_fn beside, void *ctx);
/* Guest physical to hypervisor pointer, or NULL outside the memslots. */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);
