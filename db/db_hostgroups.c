/* db_hostgroups.c -- the host group tree.  Invariants kept here: a parent
 * exists, the tree has no cycle, sibling names are unique, and a group is
 * deleted only when it holds no groups and no hosts (as SCVMM requires). */
#include <string.h>
#include "db_internal.h"

static int exists(const char *id)
{
    sqlite3_stmt *st = pv_db_stmt("SELECT 1 FROM host_groups WHERE id = ?", NULL);
    int found;

    if (!st)
        return 0;
    pv_db_bind_text(st, 1, id);
    found = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    return found;
}

/* 1 when `ancestor` is `id` or one of its ancestors. */
static int is_ancestor_or_self(const char *ancestor, const char *id)
{
    static const char sql[] =
        "WITH RECURSIVE up(id, parent_id) AS ("
        "  SELECT id, parent_id FROM host_groups WHERE id = ? "
        "  UNION SELECT g.id, g.parent_id FROM host_groups g JOIN up ON g.id = up.parent_id) "
        "SELECT 1 FROM up WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int found;

    if (!st)
        return 1;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, ancestor);
    found = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    return found;
}

static int name_error(struct pv_error *err, const char *name)
{
    return pv_fail(err, host_group_name_in_use,
                        "a host group named '%.80s' already exists under that parent", name);
}

int pv_db_host_group_create(const char *id, const char *name, const char *parent_id,
                            const char *description, const char *policy_json,
                            struct pv_error *err)
{
    static const char dup[] =
        "SELECT 1 FROM host_groups WHERE name = ? AND parent_id IS ?";
    static const char sql[] =
        "INSERT INTO host_groups(id, name, parent_id, description, policy, created_at) "
        "VALUES (?, ?, ?, coalesce(?, ''), coalesce(?, '{}'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
    sqlite3_stmt *st;
    int rc = 0;

    if (parent_id && !exists(parent_id))
        return pv_fail(err, host_group_not_found,
                            "parent host group '%.80s' does not exist", parent_id);
    st = pv_db_stmt(dup, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, name);
    pv_db_bind_text(st, 2, parent_id);
    rc = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    if (rc)
        return name_error(err, name);
    st = pv_db_stmt(sql, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, name);
    pv_db_bind_text(st, 3, parent_id);
    pv_db_bind_text(st, 4, description);
    pv_db_bind_text(st, 5, policy_json);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "create host group");
    pv_db_release(st);
    return rc;
}

int pv_db_host_group_update(const char *id, const char *name, const char *parent_id,
                            const char *description, const char *policy_json,
                            struct pv_error *err)
{
    static const char sql[] =
        "UPDATE host_groups SET name = coalesce(?1, name), "
        "  parent_id = CASE WHEN ?2 IS NULL THEN parent_id WHEN ?2 = '' THEN NULL ELSE ?2 END, "
        "  description = coalesce(?3, description), policy = coalesce(?4, policy) WHERE id = ?5";
    static const char dup[] =
        "SELECT 1 FROM host_groups a JOIN host_groups b ON a.id = ?1 AND b.id != a.id "
        "AND b.name = a.name AND b.parent_id IS a.parent_id";
    sqlite3_stmt *st;
    int rc = 0;

    if (!exists(id))
        return pv_fail(err, host_group_not_found,
                            "no host group with id '%.80s'", id);
    if (parent_id && parent_id[0]) {
        if (!exists(parent_id))
            return pv_fail(err, host_group_not_found,
                                "parent host group '%.80s' does not exist", parent_id);
        if (is_ancestor_or_self(id, parent_id))
            return pv_fail(err, host_group_cycle,
                                "cannot move a host group under itself or its descendants");
    }
    st = pv_db_stmt(sql, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, name);
    pv_db_bind_text(st, 2, parent_id);
    pv_db_bind_text(st, 3, description);
    pv_db_bind_text(st, 4, policy_json);
    pv_db_bind_text(st, 5, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "update host group");
    pv_db_release(st);
    if (rc)
        return rc;
    /* Unique (parent_id, name) does not hold for NULL parents in SQL, so the
     * rule is checked here, inside the caller's transaction. */
    st = pv_db_stmt(dup, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    rc = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    return rc ? name_error(err, name ? name : "?") : 0;
}

int pv_db_host_group_delete(const char *id, struct pv_error *err)
{
    static const char busy[] =
        "SELECT (SELECT count(*) FROM host_groups WHERE parent_id = ?1), "
        "       (SELECT count(*) FROM hosts WHERE host_group_id = ?1)";
    sqlite3_stmt *st;
    int groups = 0, hosts = 0, rc = 0;

    if (!exists(id))
        return pv_fail(err, host_group_not_found,
                            "no host group with id '%.80s'", id);
    st = pv_db_stmt(busy, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        groups = sqlite3_column_int(st, 0);
        hosts = sqlite3_column_int(st, 1);
    }
    pv_db_release(st);
    if (groups || hosts)
        return pv_fail(err, host_group_not_empty,
                            "host group holds %d host group(s) and %d host(s); move them first",
                            groups, hosts);
    st = pv_db_stmt("DELETE FROM host_groups WHERE id = ?", err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "delete host group");
    pv_db_release(st);
    return rc;
}
