#ifndef LEAKHUNT_METHODS_H
#define LEAKHUNT_METHODS_H

#include <stdbool.h>
#include <stdint.h>

#include "shim.h"

/* What a Java method id resolved to. Strings point into the method table's arena. */
struct lh_method_info {
    uint64_t method_id;
    const char *class_signature; /* "Ljava/util/zip/Deflater;" */
    const char *name;
    const char *source_file;     /* "" when unknown */
    uint32_t line_count;
    const uint32_t *lines;       /* line_count pairs of (start_bci, line) */
};

/* Maps the method table: at most `capacity` methods, `arena_bytes` of names and line tables. */
LH_HIDDEN bool lh_methods_init(uint32_t capacity, uint64_t arena_bytes);

LH_HIDDEN bool lh_methods_known(uint64_t method_id);

/* Adds a resolved method (copies everything); false when the table or arena is full. */
LH_HIDDEN bool lh_methods_add(const struct lh_method_info *method);

/* Calls visit() for every resolved method, under the table's lock. */
LH_HIDDEN void lh_methods_for_each(void (*visit)(const struct lh_method_info *, void *), void *context);

LH_HIDDEN uint32_t lh_methods_count(void);

#endif
