/* A tiny header-only test harness: CHECK records failures, RUN runs a test, main prints a summary line. */
#ifndef LEAKHUNT_TEST_HARNESS_H
#define LEAKHUNT_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

static int harness_failures;
static int harness_passed;
static int harness_failed;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            harness_failures++;                                                                              \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
        }                                                                                                    \
    } while (0)

#define RUN(test)                                                                                            \
    do {                                                                                                     \
        int before = harness_failures;                                                                       \
        test();                                                                                              \
        if (harness_failures == before) {                                                                    \
            harness_passed++;                                                                                \
            printf("ok - %s\n", #test);                                                                      \
        } else {                                                                                             \
            harness_failed++;                                                                                \
            printf("not ok - %s\n", #test);                                                                  \
        }                                                                                                    \
    } while (0)

#define HARNESS_SUMMARY()                                                                                    \
    (printf("%d passed, %d failed\n", harness_passed, harness_failed), harness_failed ? 1 : 0)

#endif
