// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the guest page-table walker (mm/shadow/walker.c) on any
 * entries, in 4-level, PAE and 32-bit paging and with paging off, under any
 * paging controls, against the SDM's rules in tests/host/walker_ref.h (the
 * reference test_shadow_walker.c checks it with, extended by the reserved
 * bits, leaves and frames). The entries are arbitrary: reserved bits, PS
 * anywhere, tables that are the walk's own earlier tables (loops, an entry
 * used at two levels), addresses outside the fake guest memory.
 *
 * The oracle: the walker and a model built from the reference agree on the
 * outcome (allowed, #PF with its error code, or no memory at a gpa), the
 * translation (level, frame, rights, and each level's entry, address and
 * table), the retries, and every byte of guest memory afterwards. The model
 * follows walker.h's contract for A/D: a walk the reference allows sets A
 * in each entry used (not a PAE PDPTE), top down, then D in the leaf for a
 * write, each only if the entry still holds what the walk read, else the
 * walk starts over; a walk that faults sets nothing. A racing guest may
 * flip bits of one 8-byte word once, just before the first A/D update that
 * touches it (its own entry's bits: the walk starts over; only a 32-bit
 * neighbour's: the update keeps them). The walk must never give up
 * (GUEST_WALK_RETRY): nothing races it more than once.
 *
 * Input (short inputs read as zeros):
 *   0      bits 0-1 mode: 4-level, PAE, 32-bit, off; bit 2 PAE PDPTEs loaded
 *   1      CR0.WP, EFER.NXE, CR4.SMEP, CR4.SMAP, RFLAGS.AC, CR4.PSE (bits 0-5)
 *   2      who (% 3: CPL 0, CPL 3, CPL 3 implicit) and what (/ 3 % 3: read,
 *          write, fetch)
 *   3      MAXPHYADDR: 36 + (% 17)
 *   4-11   the gva
 *   12     CR3's table: frame (% (FAKE_FRAMES + 2): the last two outside memory)
 *   13-14  CR3 bits 11:0 (PAE: which 32 bytes of the frame hold the PDPTEs)
 *   15-22  every other 8 bytes of guest memory
 *   23     the racing guest's level (1-4; else none): the 8 bytes holding
 *          the entry written for that level
 *   24-31  the bits it flips there
 *   32-    each level's entry, top down, 9 bytes: a control byte and the
 *          value (32-bit paging: its low 4 bytes). Control bit 0: replace
 *          the address bits with frame (bits 7:1 % (FAKE_FRAMES + 2)) << 12.
 *          Each is written where the walk will read it, given the entries
 *          above it (a later one may land on an earlier one: then memory
 *          holds the later); with the PDPTEs loaded, the PDPTE goes to the
 *          register instead, and memory keeps the background. The levels
 *          past the input's end are not written.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/host/walker_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAKE_FRAMES 8
#define FAKE_WORDS (FAKE_FRAMES * 512)
#define FAKE_BYTES (FAKE_FRAMES * 4096ULL)
#define ENTRY_BYTES 9
#define HEADER_BYTES 32

static uint64_t walker_mem[FAKE_WORDS]; /* what the walker reads and writes */
static uint64_t model_mem[FAKE_WORDS];  /* what the model reads and writes */

/* The racing guest, once for each side: flip bits in the word at gpa. */
struct race {
	uint64_t gpa, bits;
	bool armed;
};

static struct race walker_race, model_race;

static void race_run(struct race *race, uint64_t *m, uint64_t gpa)
{
	if (race->armed && gpa == race->gpa) {
		m[gpa / 8] ^= race->bits;
		race->armed = false;
	}
}

/* Fake guest memory: FAKE_FRAMES frames from gpa 0 (ctx), nothing above. */
static enum guest_mem_result fake_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	uint64_t *m = ctx;

	if (gpa % 8)
		abort(); /* the walker reads aligned 8 bytes */
	if (gpa >= FAKE_BYTES)
		return GUEST_MEM_NO_SLOT;
	*val = m[gpa / 8];
	return GUEST_MEM_OK;
}

static enum guest_mem_result fake_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	uint64_t *m = ctx;

	if (gpa % 8)
		abort();
	if (gpa >= FAKE_BYTES)
		return GUEST_MEM_NO_SLOT;
	race_run(&walker_race, m, gpa);
	if (m[gpa / 8] != old)
		return GUEST_MEM_CHANGED;
	m[gpa / 8] = new_val;
	return GUEST_MEM_OK;
}

