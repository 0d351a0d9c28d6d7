#ifndef LEAKHUNT_CONFIG_H
#define LEAKHUNT_CONFIG_H

#include "shim.h"

enum lh_config_result {
    LH_CONFIG_OK,      /* record */
    LH_CONFIG_ABSENT,  /* not asked to record in this process: stay idle, silently */
    LH_CONFIG_INVALID, /* asked, but wrongly: stay idle, said so on stderr */
};

LH_HIDDEN enum lh_config_result lh_config_read(void);

/* Opens `dir` (absolute, a directory of this user, not through a symlink) as lh_config.raw_dir_fd, closing the one
 * before; LEAKHUNT_DIR's checks, for attach.c's option too. Says why on stderr when it refuses. */
LH_HIDDEN enum lh_config_result lh_config_open_raw_dir(const char *dir);

#endif
