// SPDX-License-Identifier: MIT
/*
 * The pte_list protocol of mm/shadow/rmap.c, for spin: one writer (the
 * holder of shadow_lock) adds and removes entries on two heads' lists while
 * one lockless reader walks head 0's list. Descriptors come from a small
 * pool and may be reused at once, on either list, as the type-safe-by-RCU
 * cache allows; their fields are never cleared when freed.
 *
 * Property: entry P (1) is in head 0's list from before the walk to after
 * it, so the reader must see it (assert at the end of the walk). Its place
 * changes under the reader: removes move entries into holes.
 *
 *   spin -a pte_list.pml && cc -o pan pan.c && ./pan          holds
 *   spin -DBACKWARD_MOVE ...   the hole is filled from the tail: violated
 *   spin -DNO_NULLS_CHECK ...  the reader believes any chain's end: violated
 *
 * Every shared store and load is its own step, so spin interleaves them
 * all (sequential consistency: the barriers are the torture's business).
 */

#define EXT 2            /* entries per descriptor (PTE_LIST_EXT) */
#define NDESC 4          /* the descriptor pool */
#define NHEADS 2
#define P 1              /* the pinned entry, in head 0's list throughout */
#define DESC(d) (16 + (d))       /* head value: a descriptor */
#define IS_DESC(v) ((v) >= 16)
#define NULLS(h) (8 + (h))       /* next value: the end of head h's chain */
#define IS_NULLS(n) ((n) >= 8)
#define MAX_OPS 5        /* writer operations */

byte head[NHEADS];       /* 0: empty; 1..7: one entry inline; DESC(d) */
byte sptes[NDESC * EXT]; /* descriptor d's slot i: sptes[d * EXT + i]; 0: empty */
byte next[NDESC];        /* a descriptor index, or NULLS(h) */
byte count[NDESC];       /* writer only */
bool in_use[NDESC];      /* writer only: handed out by the cache */
bool reader_done;
bool seen_p;

/* Entries 2, 3 belong to head 0; 4, 5, 6 to head 1. */
#define HEAD_OF(e) ((e) <= 3 -> 0 : 1)

inline alloc_desc(d) {
	/* Any free descriptor: the cache may hand back the one just freed. */
	if
	:: !in_use[0] -> d = 0
	:: !in_use[1] -> d = 1
	:: !in_use[2] -> d = 2
	:: !in_use[3] -> d = 3
	fi;
	in_use[d] = true
}

/* pte_list_add(): a recycled descriptor is filled with a store per field, then published. */
inline add(h, e) {
	v = head[h];
	if
	:: v == 0 -> head[h] = e
	:: v != 0 && !IS_DESC(v) ->
		alloc_desc(d);
		sptes[d * EXT + 1] = e;
		sptes[d * EXT + 0] = v;
		next[d] = NULLS(h);
		count[d] = 2;
		head[h] = DESC(d)
	:: IS_DESC(v) && count[v - 16] < EXT ->
		first = v - 16;
		sptes[first * EXT + count[first]] = e;
		count[first]++
	:: IS_DESC(v) && count[v - 16] == EXT ->
		first = v - 16;
		alloc_desc(d);
		sptes[d * EXT + 1] = 0;
		sptes[d * EXT + 0] = e;
		next[d] = first;
		count[d] = 1;
		head[h] = DESC(d)
	fi
}

/* pte_list_remove(): find e, fill its hole, free the first descriptor once empty. */
inline remove(h, e) {
	v = head[h];
	if
	:: v == e -> head[h] = 0
	:: else ->
		first = v - 16;
		/* Find (d, i) holding e. */
		d = first;
		do
		:: i = 0;
			do
			:: i < count[d] && sptes[d * EXT + i] != e -> i++
			:: else -> break
			od;
			if
			:: i < count[d] -> break
			:: else -> d = next[d]
			fi
		od;
		j = count[first] - 1;
		moved = sptes[first * EXT + j];
#ifdef BACKWARD_MOVE
		/* Planted: fill the hole from the tail's slot 0, refill that from the first. */
		tail = first;
		do
		:: !IS_NULLS(next[tail]) -> tail = next[tail]
		:: else -> break
		od;
		if
		:: !(d == first && i == j) && !(d == tail && i == 0) ->
			sptes[d * EXT + i] = sptes[tail * EXT + 0];
			sptes[tail * EXT + 0] = moved;
			d = first;
			i = j
		:: else -> skip
		fi;
#endif
		if
		:: d != first || i != j -> sptes[d * EXT + i] = moved
		:: else -> skip
		fi;
		sptes[first * EXT + j] = 0;
		count[first]--;
		if
		:: count[first] == 0 ->
			if
			:: IS_NULLS(next[first]) -> head[h] = 0
			:: else -> head[h] = DESC(next[first])
			fi;
			in_use[first] = false
		:: else -> skip
		fi
	fi
}

bool present[7];

proctype writer()
{
	byte v, d, first, i, j, moved, tail, e, ops;

	do
	:: ops < MAX_OPS ->
		/* Pick an entry other than P; remove it if present, add it if not. */
		if
		:: e = 2
		:: e = 3
		:: e = 4
		:: e = 5
		:: e = 6
		fi;
		if
		:: present[e] -> remove(HEAD_OF(e), e); present[e] = false
		:: !present[e] -> add(HEAD_OF(e), e); present[e] = true
		fi;
		ops++
	:: ops == MAX_OPS -> break
	od
}

/* pte_list_walk_lockless() on head 0: each descriptor's entries top down, then next. */
proctype reader()
{
	byte v, d, i, e, n;

restart:
	v = head[0];
	if
	:: !IS_DESC(v) ->
		if
		:: v == P -> seen_p = true
		:: else -> skip
		fi;
		goto done
	:: else -> d = v - 16
	fi;
	do
	:: i = EXT;
		do
		:: i > 0 ->
			i--;
			e = sptes[d * EXT + i];
			if
			:: e == P -> seen_p = true
			:: else -> skip
			fi
		:: else -> break
		od;
		n = next[d];
		if
		:: IS_NULLS(n) -> break
		:: else -> d = n
		fi
	od;
#ifndef NO_NULLS_CHECK
	if
	:: n != NULLS(0) -> goto restart /* ended on another chain: start over */
	:: else -> skip
	fi;
#endif
done:
	reader_done = true;
	assert(seen_p)
}

/* Before both start: head 0 = P, 2, 3 (desc 1 = [3] -> desc 0 = [P, 2]); head 1 = 4, 5 (desc 2). */
init
{
	atomic {
		sptes[0 * EXT + 0] = P;
		sptes[0 * EXT + 1] = 2;
		next[0] = NULLS(0);
		count[0] = 2;
		in_use[0] = true;
		sptes[1 * EXT + 0] = 3;
		next[1] = 0;
		count[1] = 1;
		in_use[1] = true;
		head[0] = DESC(1);
		sptes[2 * EXT + 0] = 4;
		sptes[2 * EXT + 1] = 5;
		next[2] = NULLS(1);
		count[2] = 2;
		in_use[2] = true;
		head[1] = DESC(2);
		next[3] = NULLS(NHEADS); /* a never-used descriptor's nulls names no head (the ctor's) */
		present[2] = true;
		present[3] = true;
		present[4] = true;
		present[5] = true;
		run writer();
		run reader()
	}
}