/* The input, read as zeros past its end. */
struct input {
	const uint8_t *data;
	size_t size;
};

static uint64_t in_bytes(const struct input *in, size_t at, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		if (at + i < in->size)
			v |= (uint64_t)in->data[at + i] << (8 * i);
	return v;
}

/* --- the model: the reference's walk, over model_mem ------------------------- */

struct model {
	const struct guest_paging *gp;
	unsigned int maxphyaddr;
	uint64_t la;
	uint32_t access;
	enum ref_kind kind;
	enum ref_mode who;
};

struct model_walk {
	enum guest_walk_result result;
	uint32_t error;
	uint64_t no_slot_gpa;
	unsigned int level, retries, access;
	uint64_t gfn;
	uint64_t pte[5], pte_gpa[5], table[5];
	unsigned int pt_access[5];
};

static bool narrow(const struct model *m)
{
	return m->gp->mode == GUEST_PAGING_32BIT;
}

/* The entry at gpa: 8 bytes, or 4 (32-bit paging), zero-extended. */
static bool model_read(const struct model *m, uint64_t gpa, uint64_t *pte)
{
	if (gpa >= FAKE_BYTES)
		return false;
	if (!narrow(m)) {
		*pte = model_mem[gpa / 8];
		return true;
	}
	*pte = (uint32_t)(model_mem[gpa / 8] >> (gpa & 4) * 8);
	return true;
}

/* Store an entry: 8 bytes, or (32-bit paging) 4 in their half of the 8 at gpa & ~7. */
static void entry_store(uint64_t *mem, bool four_bytes, uint64_t gpa, uint64_t pte)
{
	uint64_t *q = &mem[gpa / 8];
	unsigned int sh = (gpa & 4) * 8;

	if (!four_bytes)
		*q = pte;
	else
		*q = (*q & ~(0xffffffffULL << sh)) | (pte & 0xffffffffULL) << sh;
}

/* The rights (ACC_*) of one present entry below the PDPTE (SDM 4.6.1: AND over the levels). */
static unsigned int model_acc(const struct model *m, uint64_t pte)
{
	bool xd = !narrow(m) && m->gp->nx && (pte & X86_PTE_NX);

	return (pte & X86_PTE_RW ? ACC_WRITE : 0) | (pte & X86_PTE_US ? ACC_USER : 0) |
	       (xd ? 0 : ACC_EXEC);
}

/* One pass: read top down to the leaf or the first entry that ends the walk; ask ref_expect. */
static void model_pass(const struct model *m, struct model_walk *mw)
{
	const struct guest_paging *gp = m->gp;
	enum guest_paging_mode paging = gp->mode;
	struct ref_case c = { .paging = paging, .wp = gp->wp, .nxe = gp->nx, .smep = gp->smep,
			      .smap = gp->smap, .ac = gp->ac, .pse = gp->pse, .mode = m->who,
			      .kind = m->kind };
	uint64_t table = ref_root_table(paging, gp->cr3, m->maxphyaddr), pte = 0;
	unsigned int level, acc = ACC_ALL;
	uint32_t want;

	for (level = ref_top_level(paging); level >= 1; level--) {
		uint64_t gpa = ref_entry_gpa(paging, table, m->la, level);
		bool leaf;

		mw->table[level] = table;
		mw->pte_gpa[level] = gpa;
		mw->pt_access[level] = acc;
		if (paging == GUEST_PAGING_PAE && level == 3 && gp->pdptes_loaded) {
			pte = gp->pdpte[(m->la >> 30) & 3];
		} else if (!model_read(m, gpa, &pte)) {
			mw->result = GUEST_WALK_NO_SLOT;
			mw->no_slot_gpa = gpa;
			return;
		}
		mw->pte[level] = pte;
		c.leaf_level = level;
		if (!(pte & X86_PTE_P)) {
			c.first_absent = level;
			break;
		}
		leaf = ref_is_leaf(paging, gp->pse, level, pte);
		c.rw[level] = pte & X86_PTE_RW;
		c.us[level] = pte & X86_PTE_US;
		c.xd[level] = !narrow(m) && (pte & X86_PTE_NX);
		c.rsvd[level] = pte & ref_rsvd_mask(paging, m->maxphyaddr, level, leaf);
		/* XD without NXE is reserved too (ref_expect's rule): the walk reads no further. */
		if (c.rsvd[level] || (c.xd[level] && !gp->nx))
			break;
		if (!(paging == GUEST_PAGING_PAE && level == 3))
			acc &= model_acc(m, pte);
		if (leaf)
			break;
		table = ref_next_table(paging, pte);
	}
	want = ref_expect(&c);
	if (want != REF_ALLOWED) {
		mw->result = GUEST_WALK_FAULT;
		mw->error = want;
		return;
	}
	mw->result = GUEST_WALK_OK;
	mw->level = level;
	mw->access = acc;
	mw->gfn = ref_leaf_gfn(paging, level, pte, m->la);
}

