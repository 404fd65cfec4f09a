/* bench_placement.c -- the placement engine's figures for `make bench`:
 *   1. ratings for one VM over 10,000 hosts (the dry run: every host rated,
 *      sorted, and explained as the API answers it; and without explaining);
 *   2. 10,000 VMs placed one after another on 10,000 hosts, each placement
 *      committed to the snapshot before the next (decisions per second);
 *   3. a rebalance plan over 1,000 hosts and 20,000 VMs;
 *   4. loading the snapshot of 10,000 hosts / 100,000 VMs from SQLite is
 *      measured by run.sh through the API, not here.
 * The inventories are synthetic and seeded, so every run plans the same.
 * Prints a Markdown table on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server/placement/engine.h"
#include "server/placement/plan.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct pv_pl_inv *synthetic(int nhosts, int nvms, unsigned seed, int uneven)
{
    struct pv_pl_inv *inv = calloc(1, sizeof *inv);
    int *target = calloc((size_t)nhosts, sizeof *target), h = 0;

    inv->hosts = calloc((size_t)nhosts, sizeof *inv->hosts);
    for (h = 0; h < nhosts; h++) {
        struct pv_pl_host *H = &inv->hosts[h];
        snprintf(H->id, sizeof H->id, "host-%06d", h);
        snprintf(H->name, sizeof H->name, "node%06d", h);
        snprintf(H->vendor, sizeof H->vendor, "kvm");
        snprintf(H->connection_id, sizeof H->connection_id, "conn-%03d", h / 100);
        H->group = -1;
        H->state = rand_r(&seed) % 50 == 0 ? PV_PL_MAINTENANCE : PV_PL_CONNECTED;
        H->memory_mb = 65536 * (1 + rand_r(&seed) % 4);
        H->cpu_cores = 16 * (1 + (int)(rand_r(&seed) % 4));
        H->tags = json_array();
        /* uneven: each host filled to its own 40-90 % of memory */
        target[h] = 40 + (int)(rand_r(&seed) % 51);
        inv->nhosts++;
    }
    for (int v = 0; v < nvms; v++) {
        struct pv_pl_vm vm = {.active = 1, .vcpus = 1 + (int)(rand_r(&seed) % 4),
                              .memory_mb = 1024 * (1 + rand_r(&seed) % 8)};
        if (uneven) { /* the next host still under its target, round robin */
            int tries = 0;
            do {
                h = (h + 1) % nhosts;
            } while (++tries < nhosts && 100 * (inv->hosts[h].alloc_memory_mb + vm.memory_mb) >
                                             target[h] * inv->hosts[h].memory_mb);
            if (tries >= nhosts)
                break;
        } else {
            h = (int)(rand_r(&seed) % (unsigned)nhosts);
        }
        vm.host = h;
        snprintf(vm.id, sizeof vm.id, "vm-%07d", v);
        snprintf(vm.name, sizeof vm.name, "vm%07d", v);
        snprintf(vm.vendor, sizeof vm.vendor, "kvm");
        snprintf(vm.connection_id, sizeof vm.connection_id, "%s", inv->hosts[h].connection_id);
        pv_pl_add_vm(inv, &vm);
    }
    for (h = 0; h < nhosts; h++) { /* the hypervisor's own view: what its VMs use */
        inv->hosts[h].memory_used_mb = inv->hosts[h].alloc_memory_mb;
        inv->hosts[h].cpu_usage_pct =
            100.0 * 0.25 * (double)inv->hosts[h].alloc_vcpus / inv->hosts[h].cpu_cores;
    }
    free(target);
    return inv;
}

static struct pv_pl_request request(int vcpus, int64_t mem)
{
    struct pv_pl_request r = {.vm = -1, .vcpus = vcpus, .memory_mb = mem, .scope_group = -1,
                              .exclude_host = -1, .goal = -1};
    return r;
}

