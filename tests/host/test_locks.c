// SPDX-License-Identifier: MIT
/*
 * mm/lock.h on pthreads: mutual exclusion of spinlocks and of rwlock
 * writers, readers that really share, writers that cannot starve behind a
 * stream of readers, and the debug double-acquire panic.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mm/lock.h"
#include "tests/host/check.h"
#include "tests/host/platform_host.h"

#define THREADS 4
#define ROUNDS 100000

static spinlock_t spin = SPINLOCK_INIT("test");
static rwlock_t rw = RWLOCK_INIT("test");
static uint64_t plain_counter; /* guarded by spin, or by rw (W) */
static atomic_int readers_inside, writers_inside;
static atomic_ulong violations;

static void *spin_thread(void *arg)
{
	host_cpu_enter((unsigned int)(uintptr_t)arg);
	for (int i = 0; i < ROUNDS; i++) {
		spin_lock(&spin);
		plain_counter++;
		spin_unlock(&spin);
	}
	return NULL;
}

static void test_spinlock_excludes(void)
{
	pthread_t t[THREADS];

	host_set_nr_cpus(THREADS);
	plain_counter = 0;
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, spin_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_U(plain_counter, (uint64_t)THREADS * ROUNDS);
	CHECK(!spin_is_locked(&spin));
}

static void *rw_thread(void *arg)
{
	unsigned int cpu = (unsigned int)(uintptr_t)arg;

	host_cpu_enter(cpu);
	for (int i = 0; i < ROUNDS / 4; i++) {
		if (host_rand() % 8 == 0) {
			write_lock(&rw);
			if (atomic_fetch_add(&writers_inside, 1) != 0 || atomic_load(&readers_inside))
				atomic_fetch_add(&violations, 1);
			plain_counter++;
			atomic_fetch_sub(&writers_inside, 1);
			write_unlock(&rw);
		} else {
			read_lock(&rw);
			atomic_fetch_add(&readers_inside, 1);
			if (atomic_load(&writers_inside))
				atomic_fetch_add(&violations, 1);
			for (volatile int spin_wait = 0; spin_wait < 50; spin_wait++)
				;
			atomic_fetch_sub(&readers_inside, 1);
			read_unlock(&rw);
		}
	}
	return NULL;
}

static void test_rwlock_excludes_writers(void)
{
	pthread_t t[THREADS];

	host_set_nr_cpus(THREADS);
	plain_counter = 0;
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, rw_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_U(atomic_load(&violations), 0);
	CHECK_EQ_U(atomic_load(&rw.write_acquires), plain_counter);
	CHECK(!rwlock_is_read_locked(&rw) && !rwlock_is_write_locked(&rw));
}

/* Two readers inside at once: each waits, holding the lock, for the other. */
static atomic_int sharing_readers;

static void *sharing_reader(void *arg)
{
	bool met = false;

	host_cpu_enter((unsigned int)(uintptr_t)arg);
	read_lock(&rw);
	atomic_fetch_add(&sharing_readers, 1);
	for (long i = 0; i < 2000000000L && !met; i++) {
		met = atomic_load(&sharing_readers) == 2;
		platform_relax();
	}
	read_unlock(&rw);
	return (void *)(uintptr_t)met;
}

static void test_readers_share(void)
{
	pthread_t t[2];
	void *met[2];

	host_set_nr_cpus(2);
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, sharing_reader, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &met[i]);
	CHECK(met[0] && met[1]);
}

/* A writer waiting for a reader blocks new readers (no writer starvation). */
static void *late_writer(void *arg)
{
	(void)arg;
	host_cpu_enter(1);
	write_lock(&rw);
	write_unlock(&rw);
	return NULL;
}

static void test_waiting_writer_blocks_new_readers(void)
{
	pthread_t w;
	rwlock_t *l = &rw;

	host_set_nr_cpus(2);
	host_cpu_enter(0);
	read_lock(l);
	pthread_create(&w, NULL, late_writer, NULL);
	while (!(atomic_load(&l->state) & RWLOCK_WRITER))
		platform_relax();
	/* The writer holds its claim; a new reader would have to wait now. */
	CHECK(atomic_load(&l->state) == (RWLOCK_WRITER | 1));
	read_unlock(l);
	pthread_join(w, NULL);
	CHECK_EQ_U(atomic_load(&l->state), 0);
}

static void test_double_acquire_panics(void)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		host_set_nr_cpus(1);
		host_cpu_enter(0);
		spin_lock(&spin);
		spin_lock(&spin); /* MM_DEBUG: panics instead of spinning forever */
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status));
}

int main(void)
{
	RUN_TEST(test_spinlock_excludes);
	RUN_TEST(test_rwlock_excludes_writers);
	RUN_TEST(test_readers_share);
	RUN_TEST(test_waiting_writer_blocks_new_readers);
	RUN_TEST(test_double_acquire_panics);
	return check_summary("locks");
}
