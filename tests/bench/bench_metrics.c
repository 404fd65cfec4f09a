/* bench_metrics.c DB [INTERVALS] -- monitoring ingest for `make bench`: on
 * an inventory made by gen.py, take INTERVALS samples (every active VM and
 * connected host, one statement each, as polyvisord's sampler does), then
 * roll them up; report rows per second and bytes per sample (the database
 * file's growth, measured with the WAL checkpointed, over the rows added).
 * Prints Markdown rows on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include "db/db.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

int main(int argc, char **argv)
{
    struct pv_error e = {0};
    int intervals = argc > 2 ? atoi(argv[2]) : 10;
    int64_t t = 1893456000, rows = 0, per = 0; /* 2030-01-01, clear of real samples */
    long long before, after;
    double spent = 0, t0, roll;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_metrics DB [INTERVALS]\n");
        return 2;
    }
    if (pv_db_init(argv[1], &e)) {
        fprintf(stderr, "bench_metrics: %s\n", e.message);
        return 1;
    }
    pv_db_shutdown(); /* checkpoint: measure the file alone */
    before = file_size(argv[1]);
    if (pv_db_init(argv[1], &e))
        return 1;
    for (int i = 0; i < intervals; i++) {
        t0 = now_s();
        if (pv_db_metrics_sample(t + 60 * i, &per, &e)) {
            fprintf(stderr, "bench_metrics: %s\n", e.message);
            return 1;
        }
        spent += now_s() - t0;
        rows += per;
    }
    t0 = now_s();
    pv_db_metrics_rollup(t, t + 60 * intervals, &e);
    roll = now_s() - t0;
    pv_db_shutdown();
    after = file_size(argv[1]);
    printf("| monitoring ingest: %lld samples per interval (hosts + active VMs), %d intervals | "
           "%.3f s per interval, **%.0f rows/s**, **%.0f bytes per sample** | <= 512 B |\n",
           (long long)per, intervals, spent / intervals, rows / spent,
           (double)(after - before) / (double)rows);
    printf("| roll-up of those samples into five-minute averages | %.3f s | |\n", roll);
    return 0;
}
