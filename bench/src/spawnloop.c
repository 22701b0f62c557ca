/*
 * spawnloop: run one command N times in a row and report how long that took.
 *
 *   spawnloop [-n N] [-e NAME=VALUE]... [-u NAME]... [-i FILE] -- PROGRAM ARG...
 *
 * The benchmark driver for bench/run.py. It exists so that the harness costs
 * almost nothing next to what it measures: each run is one posix_spawn (glibc
 * uses clone(CLONE_VM|CLONE_VFORK)) and one wait4, with no shell in between.
 *
 *   -n N          run the command N times (default 1)
 *   -e NAME=VAL   set NAME in the children's environment (not in our own)
 *   -u NAME       remove NAME from the children's environment
 *   -i FILE       children read stdin from FILE (default /dev/null)
 *
 * The children's stdout goes to /dev/null; stderr is kept, so a tracer that
 * breaks the program is visible. Any run that does not exit 0 makes spawnloop
 * exit 2 after the loop.
 *
 * Output, one line on stdout:
 *   <total_ns> <runs> <maxrss_median_kib> <maxrss_max_kib> <failures> <cpu_ns>
 * where maxrss comes from wait4's rusage (the child's peak resident set) and
 * cpu_ns is the user + system CPU time of all the children (and theirs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int name_matches(const char *entry, const char *name) {
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

int main(int argc, char **argv) {
    long n = 1;
    const char *stdin_path = "/dev/null";
    char **sets = calloc((size_t)argc, sizeof *sets);
    char **unsets = calloc((size_t)argc, sizeof *unsets);
    int nsets = 0, nunsets = 0, i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (i + 1 >= argc) goto usage;
        if (strcmp(argv[i], "-n") == 0) n = atol(argv[++i]);
        else if (strcmp(argv[i], "-e") == 0) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "-u") == 0) unsets[nunsets++] = argv[++i];
        else if (strcmp(argv[i], "-i") == 0) stdin_path = argv[++i];
        else goto usage;
    }
    if (i >= argc || n < 1) goto usage;
    char **cmd = argv + i;

    /* The children's environment: ours, minus -u names and names set by -e. */
    size_t nenv = 0;
    while (environ[nenv]) nenv++;
    char **env = calloc(nenv + (size_t)nsets + 1, sizeof *env);
    size_t k = 0;
    for (size_t j = 0; j < nenv; j++) {
        int drop = 0;
        for (int u = 0; u < nunsets && !drop; u++) drop = name_matches(environ[j], unsets[u]);
        for (int s = 0; s < nsets && !drop; s++) {
            char name[256];
            const char *eq = strchr(sets[s], '=');
            size_t len = eq ? (size_t)(eq - sets[s]) : strlen(sets[s]);
            if (len >= sizeof name) continue;
            memcpy(name, sets[s], len);
            name[len] = 0;
            drop = name_matches(environ[j], name);
        }
        if (!drop) env[k++] = environ[j];
    }
    for (int s = 0; s < nsets; s++) env[k++] = sets[s];
    env[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

    long *rss = calloc((size_t)n, sizeof *rss);
    long failures = 0;
    struct timespec t0, t1;
    struct rusage c0, c1;
    getrusage(RUSAGE_CHILDREN, &c0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long r = 0; r < n; r++) {
        pid_t pid;
        int err = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, env);
        if (err) {
            fprintf(stderr, "spawnloop: cannot run %s: %s\n", cmd[0], strerror(err));
            return 2;
        }
        int status;
        struct rusage ru;
        while (wait4(pid, &status, 0, &ru) < 0) {
            if (errno != EINTR) { perror("spawnloop: wait4"); return 2; }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            if (failures++ == 0)
                fprintf(stderr, "spawnloop: %s: %s %d\n", cmd[0],
                        WIFEXITED(status) ? "exit status" : "killed by signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
        rss[r] = ru.ru_maxrss;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_CHILDREN, &c1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    long long cpu_us = (c1.ru_utime.tv_sec - c0.ru_utime.tv_sec + c1.ru_stime.tv_sec - c0.ru_stime.tv_sec) * 1000000LL
                     + (c1.ru_utime.tv_usec - c0.ru_utime.tv_usec) + (c1.ru_stime.tv_usec - c0.ru_stime.tv_usec);
    qsort(rss, (size_t)n, sizeof *rss, cmp_long);
    printf("%lld %ld %ld %ld %ld %lld\n", ns, n, rss[n / 2], rss[n - 1], failures, cpu_us * 1000);
    return failures ? 2 : 0;

usage:
    fprintf(stderr, "usage: spawnloop [-n N] [-e NAME=VALUE]... [-u NAME]... [-i FILE] -- PROGRAM ARG...\n");
    return 64;
}
