/* First contact as root: name every reason the drop to run.user would fail, with the fix. */
#include "daemon/preflight.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"

/* What the user can do, found in a child that really becomes the user
 * (groups, ACLs and all), so no permission rule is guessed here. */
enum can {
    CAN_DIR = 1 << 0,  /* write and enter the store's folder */
    CAN_FILE = 1 << 1, /* read and write the store file (or it does not exist) */
    CAN_RUN = 1 << 2,  /* write the runtime folder */
};

static int probe_as_user(const struct passwd *pw, const char *dir, const char *file,
                         const char *run_dir)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0)
            _exit(255);
        int can = 0;
        if (access(dir, W_OK | X_OK) == 0)
            can |= CAN_DIR;
        if (access(file, F_OK) != 0 || access(file, R_OK | W_OK) == 0)
            can |= CAN_FILE;
        if (access(run_dir, W_OK | X_OK) == 0)
            can |= CAN_RUN;
        _exit(can);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 255)
        return -1;
    return WEXITSTATUS(st);
}

struct msgbuf {
    char *p;
    size_t size, len;
};

static void add(struct msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct msgbuf *m, const char *fmt, ...)
{
    if (m->len >= m->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->p + m->len, m->size - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len += (size_t)n < m->size - m->len ? (size_t)n : m->size - m->len - 1;
}

static void dir_of(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* The runtime folder is ephemeral (tmpfs): make it the user's, as the unit would. */
static void make_run_dir(const char *run_dir, const struct passwd *pw)
{
    if (pw && mkdir(run_dir, 0755) == 0)
        (void)!chown(run_dir, pw->pw_uid, pw->pw_gid);
}

int preflight_run_user(const char *user, const char *store_path, const char *runtime_dir,
                       const char *config_file, char *msg, size_t msg_size)
{
    if (geteuid() != 0)
        return 0;
    struct msgbuf m = {msg, msg_size, 0};
    msg[0] = '\0';
    char dir[1024];
    dir_of(store_path, dir, sizeof dir);
    const char *cfg = config_file ? config_file : "the config";
    errno = 0;
    struct passwd *pw = getpwnam(user);
    make_run_dir(runtime_dir, pw);
    bool problems = false;
    add(&m,
        "cannot start as run.user \"%s\" (as root, pvtap drops to it once its devices are "
        "open):\n",
        user);
    struct stat st;
    bool dir_exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!pw) {
        problems = true;
        add(&m,
            "  - user \"%s\" does not exist: create it with\n"
            "        useradd --system --no-create-home --shell /usr/sbin/nologin %s\n"
            "    or set run = { user = \"...\"; } in %s to an existing user;\n",
            user, user, cfg);
        /* Without the user, say now what the next attempt would meet. */
        if (!dir_exists)
            add(&m,
                "  - the store folder %s does not exist: then create it for the user with\n"
                "        install -d -o %s %s\n",
                dir, user, dir);
        else if (st.st_uid == 0 && !(st.st_mode & S_IWOTH))
            add(&m,
                "  - the store folder %s belongs to root: then give it to the user with\n"
                "        chown %s %s\n",
                dir, user, dir);
    } else {
        int can = probe_as_user(pw, dir, store_path, runtime_dir);
        if (can < 0) {
            add(&m, "  - cannot check what user \"%s\" may write (fork/setuid failed)\n", user);
            problems = true;
        } else {
            if (!dir_exists) {
                problems = true;
                add(&m,
                    "  - the store folder %s does not exist: create it for %s with\n"
                    "        install -d -o %s %s\n",
                    dir, user, user, dir);
            } else if (!(can & CAN_DIR)) {
                problems = true;
                add(&m,
                    "  - user \"%s\" cannot write the store folder %s: give it with\n"
                    "        chown %s %s\n",
                    user, dir, user, dir);
            }
            if (dir_exists && !(can & CAN_FILE)) {
                problems = true;
                add(&m, "  - user \"%s\" cannot write the store %s: chown %s %s*\n", user,
                    store_path, user, store_path);
            }
            if (!(can & CAN_RUN)) {
                problems = true;
                add(&m,
                    "  - user \"%s\" cannot write the runtime folder %s (status.json): "
                    "chown %s %s, or --runtime-dir\n",
                    user, runtime_dir, user, runtime_dir);
            }
        }
        if (problems)
            add(&m, "    or set store = { path = \"...\"; } in %s to a folder it can write;\n",
                cfg);
    }
    if (!problems) {
        msg[0] = '\0';
        return 0;
    }
    add(&m, "  or, for a test, keep root with --no-drop.");
    return PVTAP_ECONFIG;
}
