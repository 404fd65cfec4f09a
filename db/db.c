/* db.c -- connections, the statement cache, transactions and start-up.
 *
 * One sqlite3 connection per thread (pthread key with a destructor that
 * closes it when the thread ends), so no lock guards a connection: SQLite's
 * WAL mode gives each reader a consistent snapshot while one writer works.
 * Statements used on hot paths are prepared once per connection and kept in
 * a small open-addressing table keyed by the SQL literal's address.
 * synchronous=NORMAL in WAL mode: a committed transaction survives a crash of
 * the process (kill -9); only a power loss may lose the last commits.
 *
 * Each thread also keeps the objects it last rendered by id (pv_db_get_text,
 * GET /api/v1/vms/{id} and the like), each with the inventory generation it
 * was read at: while the generation has not moved, no write has committed
 * and the text is still the row's.  A hit costs no SQLite read transaction,
 * whose WAL-index locks (a mutex shared by every connection, an fcntl) were
 * most of such a request.  A thread inside a transaction neither reads nor
 * fills it (its own uncommitted writes are not counted yet; SQLite's
 * autocommit flag says whether one is open, whoever opened it).
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db_internal.h"
#include "migrate.h"

#define STMT_SLOTS 128
#define OBJ_SLOTS 64
#define OBJ_ID_MAX 64

#define DEPTH_MAX 8

struct after_commit {
    void (*fn)(void *arg, int committed);
    void *arg;
};

struct thread_db {
    sqlite3 *db;
    int depth;                      /* pv_db_begin nesting: inner levels are savepoints */
    size_t mark[DEPTH_MAX];         /* npending when each level began */
    struct after_commit *pending;   /* to run once the outermost level commits */
    size_t npending, cappending;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_SLOTS];
    struct {                        /* rendered objects, see the top of this file */
        const void *kind;           /* NULL: empty */
        char id[OBJ_ID_MAX];
        uint64_t generation;
        char *text;
        size_t len;
    } objs[OBJ_SLOTS];
};

/* Start-up configuration: written once by pv_db_init before other threads
 * start, read-only afterwards. */
static char *db_path;
static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

static void thread_db_free(void *p)
{
    struct thread_db *t = p;

    if (!t)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        sqlite3_finalize(t->cache[i].st);
    for (int i = 0; i < OBJ_SLOTS; i++)
        free(t->objs[i].text);
    free(t->pending);
    sqlite3_close(t->db);
    free(t);
}

static void make_key(void)
{
    pthread_key_create(&db_key, thread_db_free);
}

/* The inventory generation: bumped after every committed write, on any
 * connection.  It is counted in the WAL hook, which SQLite calls once a
 * write transaction is in the log -- visible to the next reader -- so a
 * reader that sees generation G sees every write counted in G.  Setting the
 * hook replaces SQLite's own auto-checkpoint, which this one does in its
 * place (a passive checkpoint past 1,000 pages, as SQLite's default). */
static uint64_t generation; /* atomic */

static int on_wal_commit(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)ud;
    __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
    if (pages >= 1000)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

uint64_t pv_db_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_SEQ_CST);
}

static int open_conn(const char *path, sqlite3 **out, struct pv_error *err)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    static const char pragmas[] =
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = NORMAL;"
        "PRAGMA foreign_keys = ON;"
        "PRAGMA temp_store = MEMORY;"
        "PRAGMA cache_size = -16000;";

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = pv_fail(err, database_error, "cannot open %s: %s", path,
                              db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = pv_fail(err, database_error, "cannot configure %s: %s",
                              path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc;
    }
    sqlite3_wal_hook(db, on_wal_commit, NULL);
    *out = db;
    return 0;
}

sqlite3 *pv_db_conn(struct pv_error *err)
{
    struct thread_db *t;

    pthread_once(&db_key_once, make_key);
    t = pthread_getspecific(db_key);
    if (t)
        return t->db;
    if (!db_path) {
        pv_fail(err, database_error, "database not initialised");
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        pv_fail(err, out_of_memory, "out of memory");
        return NULL;
    }
    if (open_conn(db_path, &t->db, err)) {
        free(t);
        return NULL;
    }
    pthread_setspecific(db_key, t);
    return t->db;
}

sqlite3_stmt *pv_db_stmt(const char *sql, struct pv_error *err)
{
    struct thread_db *t;
    size_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;

    if (!pv_db_conn(err))
        return NULL;
    t = pthread_getspecific(db_key);
    for (size_t n = 0; n < STMT_SLOTS; n++, h = (h + 1) % STMT_SLOTS) {
        if (t->cache[h].sql == sql)
            return t->cache[h].st;
        if (!t->cache[h].sql) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                SQLITE_OK) {
                pv_db_error(err, "prepare");
                return NULL;
            }
            t->cache[h].sql = sql;
            t->cache[h].st = st;
            return st;
        }
    }
    pv_fail(err, database_error, "statement cache full");
    return NULL;
}