int main(int argc, char **argv)
{
    int hosts = argc > 1 ? atoi(argv[1]) : 10000;
    int decisions = argc > 2 ? atoi(argv[2]) : 10000;
    struct pv_error e = {0};
    struct pv_pl_inv *inv = synthetic(hosts, 2 * hosts, 42, 0);
    struct pv_pl_request req = request(2, 4096);
    struct pv_pl_rating *r = NULL, best;
    json_t *out, *plan = NULL;
    double t0, rate_s = 0, rate_explained_s = 0, place_s, rebal_s;
    char *text;
    size_t bytes;
    int reps = 20, placed = 0;

    /* 1. one VM, every host rated */
    for (int i = 0; i < reps; i++) {
        t0 = now_s();
        pv_pl_rate(inv, &req, 0, &r, &e);
        rate_s += now_s() - t0;
        t0 = now_s();
        out = pv_pl_ratings_json(inv, &req, r, hosts, 0);
        text = json_dumps(out, JSON_COMPACT);
        rate_explained_s += now_s() - t0;
        bytes = strlen(text);
        free(text);
        json_decref(out);
        pv_pl_ratings_free(r, hosts);
    }
    rate_s /= reps;
    rate_explained_s = rate_s + rate_explained_s / reps;

    /* 2. decisions, each committed */
    t0 = now_s();
    for (int i = 0; i < decisions; i++) {
        struct pv_pl_request q = request(1 + i % 4, 1024 * (1 + i % 4));
        if (pv_pl_choose(inv, &q, NULL, NULL, &best, NULL, &e) || best.host < 0)
            continue;
        struct pv_pl_vm vm = {.host = best.host, .active = 1, .vcpus = q.vcpus,
                              .memory_mb = q.memory_mb};
        snprintf(vm.id, sizeof vm.id, "new-%06d", i);
        snprintf(vm.name, sizeof vm.name, "new%06d", i);
        snprintf(vm.vendor, sizeof vm.vendor, "kvm");
        pv_pl_add_vm(inv, &vm);
        placed++;
    }
    place_s = now_s() - t0;
    pv_pl_inv_free(inv);

    /* 3. rebalance over 1,000 hosts / 20,000 VMs, hosts filled to 40-90 % */
    inv = synthetic(1000, 20000, 7, 1);
    {
        struct pv_plan_opts o = {.scope_group = -1, .threshold_pct = 70, .aggressiveness = 3,
                                 .max_moves = 5000, .now = 0};
        int over = 0, over_after = 0;
        for (int h = 0; h < inv->nhosts; h++)
            over += pv_pl_host_mem_pct(inv, h) > 70;
        t0 = now_s();
        pv_plan_rebalance(inv, &o, &plan, &e);
        rebal_s = now_s() - t0;
        for (int h = 0; h < inv->nhosts; h++)
            over_after += inv->hosts[h].state == PV_PL_CONNECTED && pv_pl_host_mem_pct(inv, h) > 70;
        printf("| measure | figure | aim |\n|---|---|---|\n");
        printf("| rate one VM over %d hosts (filters + weights + sort) | %.2f ms | |\n", hosts,
               rate_s * 1e3);
        printf("| ... and explain every host as JSON (%zu KiB) | %.2f ms | |\n", bytes / 1024,
               rate_explained_s * 1e3);
        printf("| place %d VMs one after another on %d hosts, committed | %.2f s, "
               "**%.0f decisions/s** (%d placed) | >= 1,000/s |\n",
               decisions, hosts, place_s, decisions / place_s, placed);
        printf("| rebalance plan, 1,000 hosts / %d VMs, threshold 70 %% | **%.3f s**, %d "
               "moves, hosts over: %d before, %d after | <= 2 s |\n",
               inv->nvms, rebal_s, (int)json_array_size(json_object_get(plan, "moves")), over,
               over_after);
    }
    json_decref(plan);
    pv_pl_inv_free(inv);
    return 0;
}
