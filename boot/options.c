// SPDX-License-Identifier: MIT
#include "boot/options.h"

static const char *const scenario_choices[] = { "none", "rcu_torture", "hello", "guest_fault",
						 "demand_paging", "tlb_shootdown", "zap_stress",
						 "dirty_log", "access_tracking", "shadow_pt",
						 "guest_fuzz", "guest", "isolation", "rcu_guest", NULL };
static const char *const apic_choices[] = { "auto", "xapic", "x2apic", NULL };
static const char *const crash_choices[] = { "none", "ud", "pf", "gp", NULL };
static const char *const plant_choices[] = { "none", "rcu_early_free", "shootdown_skip",
					     "dirty_log_miss", "age_no_flush", "cross_vm", "kick_all",
					     NULL };
static const char *const virt_choices[] = { "auto", "svm", "vmx", NULL };
static const char *const mmu_lock_choices[] = { "shared", "exclusive", NULL };
static const char *const flush_choices[] = { "batched", "eager", NULL };
static const char *const mmu_choices[] = { "tdp", "shadow", NULL };
static const char *const io_choices[] = { "pc", "strict", NULL };
static const char *const beside_choices[] = { "none", "dirty_log", "dirty_log_locked", "age",
					      "age_locked", NULL };
static char guest_str[128], guest_args_str[200], guest_modules_str[200], console_str[160];
static const char *const end_choices[] = { "poweroff", "reboot", "halt", NULL };
static const char *const numa_choices[] = { "local", "interleave", "off", NULL };
static const char *const placement_choices[] = { "shared", "split", NULL };
static const char *const kick_choices[] = { "auto", "guest", "early", NULL }; /* enum flush_kick */
static const char *const fault_choices[] = { "wild", "triple", "hypercall", "virt_insn", "io",
					     "print", "pt_rmw", "cr4", "irq_off", "pt_race",
					     "straddle", "alias", "cr8", "cr_walk",
					     "iret_nt", "stale_read", "pf_loop", "idt_empty", NULL };

_Static_assert(sizeof(scenario_choices) / sizeof(scenario_choices[0]) == SCENARIO_COUNT + 1,
	       "every scenario_id needs a name, and stress/scenario.c a runner");

