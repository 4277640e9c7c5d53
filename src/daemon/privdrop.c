/* Drops root to run.user after the devices are open, optionally keeping CAP_NET_RAW. */
#include "daemon/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

static const char *const MOD = "privdrop";

/* Leaves exactly CAP_NET_RAW (permitted + effective) or nothing. */
static int set_caps(bool keep_net_raw)
{
    cap_t caps = cap_init(); /* all clear */
    if (!caps)
        return PVTAP_ENOMEM;
    int rc = 0;
    if (keep_net_raw) {
        cap_value_t v[] = {CAP_NET_RAW};
        if (cap_set_flag(caps, CAP_PERMITTED, 1, v, CAP_SET) != 0 ||
            cap_set_flag(caps, CAP_EFFECTIVE, 1, v, CAP_SET) != 0)
            rc = PVTAP_EIO;
    }
    if (rc == 0 && cap_set_proc(caps) != 0) {
        log_msg(LOGL_ERR, MOD, "cannot set capabilities: %s", strerror(errno));
        rc = PVTAP_EIO;
    }
    cap_free(caps);
    return rc;
}

int privdrop_to_user(const char *user, bool keep_net_raw)
{
    if (geteuid() != 0)
        return 0;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        log_msg(LOGL_ERR, MOD, "run.user \"%s\" does not exist: %s (create it, or set run.user)",
                user, errno ? strerror(errno) : "no such user");
        return PVTAP_ENOTFOUND;
    }
    if (pw->pw_uid == 0) {
        log_msg(LOGL_ERR, MOD, "run.user \"%s\" is root: refusing to keep running as root", user);
        return PVTAP_EINVAL;
    }
    /* Keep the permitted set across setuid so CAP_NET_RAW can survive. */
    if (keep_net_raw && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        log_msg(LOGL_ERR, MOD, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        return PVTAP_EIO;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_msg(LOGL_ERR, MOD, "cannot switch to user %s (uid %u): %s", user, (unsigned)pw->pw_uid,
                strerror(errno));
        return PVTAP_EIO;
    }
    /* setuid() from root with KEEPCAPS cleared the effective set; set both
     * sets to exactly what we keep (or nothing), then forbid regaining any. */
    int rc = set_caps(keep_net_raw);
    if (rc < 0)
        return rc;
    if (keep_net_raw)
        prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
    if (setuid(0) == 0) {
        log_msg(LOGL_ERR, MOD, "could regain root after dropping it: aborting");
        return PVTAP_EIO;
    }
    log_msg(LOGL_INFO, MOD, "running as %s (uid %u)%s", user, (unsigned)pw->pw_uid,
            keep_net_raw ? ", keeping CAP_NET_RAW for capture" : ", no capabilities");
    return 0;
}

long long privdrop_cap_effective(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "CapEff:", 7) == 0) {
            v = strtoll(line + 7, NULL, 16);
            break;
        }
    fclose(f);
    return v;
}
