/*
 * Reads and validates LEAKHUNT_* once, in the constructor. Anything malformed turns the shim off for this
 * process with one line on stderr: a profiler that guesses at a bad setting produces numbers nobody can
 * trust, and the target must keep running either way.
 */
#define _GNU_SOURCE
#include "config.h"
#include "retention.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

LH_HIDDEN struct lh_config lh_config = {
    .raw_dir_fd = -1,
    .sample_interval_bytes = 524288,
    .snapshot_interval_ms = 10000,
    .table_capacity = 65536,
    .max_stacks = 32768,
    .max_snapshots = 360,
    .max_stack_depth = 64,
    .java_stacks = true,
};

static void say(const char *a, const char *b)
{
    /* stderr through write(2): no stdio buffers, no allocation. */
    const char *prefix = "leakhunt shim: disabled: ";
    ssize_t ignored = write(2, prefix, strlen(prefix));
    ignored = write(2, a, strlen(a));
    ignored = write(2, b, strlen(b));
    ignored = write(2, "\n", 1);
    (void)ignored;
}

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

static bool read_number(const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *text = getenv(name);
    if (!text)
        return true; /* keep the default */
    uint64_t value;
    if (!parse_u64(text, &value) || value < min || value > max) {
        say(name, " is not a whole number in its allowed range");
        return false;
    }
    *out = value;
    return true;
}

static enum lh_config_result open_raw_dir(void)
{
    const char *dir = getenv("LEAKHUNT_DIR");
    if (dir[0] != '/') {
        say("LEAKHUNT_DIR must be an absolute path", "");
        return LH_CONFIG_INVALID;
    }
    /* O_NOFOLLOW covers only a last component without a trailing slash ("link/" is followed): so also require
     * that the path itself, not following links, is the very directory that was opened. */
    char bare[4096];
    size_t length = strlen(dir);
    if (length >= sizeof bare) {
        say("LEAKHUNT_DIR is too long", "");
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
        say("LEAKHUNT_DIR is not a directory of ours (or is a symlink): ", dir);
        return LH_CONFIG_INVALID;
    }
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
        say(name, " must be 0 or 1");
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
    say("LEAKHUNT_UNWINDER must be tables, libgcc or both", "");
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
        say("LEAKHUNT_PARENT_PID is not a process id", "");
        return LH_CONFIG_INVALID;
    }
    if (!lh_config.follow_children && parent_text && (uint64_t)getppid() != parent)
        return LH_CONFIG_ABSENT;
    enum lh_config_result dir = open_raw_dir();
    if (dir != LH_CONFIG_OK)
        return dir;

    uint64_t depth = lh_config.max_stack_depth;
    uint64_t seed = 0;
    bool ok = read_number("LEAKHUNT_SAMPLE_BYTES", 1, UINT64_C(1) << 40, &lh_config.sample_interval_bytes) &&
              read_number("LEAKHUNT_INTERVAL_MS", 50, 86400000, &lh_config.snapshot_interval_ms) &&
              read_number("LEAKHUNT_TABLE_CAPACITY", 1024, UINT64_C(1) << 24, &lh_config.table_capacity) &&
              read_number("LEAKHUNT_MAX_STACKS", 256, UINT64_C(1) << 20, &lh_config.max_stacks) &&
              read_number("LEAKHUNT_MAX_SNAPSHOTS", 0, 1000000, &lh_config.max_snapshots) &&
              read_number("LEAKHUNT_STACK_DEPTH", 4, 256, &depth) &&
              read_number("LEAKHUNT_SEED", 0, UINT64_MAX, &seed);
    if (!ok)
        return LH_CONFIG_INVALID;
    if (lh_config.max_snapshots != 0 && lh_config.max_snapshots < LH_MIN_KEPT_SNAPSHOTS) {
        say("LEAKHUNT_MAX_SNAPSHOTS must be 0 (keep all) or at least 8", "");
        return LH_CONFIG_INVALID;
    }
    lh_config.max_stack_depth = (uint32_t)depth;
    lh_config.seed_given = getenv("LEAKHUNT_SEED") != NULL;
    lh_config.seed = seed;
    return LH_CONFIG_OK;
}