/*
 * walker.h's contract: A top down (no PDPTE), D in the leaf; an entry
 * changed since the pass read it: the walk starts over.
 */
static void model_walk(const struct model *m, struct model_walk *mw)
{
	memset(mw, 0, sizeof(*mw));
	if (m->gp->mode == GUEST_PAGING_OFF) {
		mw->result = GUEST_WALK_OK;
		mw->level = 1;
		mw->access = ACC_ALL;
		mw->gfn = m->la >> 12;
		return;
	}
	for (;;) {
		bool changed = false;

		model_pass(m, mw);
		if (mw->result != GUEST_WALK_OK)
			return;
		for (unsigned int level = ref_top_level(m->gp->mode); level >= mw->level; level--) {
			uint64_t want = mw->pte[level] | X86_PTE_A, now;

			if (m->gp->mode == GUEST_PAGING_PAE && level == 3)
				continue;
			if (level == mw->level && m->kind == REF_WRITE)
				want |= X86_PTE_D;
			if (want == mw->pte[level])
				continue;
			race_run(&model_race, model_mem, mw->pte_gpa[level] & ~7ULL);
			if (!model_read(m, mw->pte_gpa[level], &now))
				abort(); /* it was read a moment ago */
			if (now != mw->pte[level]) {
				changed = true;
				break;
			}
			entry_store(model_mem, narrow(m), mw->pte_gpa[level], want);
			mw->pte[level] = want;
		}
		if (!changed)
			return;
		if (++mw->retries > GUEST_WALK_MAX_RETRIES) {
			mw->result = GUEST_WALK_RETRY;
			return;
		}
	}
}

/* --- building the tables from the input -------------------------------------- */

/* Frame n's gpa; the last two lie just past guest memory. */
static uint64_t frame_gpa(unsigned int n)
{
	return (uint64_t)(n % (FAKE_FRAMES + 2)) << 12;
}

/*
 * Each level's entry, written where the walk will read it given the ones
 * above; the racing guest aims at the word of the level it names.
 */
static void plant(const struct input *in, struct guest_paging *gp, unsigned int maxphyaddr,
		  uint64_t la)
{
	unsigned int race_level = (unsigned int)in_bytes(in, 23, 1);
	enum guest_paging_mode paging = gp->mode;
	uint64_t table = ref_root_table(paging, gp->cr3, maxphyaddr);
	uint64_t addr_bits = paging == GUEST_PAGING_32BIT ? ref_bits(12, 31) : ref_bits(12, 51);
	size_t at = HEADER_BYTES;

	for (unsigned int level = ref_top_level(paging); level >= 1 && at < in->size;
	     level--, at += ENTRY_BYTES) {
		uint8_t ctl = (uint8_t)in_bytes(in, at, 1);
		uint64_t pte = in_bytes(in, at + 1, 8);
		uint64_t gpa = ref_entry_gpa(paging, table, la, level);

		if (level == race_level)
			walker_race = (struct race){ gpa & ~7ULL, in_bytes(in, 24, 8), true };
		if (ctl & 1)
			pte = (pte & ~addr_bits) | frame_gpa(ctl >> 1);
		if (paging == GUEST_PAGING_32BIT)
			pte &= 0xffffffffULL;
		if (paging == GUEST_PAGING_PAE && level == 3 && gp->pdptes_loaded)
			gp->pdpte[(la >> 30) & 3] = pte;
		else if (gpa < FAKE_BYTES)
			entry_store(walker_mem, paging == GUEST_PAGING_32BIT, gpa, pte);
		table = ref_next_table(paging, pte);
	}
}

/* --- the check ---------------------------------------------------------------- */

