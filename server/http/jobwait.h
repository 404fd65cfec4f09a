/* jobwait.h -- GET /api/v1/jobs/{id}?wait=SECONDS, the long poll: a request
 * whose job is not finished parks its connection (libmicrohttpd's suspend,
 * as the event stream does) until the job engine publishes a change of that
 * job or the time is up; then the handler runs again and answers.  No
 * thread waits for it. */
#ifndef PV_JOBWAIT_H
#define PV_JOBWAIT_H

#include <jansson.h>
#include <stdint.h>

struct pv_req;

#define PV_JOBWAIT_MAX_S 60   /* a longer wait is cut to this */

/* Park r's connection until job_id changes or deadline_ms (pv_now_ms)
 * passes; sets r->suspended.  Returns 0, or -1 when the job changed since
 * the caller read it (read it again) or parking is not possible (answer now). */
int pv_jobwait_park(struct pv_req *r, const char *job_id, int64_t deadline_ms,
                    unsigned long long seen);
/* The job events' count: read before reading the job, handed to park. */
unsigned long long pv_jobwait_generation(void);
/* The events publisher: hands on to the event stream and wakes waiters. */
void pv_jobwait_publish(const char *type, const json_t *data);
int pv_jobwait_start(void);
/* Answer every parked request now (before the HTTP daemon stops). */
void pv_jobwait_shutdown(void);

#endif
