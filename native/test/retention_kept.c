/*
 * retention_kept M LAST: for every newest sequence number n from 0 to LAST, the sequence numbers snapshot retention
 * keeps (lh_retention_keeps) with at most M snapshots, one line each: "n: s s s ...". Not a test of its own: the
 * TypeScript test test/unit/core-thinned-series.test.ts builds it and holds ThinnedSeries, the CLI's copy of the
 * rule, to the same kept sets.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../retention.h"

struct lh_config lh_config; /* retention.c's lh_retention_apply reads it; lh_retention_keeps does not */

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: retention_kept M LAST\n");
        return 2;
    }
    uint64_t max_snapshots = strtoull(argv[1], NULL, 10), last = strtoull(argv[2], NULL, 10);
    for (uint64_t newest = 0; newest <= last; newest++) {
        printf("%llu:", (unsigned long long)newest);
        for (uint64_t s = 0; s <= newest; s++)
            if (lh_retention_keeps(s, newest, max_snapshots))
                printf(" %llu", (unsigned long long)s);
        putchar('\n');
    }
    return ferror(stdout) ? 1 : 0;
}