static size_t obj_slot(const void *kind, const char *id)
{
    size_t h = (uintptr_t)kind >> 4;
    for (; *id; id++)
        h = h * 31 + (unsigned char)*id;
    return h % OBJ_SLOTS;
}

int pv_db_obj_cached(const void *kind, const char *id, uint64_t gen, char **text)
{
    struct thread_db *t = pthread_getspecific(db_key);
    size_t i = obj_slot(kind, id);

    *text = NULL;
    if (!t || !sqlite3_get_autocommit(t->db) || t->objs[i].kind != kind ||
        t->objs[i].generation != gen || strcmp(t->objs[i].id, id) != 0)
        return 0;
    *text = malloc(t->objs[i].len + 1);
    if (!*text)
        return 0;
    memcpy(*text, t->objs[i].text, t->objs[i].len + 1);
    return 1;
}

void pv_db_obj_keep(const void *kind, const char *id, uint64_t gen, const char *text)
{
    struct thread_db *t = pthread_getspecific(db_key);
    size_t i = obj_slot(kind, id), len = strlen(text);
    char *copy;

    if (!t || !sqlite3_get_autocommit(t->db) || strlen(id) >= OBJ_ID_MAX ||
        !(copy = malloc(len + 1)))
        return;
    memcpy(copy, text, len + 1);
    free(t->objs[i].text);
    t->objs[i].kind = kind;
    snprintf(t->objs[i].id, sizeof t->objs[i].id, "%s", id);
    t->objs[i].generation = gen;
    t->objs[i].text = copy;
    t->objs[i].len = len;
}

void pv_db_release(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int pv_db_error(struct pv_error *err, const char *what)
{
    struct thread_db *t = pthread_getspecific(db_key);
    const char *msg = t && t->db ? sqlite3_errmsg(t->db) : "no connection";
    int code = t && t->db ? sqlite3_extended_errcode(t->db) : 0;

    if ((code & 0xff) == SQLITE_CONSTRAINT)
        return pv_fail(err, constraint_violation, "%s: %s", what, msg);
    return pv_fail(err, database_error, "%s: %s", what, msg);
}

int pv_db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
}

void pv_db_col_copy(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(buf, size, "%s", s ? (const char *)s : "");
}

char *pv_db_col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? strdup((const char *)s) : NULL;
}

/* The first text column of a one-row query, into out; -1 when it fails. */
static int first_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, size, "%s", t ? (const char *)t : "");
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Refuse to start on a file that is not a sound Polyvisor inventory: an
 * empty file (SQLite would take it for a new database, and the daemon for a
 * first start with a new admin), a damaged one (quick_check), or another
 * program's database (tables, but no schema version of ours). */
static int check_file(const char *path, struct pv_error *err)
{
    struct stat sb;
    sqlite3 *db = NULL;
    char res[256] = "";
    int rc = 0;

    if (stat(path, &sb) != 0)
        return 0; /* a first start */
    if (sb.st_size == 0)
        return pv_fail(err, database_damaged,
                       "%s is empty (0 bytes), not an inventory: restore it from a backup, or move "
                       "it away to start afresh", path);
    /* read-only and unconfigured: a file that is refused is left as it was
     * (the daemon's own connections switch it to WAL, which writes) */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = pv_fail(err, database_damaged, "%s cannot be opened as an SQLite database: %s", path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 10000);
    if (first_text(db, "PRAGMA quick_check", res, sizeof res) != 0) {
        rc = pv_fail(err, database_damaged, "%s is not an SQLite database, or is damaged: %s", path,
                     sqlite3_errmsg(db));
    } else if (strcmp(res, "ok") != 0) {
        rc = pv_fail(err, database_damaged, "%s is damaged (quick_check: %.200s): restore it from "
                     "a backup", path, res);
    } else if (pv_db_user_version(db) == 0 &&
               first_text(db, "SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 1", res,
                          sizeof res) == 0) {
        rc = pv_fail(err, database_damaged, "%s holds another program's tables (%.64s), not a "
                     "Polyvisor inventory", path, res);
    }
out:
    sqlite3_close(db);
    return rc;
}

int pv_db_init(const char *path, struct pv_error *err)
{
    sqlite3 *db;
    int rc;

    free(db_path);
    db_path = strdup(path);
    if (!db_path)
        return pv_fail(err, out_of_memory, "out of memory");
    if ((rc = check_file(path, err)) != 0)
        return rc;
    db = pv_db_conn(err);
    if (!db)
        return err ? err->err : PV_EINTERNAL;
    rc = pv_db_migrate(db, -1, err);
    return rc;
}

