/*
 * Objects closed with dlclose(): a stack captured while a library was loaded keeps its return addresses, but a
 * snapshot written after the library is gone no longer maps them, and one opened and closed between two
 * snapshots is in none. So dlclose() is interposed: before the object goes, its executable segments are
 * remembered (bounded: the last 256 objects) and every snapshot carries them as /proc/<pid>/maps lines, for the
 * CLI to resolve such addresses with. An object that stays loaded (its reference count does not drop to zero)
 * is remembered needlessly, which costs nothing but a line.
 */
#define _GNU_SOURCE
#include "unloaded.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "state.h"
#include "unwind_tables.h"

#define MAX_OBJECTS 256
#define MAX_LINE 512

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char lines[MAX_OBJECTS][MAX_LINE];
static int next_slot, filled;

struct closing {
    uintptr_t base;
    const char *path;
    dev_t device;
    ino_t inode;
};

static int remember_segments(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct closing *c = data;
    if (info->dlpi_addr != c->base || !info->dlpi_name || strcmp(info->dlpi_name, c->path) != 0)
        return 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~(uintptr_t)4095;
        uint64_t offset = ph->p_offset & ~(uint64_t)4095;
        snprintf(lines[next_slot], MAX_LINE, "%lx-%lx r-xp %08llx %02x:%02x %llu %s\n", (unsigned long)start,
                 (unsigned long)end, (unsigned long long)offset, (unsigned)major(c->device), (unsigned)minor(c->device),
                 (unsigned long long)c->inode, c->path);
        next_slot = (next_slot + 1) % MAX_OBJECTS;
        if (filled < MAX_OBJECTS)
            filled++;
    }
    pthread_mutex_unlock(&lock);
    return 1;
}

LH_EXPORT int dlclose(void *handle)
{
    struct link_map *map = NULL;
    if (atomic_load(&lh_run_state) == LH_ON && !lh_tls.busy &&
        dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0] == '/') {
        struct stat st;
        struct closing c = {map->l_addr, map->l_name, 0, 0};
        if (stat(map->l_name, &st) == 0) {
            c.device = st.st_dev;
            c.inode = st.st_ino;
        }
        lh_tls.quiet++;
        dl_iterate_phdr(remember_segments, &c);
        lh_tls.quiet--;
    }
    int result = LH_NEXT(dlclose)(handle);
    if (atomic_load(&lh_run_state) == LH_ON && !lh_tls.busy) {
        lh_tls.quiet++;
        lh_unwind_tables_object_closed(); /* before anything else can be mapped where the object was */
        lh_tls.quiet--;
    }
    return result;
}

LH_HIDDEN int lh_unloaded_count(void)
{
    pthread_mutex_lock(&lock);
    int n = filled;
    pthread_mutex_unlock(&lock);
    return n;
}

LH_HIDDEN void lh_unloaded_write(void (*sink)(const void *, size_t, void *), void *context)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < filled; i++)
        sink(lines[i], strlen(lines[i]), context);
    pthread_mutex_unlock(&lock);
}
