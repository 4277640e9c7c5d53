/* A store whose file was deleted or replaced while open: noticed, and re-created at its path
 * from the open connection. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

int store_file_moved(struct store *st)
{
    if (!st->db || strcmp(st->path, ":memory:") == 0)
        return 0;
    /* SQLite's own test: the path is missing or is another inode than the
     * file it has open. */
    int moved = 0;
    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
        return 0;
    return moved ? 1 : 0;
}

static void unlink_with_suffix(const char *path, const char *suffix)
{
    char name[1100];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    unlink(name);
}

/* Everything the open database holds (its WAL included) into a new file. */
static int backup_into(struct store *st, const char *file)
{
    unlink(file);
    unlink_with_suffix(file, "-journal");
    unlink_with_suffix(file, "-wal");
    unlink_with_suffix(file, "-shm");
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(
        file, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            rc = sqlite3_backup_step(b, -1);
            int fin = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? fin : rc;
        }
    }
    if (rc != SQLITE_OK)
        snprintf(st->last_error, sizeof st->last_error, "copying into %s: %s", file,
                 dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
    sqlite3_close(dst);
    if (rc != SQLITE_OK)
        unlink(file);
    return rc == SQLITE_OK ? 0 : PVTAP_EIO;
}

/* Moves a file someone put at the path aside rather than overwrite it. */
static int displace_foreign(struct store *st)
{
    struct stat sb;
    if (stat(st->path, &sb) != 0)
        return 0;
    char aside[1100];
    snprintf(aside, sizeof aside, "%s.displaced-%lld", st->path, (long long)time_now_s());
    if (rename(st->path, aside) != 0) {
        snprintf(st->last_error, sizeof st->last_error, "cannot move the file at the path aside");
        return PVTAP_EIO;
    }
    log_msg(LOGL_WARNING, "store", "%s: another file was put at the store's path: kept as %s",
            st->path, aside);
    return 0;
}

int store_recreate(struct store *st)
{
    if (st->in_tx)
        store_rollback(st);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.recover", st->path);
    int rc = backup_into(st, tmp);
    if (rc == 0)
        rc = displace_foreign(st);
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    /* The -wal and -shm at the path belong to the unlinked database (its
     * connection keeps them open and never deletes them by name once the
     * file has moved): the new file must not adopt them. */
    unlink_with_suffix(st->path, "-wal");
    unlink_with_suffix(st->path, "-shm");
    if (rename(tmp, st->path) != 0) {
        snprintf(st->last_error, sizeof st->last_error, "cannot rename %s into place", tmp);
        unlink(tmp);
        return PVTAP_EIO;
    }
    /* Open the new file beside the old connection; swap only when it works. */
    sqlite3 *old_db = st->db;
    sqlite3_stmt *old_stmt[S_COUNT_];
    memcpy(old_stmt, st->stmt, sizeof old_stmt);
    memset(st->stmt, 0, sizeof st->stmt);
    st->db = NULL;
    rc = store_db_open(st, false);
    if (rc < 0) {
        store_db_close(st);
        st->db = old_db;
        memcpy(st->stmt, old_stmt, sizeof old_stmt);
        return rc;
    }
    for (int i = 0; i < S_COUNT_; i++)
        sqlite3_finalize(old_stmt[i]);
    /* No checkpoint into the unlinked file: it is about to vanish. */
    sqlite3_db_config(old_db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_close(old_db);
    return 0;
}
