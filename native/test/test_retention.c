/* Snapshot retention: what stays on disk over a long series, against the rule stated in retention.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../retention.h"
#include "harness.h"

#define MAX_KEPT 40

static char directory[] = "/tmp/leakhunt-retention-XXXXXX";
static int dir_fd = -1;

static void write_file(uint64_t sequence)
{
    char name[32];
    snprintf(name, sizeof name, "%06llu.lhs", (unsigned long long)sequence);
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
}

static bool exists(uint64_t sequence)
{
    char name[32];
    snprintf(name, sizeof name, "%06llu.lhs", (unsigned long long)sequence);
    return faccessat(dir_fd, name, F_OK, 0) == 0;
}

/* The directory holds exactly what the rule keeps, within the bound, with every early and recent one. */
static void check_directory(uint64_t newest)
{
    uint64_t kept = 0, wrong = 0;
    for (uint64_t s = 0; s <= newest; s++) {
        bool present = exists(s);
        kept += present;
        wrong += present != lh_retention_keeps(s, newest, MAX_KEPT);
    }
    CHECK(wrong == 0, "%llu files disagree with the rule at newest %llu", (unsigned long long)wrong,
          (unsigned long long)newest);
    CHECK(kept <= MAX_KEPT, "%llu kept > %d at newest %llu", (unsigned long long)kept, MAX_KEPT,
          (unsigned long long)newest);
    for (uint64_t s = 0; s < MAX_KEPT / 4 && s <= newest; s++)
        CHECK(exists(s), "early %llu kept", (unsigned long long)s);
    for (uint64_t s = newest >= MAX_KEPT / 4 ? newest - MAX_KEPT / 4 + 1 : 0; s <= newest; s++)
        CHECK(exists(s), "recent %llu kept", (unsigned long long)s);
}

static void a_new_image_sweeps_what_an_earlier_one_left(void)
{
    /* The first pass of an image (an exec() continuing the series, or a run that kept everything so far)
     * meets a full directory: it must bring it to exactly what the rule keeps. */
    for (uint64_t s = 0; s < 3000; s++)
        write_file(s);
    lh_retention_apply(dir_fd, 2999);
    check_directory(2999);
}

static void a_long_series_stays_bounded_and_evenly_thinned(void)
{
    for (uint64_t s = 3000; s < 20000; s++) {
        write_file(s);
        lh_retention_apply(dir_fd, s);
        if (s % 97 == 0 || s < 3100)
            check_directory(s);
    }
    check_directory(19999);
    /* The middle is evenly spaced: the gaps between kept middle snapshots are all the same. */
    uint64_t previous = 0, gap = 0, uneven = 0;
    for (uint64_t s = MAX_KEPT / 4; s <= 19999 - MAX_KEPT / 4; s++) {
        if (!exists(s))
            continue;
        if (previous && gap && s - previous != gap)
            uneven++;
        if (previous)
            gap = s - previous;
        previous = s;
    }
    CHECK(uneven == 0, "%llu uneven gaps in the middle", (unsigned long long)uneven);
    CHECK(lh_retention_next_sequence(dir_fd) == 20000, "next sequence after the highest file");
}

static void zero_keeps_everything(void)
{
    CHECK(lh_retention_keeps(123, 100000, 0), "max 0 keeps all");
    CHECK(lh_retention_keeps(5, 6, 8) && lh_retention_keeps(0, 1000000, 8), "early and recent");
}

static void stray_names_do_not_count(void)
{
    int fd = openat(dir_fd, "999999.lhs.tmp", O_WRONLY | O_CREAT, 0600);
    close(fd);
    fd = openat(dir_fd, "flush-request", O_WRONLY | O_CREAT, 0600);
    close(fd);
    CHECK(lh_retention_next_sequence(dir_fd) == 20000, "a .tmp and a control file are not snapshots");
}

int main(void)
{
    if (!mkdtemp(directory) || (dir_fd = open(directory, O_RDONLY | O_DIRECTORY)) < 0) {
        perror("temporary directory");
        return 1;
    }
    lh_config.max_snapshots = MAX_KEPT;
    RUN(a_new_image_sweeps_what_an_earlier_one_left);
    RUN(a_long_series_stays_bounded_and_evenly_thinned);
    RUN(zero_keeps_everything);
    RUN(stray_names_do_not_count);
    char command[96];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    int ignored = system(command);
    (void)ignored;
    return HARNESS_SUMMARY();
}