const struct opt_desc boot_option_table[OPTION_COUNT] = {
	[OPTION_SCENARIO] = { .name = "scenario", .type = OPT_ENUM,
			      .choices = scenario_choices, .def = SCENARIO_NONE,
			      .help = "the stress scenario to run (one per boot)" },
	[OPTION_CPUS] = { .name = "cpus", .type = OPT_UINT, .min = 1, .max = PLATFORM_MAX_CPUS,
			  .def = PLATFORM_MAX_CPUS,
			  .help = "bring up at most this many CPUs (the BSP included)" },
	[OPTION_APIC] = { .name = "apic", .type = OPT_ENUM, .choices = apic_choices,
			  .def = APIC_MODE_AUTO,
			  .help = "local APIC mode: x2APIC whenever the CPU has it, or forced" },
	[OPTION_CRASH] = { .name = "crash", .type = OPT_ENUM, .choices = crash_choices,
			   .def = CRASH_NONE,
			   .help = "fault on the last CPU on purpose, to test the exception path" },
	[OPTION_DURATION_MS] = { .name = "duration_ms", .type = OPT_UINT, .min = 10,
				 .max = 3600000, .def = 1000,
				 .help = "how long a timed scenario (rcu_torture) runs" },
	[OPTION_PLANT] = { .name = "plant", .type = OPT_ENUM, .choices = plant_choices,
			   .def = PLANT_NONE,
			   .help = "plant a known bug, to show the scenario's checks catch it" },
	[OPTION_VIRT] = { .name = "virt", .type = OPT_ENUM, .choices = virt_choices,
			  .def = VIRT_AUTO,
			  .help = "the virtualization backend: SVM on AMD, VMX on Intel" },
	[OPTION_VCPUS] = { .name = "vcpus", .type = OPT_UINT, .min = 0, .max = OPTION_VCPUS_MAX, .def = 0,
			   .help = "vCPUs, placed round robin on the pCPUs besides the control CPU (0: one on each)" },
	[OPTION_MEM_PER_VCPU] = { .name = "mem_per_vcpu", .type = OPT_SIZE, .min = 1ull << 16,
				  .max = 1ull << 30, .def = 4ull << 20,
				  .help = "guest memory each vCPU works on" },
	[OPTION_MMU_LOCK] = { .name = "mmu_lock", .type = OPT_ENUM, .choices = mmu_lock_choices,
			      .def = MMU_LOCK_SHARED,
			      .help = "faults under mmu_lock for read (shared) or write (exclusive)" },
	[OPTION_FLUSH] = { .name = "flush", .type = OPT_ENUM, .choices = flush_choices,
			   .def = FLUSH_BATCHED,
			   .help = "remote TLB flushes: one per zap (batched) or per table (eager)" },
	[OPTION_FAULT] = { .name = "fault", .type = OPT_ENUM, .choices = fault_choices,
			   .def = FAULT_WILD,
			   .help = "scenario=guest_fault: what the guest does wrong" },
	[OPTION_OVERLAP] = { .name = "overlap", .type = OPT_BOOL, .def = 0,
			     .help = "demand_paging: every vCPU works on one shared region" },
	[OPTION_ITERATIONS] = { .name = "iterations", .type = OPT_UINT, .min = 1, .max = 100000,
				.def = 10, .help = "rounds of a round-based scenario (dirty_log)" },
	[OPTION_MANUAL_PROTECT] = { .name = "manual_protect", .type = OPT_BOOL, .def = 1,
				    .help = "dirty_log: get and clear the log in separate calls" },
	[OPTION_MMU] = { .name = "mmu", .type = OPT_ENUM, .choices = mmu_choices, .def = MMU_TDP,
			 .help = "two-dimensional paging (NPT/EPT) or shadow paging" },
	[OPTION_SEED] = { .name = "seed", .type = OPT_UINT, .min = 0, .max = 0xffffffffull,
			  .def = 1, .help = "guest_fuzz: the seed every round's own seed comes from" },
	[OPTION_ROUNDS] = { .name = "rounds", .type = OPT_UINT, .min = 1, .max = 1000000,
			    .def = 20, .help = "guest_fuzz: rounds, each a fresh VM" },
	[OPTION_LONG_MS] = { .name = "long_ms", .type = OPT_UINT, .min = 0, .max = 60000,
			     .def = 1000,
			     .help = "guest_fuzz: a long round's time budget (3 rounds in 4; 0: none long)" },
	[OPTION_GUEST] = { .name = "guest", .type = OPT_STRING, .str = guest_str,
			   .str_size = sizeof(guest_str),
			   .help = "scenario=guest: the GRUB modules (by command line) to run, one VM each, comma-separated" },
	[OPTION_GUEST_ARGS] = { .name = "guest_args", .type = OPT_STRING, .str = guest_args_str,
				.str_size = sizeof(guest_args_str),
				.help = "scenario=guest: the guest kernel's own command line" },
	[OPTION_GUEST_MODULES] = { .name = "guest_modules", .type = OPT_STRING,
				   .str = guest_modules_str, .str_size = sizeof(guest_modules_str),
				   .help = "scenario=guest: GRUB modules handed to the guest as its modules, comma-separated (default NAME.1, NAME.2, ...)" },
	[OPTION_MEM] = { .name = "mem", .type = OPT_SIZE, .min = 4ull << 20, .max = 3ull << 30,
			 .def = 256ull << 20, .help = "scenario=guest: guest RAM" },
	[OPTION_IO] = { .name = "io", .type = OPT_ENUM, .choices = io_choices, .def = IO_PC,
			.help = "scenario=guest: a port without a device reads all ones (pc) or stops the VM (strict)" },
	[OPTION_GUEST_TIMEOUT_MS] = { .name = "guest_timeout_ms", .type = OPT_UINT, .min = 100,
				      .max = 3600000, .def = 120000,
				      .help = "scenario=guest: stop a guest still running after this long" },
	[OPTION_BESIDE] = { .name = "beside", .type = OPT_ENUM, .choices = beside_choices,
			    .def = GUEST_BESIDE_NONE,
			    .help = "scenario=guest: beside a PC guest, migration's dirty-log rounds or aging rounds (_locked: wp=locked, age=locked)" },
	[OPTION_CONSOLE] = { .name = "console", .type = OPT_STRING, .str = console_str,
			     .str_size = sizeof(console_str),
			     .help = "UARTs joined by +: com1..com4, uart,io=PORT, uart,mmio=ADDR, uart,mmio32=ADDR, each with ,baud=N (default com1 at 115200)" },
	[OPTION_END] = { .name = "end", .type = OPT_ENUM, .choices = end_choices, .def = END_POWEROFF,
			 .help = "after the run: power off (and exit an emulator), reset the machine, or halt" },
	[OPTION_NUMA] = { .name = "numa", .type = OPT_ENUM, .choices = numa_choices, .def = 0,
			  .help = "guest RAM on a NUMA host: from its vCPUs' nodes, round robin, or from the control CPU's" },
	[OPTION_PIN] = { .name = "pin", .type = OPT_BOOL, .def = 0,
			 .help = "one vCPU per pCPU, as before the scheduler: more vCPUs than pCPUs is an error" },
	[OPTION_TIMESLICE_US] = { .name = "timeslice_us", .type = OPT_UINT, .min = 50, .max = 1000000,
				  .def = OPTION_TIMESLICE_US_DEFAULT,
				  .help = "how long a vCPU runs before another on its pCPU gets a turn" },
	[OPTION_VMS] = { .name = "vms", .type = OPT_UINT, .min = 0, .max = 16, .def = 0,
			 .help = "isolation, demand_paging: how many VMs run side by side (0: 3 for isolation, 1 for demand_paging)" },
	[OPTION_PLACEMENT] = { .name = "placement", .type = OPT_ENUM, .choices = placement_choices,
			       .def = PLACEMENT_SHARED,
			       .help = "several VMs: all on the same pCPUs, or each on its own share" },
	[OPTION_KICK] = { .name = "kick", .type = OPT_ENUM, .choices = kick_choices, .def = 0,
			  .help = "remote flushes IPI the vCPUs found in guest mode, or every target pCPU first (auto: first where the VM has its pCPUs to itself)" },
};

uint64_t boot_options[OPTION_COUNT];

const char *option_choice_name(enum boot_option o)
{
	return boot_option_table[o].choices[boot_options[o]];
}

const char *option_str(enum boot_option o)
{
	return boot_option_table[o].str;
}

bool options_parse(const char *cmdline, char *err, size_t err_len)
{
	return cmdline_parse(cmdline, boot_option_table, OPTION_COUNT, boot_options, err,
			     err_len);
}

void options_format(char *buf, size_t len)
{
	cmdline_format(boot_option_table, OPTION_COUNT, boot_options, buf, len);
}