void pv_db_shutdown(void)
{
    pthread_once(&db_key_once, make_key);
    thread_db_free(pthread_getspecific(db_key));
    pthread_setspecific(db_key, NULL);
}

int pv_db_schema_version(void)
{
    sqlite3 *db = pv_db_conn(NULL);
    return db ? pv_db_user_version(db) : -1;
}

int pv_db_latest_version(void)
{
    return pv_db_nmigrations ? pv_db_migrations[pv_db_nmigrations - 1].version : 0;
}

static int exec_simple(const char *sql, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    rc = sqlite3_step(st);
    pv_db_release(st);
    if (rc != SQLITE_DONE)
        return pv_db_error(err, sql);
    return 0;
}

/* A begin inside a transaction (a sync's batch around a writer that is
 * atomic on its own) is a savepoint: its commit releases it, its rollback
 * undoes only what it did (and drops what it asked to run after commit). */
static struct thread_db *this_thread(struct pv_error *err)
{
    return pv_db_conn(err) ? pthread_getspecific(db_key) : NULL;
}

int pv_db_begin(struct pv_error *err)
{
    struct thread_db *t = this_thread(err);
    int rc;

    if (!t)
        return err ? err->err : PV_EINTERNAL;
    if (t->depth == DEPTH_MAX)
        return pv_fail(err, database_error, "transactions nested too deep");
    rc = exec_simple(t->depth ? "SAVEPOINT pv_nested" : "BEGIN IMMEDIATE", err);
    if (!rc)
        t->mark[t->depth++] = t->npending;
    return rc;
}

static void run_pending(struct thread_db *t)
{
    /* the callbacks may write (autocommit) and even register more: take the list first */
    struct after_commit *list = t->pending;
    size_t n = t->npending;

    t->pending = NULL;
    t->npending = t->cappending = 0;
    for (size_t i = 0; i < n; i++)
        list[i].fn(list[i].arg, 1);
    free(list);
}

int pv_db_commit(struct pv_error *err)
{
    struct thread_db *t = this_thread(err);
    int rc;

    if (!t)
        return err ? err->err : PV_EINTERNAL;
    rc = exec_simple(t->depth > 1 ? "RELEASE pv_nested" : "COMMIT", err);
    if (rc)
        return rc;
    if (t->depth > 0 && --t->depth == 0)
        run_pending(t);
    return 0;
}

void pv_db_rollback(void)
{
    struct thread_db *t = this_thread(NULL);
    size_t keep;

    if (!t)
        return;
    if (t->depth > 1) {
        exec_simple("ROLLBACK TO pv_nested", NULL);
        exec_simple("RELEASE pv_nested", NULL);
        keep = t->mark[--t->depth];
    } else {
        if (!sqlite3_get_autocommit(t->db))
            exec_simple("ROLLBACK", NULL);
        t->depth = 0;
        keep = 0;
    }
    /* what was undone does not happen: its callbacks only free their args */
    while (t->npending > keep) {
        t->npending--;
        t->pending[t->npending].fn(t->pending[t->npending].arg, 0);
    }
}

int pv_db_in_transaction(void)
{
    struct thread_db *t = pthread_getspecific(db_key);
    return t && t->depth > 0;
}

int pv_db_after_commit(void (*fn)(void *arg, int committed), void *arg)
{
    struct thread_db *t = this_thread(NULL);

    if (!t || t->depth == 0) {
        fn(arg, 1);
        return 0;
    }
    if (t->npending == t->cappending) {
        size_t cap = t->cappending ? 2 * t->cappending : 16;
        struct after_commit *p = realloc(t->pending, cap * sizeof *p);
        if (!p) {
            fn(arg, 1); /* better early than never */
            return 0;
        }
        t->pending = p;
        t->cappending = cap;
    }
    t->pending[t->npending++] = (struct after_commit){fn, arg};
    return 1;
}

const char *pv_db_now(char buf[32])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + 19, 13, ".%03dZ", (int)(ts.tv_nsec / 1000000));
    return buf;
}

int pv_db_write3(const char *sql, const char *a, const char *b, const char *c, const char *what,
                 struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    const char *args[3] = {a, b, c};
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    for (int i = 0; i < sqlite3_bind_parameter_count(st) && i < 3; i++)
        pv_db_bind_text(st, i + 1, args[i]);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, what);
    else if (sqlite3_changes(pv_db_conn(NULL)) == 0)
        rc = pv_fail(err, not_found, "no such object for %s", what);
    pv_db_release(st);
    return rc;
}