static void check(const struct model *m, enum guest_walk_result r, const struct guest_walk *w,
		  const struct model_walk *mw)
{
	unsigned int top = ref_top_level(m->gp->mode);

	if (r == GUEST_WALK_RETRY || r != mw->result)
		abort();
	if (memcmp(walker_mem, model_mem, sizeof(walker_mem)))
		abort(); /* A/D where the contract puts them, and nowhere else */
	if (w->mode != m->gp->mode || w->root_level != (m->gp->mode == GUEST_PAGING_OFF ? 0 : top))
		abort();
	switch (r) {
	case GUEST_WALK_FAULT:
		if (w->error != mw->error || w->retries != mw->retries)
			abort();
		/* Whatever the model says: RSVD only with P, I/D only for a fetch. */
		if ((w->error & PFERR_RSVD) && !(w->error & PFERR_PRESENT))
			abort();
		if ((w->error & PFERR_FETCH) && m->kind != REF_FETCH)
			abort();
		break;
	case GUEST_WALK_NO_SLOT:
		if (w->no_slot_gpa != mw->no_slot_gpa || w->no_slot_gpa < FAKE_BYTES)
			abort();
		break;
	case GUEST_WALK_OK:
		if (w->level != mw->level || w->gfn != mw->gfn || w->access != mw->access ||
		    w->retries != mw->retries)
			abort();
		if (m->gp->mode == GUEST_PAGING_OFF)
			break;
		for (unsigned int level = top; level >= w->level; level--)
			if (w->pte[level] != mw->pte[level] ||
			    w->pte_gpa[level] != mw->pte_gpa[level] ||
			    w->table_gfn[level] != mw->table[level] >> 12 ||
			    w->pt_access[level] != mw->pt_access[level])
				abort();
		break;
	case GUEST_WALK_RETRY:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum guest_paging_mode modes[] = { GUEST_PAGING_4LEVEL, GUEST_PAGING_PAE,
							GUEST_PAGING_32BIT, GUEST_PAGING_OFF };
	struct input in = { data, size };
	uint8_t mode = (uint8_t)in_bytes(&in, 0, 1), ctl = (uint8_t)in_bytes(&in, 1, 1);
	uint8_t who = (uint8_t)in_bytes(&in, 2, 1);
	struct guest_mem mem = { .read = fake_read, .cmpxchg = fake_cmpxchg, .ctx = walker_mem };
	struct guest_paging gp = { 0 };
	uint64_t background = in_bytes(&in, 15, 8), gva = in_bytes(&in, 4, 8);
	struct model m = { .gp = &gp };
	struct model_walk mw;
	enum guest_walk_result r;
	struct guest_walk w;

	gp.mode = modes[mode & 3];
	gp.pdptes_loaded = mode & 4;
	gp.wp = ctl & 1, gp.nx = ctl & 2, gp.smep = ctl & 4, gp.smap = ctl & 8, gp.ac = ctl & 16;
	gp.pse = ctl & 32;
	m.who = who % 3;
	m.kind = who / 3 % 3;
	gp.cpl = m.who == REF_CPL0 ? 0 : 3;
	m.access = (m.kind == REF_WRITE ? PFERR_WRITE : 0) |
		   (m.kind == REF_FETCH ? PFERR_FETCH : 0) |
		   (m.who == REF_CPL3_USER ? PFERR_USER : 0);
	m.maxphyaddr = 36 + in_bytes(&in, 3, 1) % 17;
	gp.cr3 = frame_gpa((unsigned int)in_bytes(&in, 12, 1)) | (in_bytes(&in, 13, 2) & 0xfff);
	m.la = ref_linear(gp.mode, gva);
	for (unsigned int i = 0; i < 4; i++)
		gp.pdpte[i] = background;

	for (unsigned int i = 0; i < FAKE_WORDS; i++)
		walker_mem[i] = background;
	walker_race.armed = false;
	if (gp.mode != GUEST_PAGING_OFF)
		plant(&in, &gp, m.maxphyaddr, m.la);
	memcpy(model_mem, walker_mem, sizeof(model_mem));
	model_race = walker_race;

	memset(&w, 0xa5, sizeof(w)); /* nothing read from it before the walker writes it */
	r = guest_walk(&mem, &gp, m.maxphyaddr, gva, m.access, &w);
	model_walk(&m, &mw);
	check(&m, r, &w, &mw);
	return 0;
}
