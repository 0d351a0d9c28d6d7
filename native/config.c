/*
 * Reads and validates LEAKHUNT_* once, in the constructor. Anything malformed turns the shim off for this
 * process with one line on stderr: a profiler that guesses at a bad setting produces numbers nobody can
 * trust, and the target must keep running either way.
 */
#define _GNU_SOURCE
#include "config.h"
#include "limits.h" /* generated from native/limits.json, the table the CLI checks its options against */
#include "stacks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

LH_HIDDEN struct lh_config lh_config = {
    .raw_dir_fd = -1,
    .sample_interval_bytes = LH_SAMPLE_BYTES_DEFAULT,
    .snapshot_interval_ms = LH_INTERVAL_MS_DEFAULT,
    .table_capacity = LH_TABLE_CAPACITY_DEFAULT,
    .max_stacks = LH_MAX_STACKS_DEFAULT,
    .max_snapshots = LH_MAX_SNAPSHOTS_DEFAULT,
    .max_stack_depth = LH_STACK_DEPTH_DEFAULT,
    .java_stacks = true,
};

/* Frames are copied into buffers of LH_MAX_DEPTH_LIMIT (snapshot.c, the agent) and stored with 16-bit depths. */
_Static_assert(LH_STACK_DEPTH_MAX <= LH_MAX_DEPTH_LIMIT, "native/limits.json allows deeper stacks than the buffers");
/* Retention keeps a first and a last quarter and a middle: eight is the least that leaves each room. */
_Static_assert(LH_MAX_SNAPSHOTS_MIN >= 8, "native/limits.json: LEAKHUNT_MAX_SNAPSHOTS needs room for retention's parts");

/* Strict decimal u64: digits only, no sign, no overflow. */
static bool parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return false;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* A whole number within its limits; unset keeps the default. */
static bool read_number(const char *name, uint64_t min, uint64_t max, bool zero_allowed, const char *range,
                        uint64_t *out)
{
    const char *text = getenv(name);
    if (!text)
        return true; /* keep the default */
    uint64_t value;
    if (!parse_u64(text, &value) || ((value < min || value > max) && !(zero_allowed && value == 0))) {
        lh_say(LH_SAY_DISABLED, name, " is not a whole number in its allowed range (", range, ")", NULL);
        return false;
    }
    *out = value;
    return true;
}

/* A setting of native/limits.json, by its name there without LEAKHUNT_. */
#define READ_LIMITED(id, out) read_number(LH_##id##_NAME, LH_##id##_MIN, LH_##id##_MAX, LH_##id##_ZERO_ALLOWED, LH_##id##_RANGE, out)

static enum lh_config_result open_raw_dir(void)
{
    return lh_config_open_raw_dir(getenv("LEAKHUNT_DIR"));
}

LH_HIDDEN enum lh_config_result lh_config_open_raw_dir(const char *dir)
{
    if (dir[0] != '/') {
        lh_say(LH_SAY_DISABLED, "LEAKHUNT_DIR must be an absolute path", NULL);
        return LH_CONFIG_INVALID;
    }
    /* O_NOFOLLOW covers only a last component without a trailing slash ("link/" is followed): so also require
     * that the path itself, not following links, is the very directory that was opened. */
    char bare[4096];
    size_t length = strlen(dir);
    if (length >= sizeof bare) {
        lh_say(LH_SAY_DISABLED, "LEAKHUNT_DIR is too long", NULL);
        return LH_CONFIG_INVALID;
    }
    memcpy(bare, dir, length + 1);
    while (length > 1 && bare[length - 1] == '/')
        bare[--length] = '\0';
    int fd = open(bare, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st, path_st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != geteuid() || lstat(bare, &path_st) != 0 ||
        !S_ISDIR(path_st.st_mode) || path_st.st_ino != st.st_ino || path_st.st_dev != st.st_dev) {
        if (fd >= 0)
            close(fd);
        lh_say(LH_SAY_DISABLED, "LEAKHUNT_DIR is not a directory of ours (or is a symlink): ", dir, NULL);
        return LH_CONFIG_INVALID;
    }
    if (lh_config.raw_dir_fd >= 0)
        close(lh_config.raw_dir_fd);
    lh_config.raw_dir_fd = fd;
    return LH_CONFIG_OK;
}

/* A boolean setting: unset keeps the default, "0" and "1" are the only values. */
static bool read_flag(const char *name, bool *out)
{
    const char *text = getenv(name);
    if (!text)
        return true;
    if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0) {
        lh_say(LH_SAY_DISABLED, name, " must be 0 or 1", NULL);
        return false;
    }
    *out = text[0] == '1';
    return true;
}

/* LEAKHUNT_UNWINDER: tables (default), libgcc or both (a differential check, for tests). */
static bool read_unwinder(void)
{
    const char *text = getenv("LEAKHUNT_UNWINDER");
    if (!text)
        return true;
    static const char *const names[] = {[LH_UNWINDER_TABLES] = "tables", [LH_UNWINDER_LIBGCC] = "libgcc",
                                        [LH_UNWINDER_BOTH] = "both"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            lh_config.unwinder = i;
            return true;
        }
    }
    lh_say(LH_SAY_DISABLED, "LEAKHUNT_UNWINDER must be tables, libgcc or both", NULL);
    return false;
}

LH_HIDDEN enum lh_config_result lh_config_read(void)
{
    if (!getenv("LEAKHUNT_DIR"))
        return LH_CONFIG_ABSENT;
    if (!read_flag("LEAKHUNT_FOLLOW_CHILDREN", &lh_config.follow_children) ||
        !read_flag("LEAKHUNT_JAVA_STACKS", &lh_config.java_stacks) || !read_unwinder())
        return LH_CONFIG_INVALID;
    /* A child of the target (fork + exec under the inherited LD_PRELOAD) stays idle unless asked. */
    uint64_t parent = 0;
    const char *parent_text = getenv("LEAKHUNT_PARENT_PID");
    if (parent_text && !parse_u64(parent_text, &parent)) {
        lh_say(LH_SAY_DISABLED, "LEAKHUNT_PARENT_PID is not a process id", NULL);
        return LH_CONFIG_INVALID;
    }
    if (!lh_config.follow_children && parent_text && (uint64_t)getppid() != parent)
        return LH_CONFIG_ABSENT;
    enum lh_config_result dir = open_raw_dir();
    if (dir != LH_CONFIG_OK)
        return dir;

    uint64_t depth = lh_config.max_stack_depth;
    uint64_t seed = 0;
    bool ok = READ_LIMITED(SAMPLE_BYTES, &lh_config.sample_interval_bytes) &&
              READ_LIMITED(INTERVAL_MS, &lh_config.snapshot_interval_ms) &&
              READ_LIMITED(TABLE_CAPACITY, &lh_config.table_capacity) &&
              READ_LIMITED(MAX_STACKS, &lh_config.max_stacks) &&
              READ_LIMITED(MAX_SNAPSHOTS, &lh_config.max_snapshots) &&
              READ_LIMITED(STACK_DEPTH, &depth) &&
              read_number("LEAKHUNT_SEED", 0, UINT64_MAX, false, "any 64-bit number", &seed);
    if (!ok)
        return LH_CONFIG_INVALID;
    lh_config.max_stack_depth = (uint32_t)depth;
    lh_config.seed_given = getenv("LEAKHUNT_SEED") != NULL;
    lh_config.seed = seed;
    return LH_CONFIG_OK;
}
