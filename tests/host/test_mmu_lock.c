// SPDX-License-Identifier: MIT
/*
 * Unit tests for mmu_lock (mm/mmu_lock.h): readers share it, a writer
 * excludes readers and writers, a waiting writer stops new readers, and
 * MM_DEBUG builds panic on a double acquire.
 */
#define _GNU_SOURCE
#include "mm/mmu_lock.h"
#include "tests/host/check.h"
#include "tests/host/expect_panic.h"
#include "tests/host/platform_host.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#define NR_CPUS 4
#define ROUNDS 20000

static struct mmu_lock lock;
static struct mmu_lock_cpu lock_cpus[PLATFORM_MAX_CPUS];

static void test_readers_share(void)
{
	mmu_lock_init(&lock, lock_cpus, platform_nr_cpus());
	host_cpu_enter(0);
	mmu_read_lock(&lock, 0);
	host_cpu_enter(1);
	mmu_read_lock(&lock, 1); /* a second reader gets in at once */
	CHECK(mmu_lock_held_read(&lock));
	CHECK(!mmu_lock_held_write(&lock));
	CHECK(!mmu_lock_writer_waiting(&lock));
	mmu_read_unlock(&lock, 1);
	CHECK(!mmu_lock_held_read(&lock));
	host_cpu_enter(0);
	CHECK(mmu_lock_held_read(&lock));
	mmu_read_unlock(&lock, 0);
	mmu_write_lock(&lock, 0);
	CHECK(mmu_lock_held_write(&lock) && mmu_lock_writer_waiting(&lock));
	host_cpu_enter(1);
	CHECK(!mmu_lock_held_write(&lock)); /* held by cpu 0, not by us */
	host_cpu_enter(0);
	mmu_write_unlock(&lock);
	CHECK(!mmu_lock_writer_waiting(&lock));
}

static atomic_int phase;

static void *writer_thread(void *arg)
{
	(void)arg;
	host_cpu_enter(1);
	atomic_store(&phase, 1);
	mmu_write_lock(&lock, 1); /* waits for cpu 0's read hold */
	atomic_store(&phase, 2);
	mmu_write_unlock(&lock);
	return NULL;
}

/* A writer waits for the readers inside, and stops new ones from entering. */
static void test_writer_waits_for_reader(void)
{
	pthread_t t;

	mmu_lock_init(&lock, lock_cpus, platform_nr_cpus());
	atomic_store(&phase, 0);
	host_cpu_enter(0);
	mmu_read_lock(&lock, 0);
	pthread_create(&t, NULL, writer_thread, NULL);
	while (atomic_load(&phase) == 0 || !mmu_lock_writer_waiting(&lock))
		sched_yield();
	usleep(20000);
	CHECK_EQ_U(atomic_load(&phase), 1); /* still waiting */
	mmu_read_unlock(&lock, 0);
	pthread_join(t, NULL);
	CHECK_EQ_U(atomic_load(&phase), 2);
}

/* Two words that a writer keeps equal; readers must never see them differ. */
static atomic_ulong word_a, word_b, torn, write_rounds;

static void *stress_thread(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;

	host_cpu_enter(cpu);
	for (unsigned int i = 0; i < ROUNDS; i++) {
		if (host_rand() % 8 == 0) {
			mmu_write_lock(&lock, cpu);
			atomic_store_explicit(&word_a, atomic_load_explicit(&word_a, memory_order_relaxed) + 1,
					      memory_order_relaxed);
			platform_torture_delay();
			atomic_store_explicit(&word_b, atomic_load_explicit(&word_b, memory_order_relaxed) + 1,
					      memory_order_relaxed);
			atomic_fetch_add(&write_rounds, 1);
			mmu_write_unlock(&lock);
		} else {
			mmu_read_lock(&lock, cpu);
			unsigned long a = atomic_load_explicit(&word_a, memory_order_relaxed);

			platform_torture_delay();
			if (atomic_load_explicit(&word_b, memory_order_relaxed) != a)
				atomic_fetch_add(&torn, 1);
			mmu_read_unlock(&lock, cpu);
		}
	}
	return NULL;
}

static void test_exclusion_under_stress(void)
{
	pthread_t t[NR_CPUS];

	mmu_lock_init(&lock, lock_cpus, platform_nr_cpus());
	for (uintptr_t i = 0; i < NR_CPUS; i++)
		pthread_create(&t[i], NULL, stress_thread, (void *)i);
	for (unsigned int i = 0; i < NR_CPUS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_U(atomic_load(&torn), 0);
	CHECK_EQ_U(atomic_load(&word_a), atomic_load(&write_rounds));
	CHECK_EQ_U(atomic_load(&word_b), atomic_load(&write_rounds));
	CHECK(atomic_load(&write_rounds) > 0);
}

static void double_read(void)
{
	mmu_lock_init(&lock, lock_cpus, platform_nr_cpus());
	host_cpu_enter(2);
	mmu_read_lock(&lock, 2);
	mmu_read_lock(&lock, 2);
}

static void double_write(void)
{
	mmu_lock_init(&lock, lock_cpus, platform_nr_cpus());
	host_cpu_enter(3);
	mmu_write_lock(&lock, 3);
	mmu_write_lock(&lock, 3);
}

static void test_double_acquire_panics(void)
{
	expect_panic(double_read, "mmu_lock: double read acquire on cpu 2");
	expect_panic(double_write, "mmu_lock: double write acquire on cpu 3");
}

int main(void)
{
	host_set_nr_cpus(NR_CPUS);
	RUN_TEST(test_readers_share);
	RUN_TEST(test_writer_waits_for_reader);
	RUN_TEST(test_exclusion_under_stress);
	RUN_TEST(test_double_acquire_panics);
	return check_summary("test_mmu_lock");
}
