/* hv_session.c -- the hyperv adapter's session with one Hyper-V host's WMI
 * over WS-Management (wsman.c): open and close, the meaning of WMI return
 * codes, the services, and the polling of Msvm_ConcreteJob.
 *
 * A connection is one host: url https://HOST:5986/wsman (http:// only when
 * the user writes it, for a WinRM service with AllowUnencrypted), user name
 * and password (Basic; NTLM with ?auth=ntlm).  Options ride in the URL's
 * query and are stripped before it is used: auth=basic|ntlm, poll=SECONDS
 * (the watch's poll interval, default 2).
 *
 * Long WMI operations answer ReturnValue 4096 and a Job reference; we poll
 * that Msvm_ConcreteJob with Get every JOB_POLL_MS until JobState 7
 * (Completed) or 8/9/10 (Terminated/Killed/Exception, an error carrying the
 * job's ErrorDescription), passing PercentComplete on as progress.  Return
 * codes differ by class (see hv_return_error); the callers turn "invalid
 * state" into the contract's words (already_running ...) since only they
 * know what was asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "adapters/hyperv-wmi/hv.h"

#define JOB_POLL_MS 200
#define JOB_TIMEOUT_S 3600

int hv_guid_ok(const char *s)
{
    if (!s || strlen(s) != HV_GUID_LEN)
        return 0;
    for (int i = 0; i < HV_GUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                                   (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    }
    return 1;
}

void hv_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int hv_return_error(long rv, int vsms, const char *what, struct pv_error *err)
{
    if (vsms) {
        /* Msvm_VirtualSystemManagementService: the generic CIM codes */
        switch (rv) {
        case 1:
            return pv_fail(err, unsupported_by_backend,
                                "%s: not supported by this Hyper-V host (return value 1)", what);
        case 3:
            return pv_fail(err, job_timed_out, "%s: timed out on the host (return value 3)", what);
        case 4:
            return pv_fail(err, invalid_parameter,
                                "%s: the host refused a parameter (return value 4)", what);
        case 5:
            return pv_fail(err, invalid_state,
                                "%s: not possible in the VM's current state (return value 5)", what);
        default:
            break;
        }
    }
    switch (rv) {
    case 32768:
    case 2:
        return pv_fail(err, wmi_failed, "%s failed on the host (return value %ld)", what, rv);
    case 32769:
        return pv_fail(err, access_denied, "%s: access denied (return value 32769)", what);
    case 32770:
        return pv_fail(err, unsupported_by_backend,
                            "%s: not supported by this Hyper-V host (return value 32770)", what);
    case 32771:
        return pv_fail(err, wmi_failed, "%s: status unknown (return value 32771)", what);
    case 32772:
        return pv_fail(err, job_timed_out, "%s: timed out on the host (return value 32772)", what);
    case 32773:
    case 32776:
        return pv_fail(err, invalid_parameter,
                            "%s: the host refused a parameter (return value %ld)", what, rv);
    case 32774:
        return pv_fail(err, vm_busy,
                            "%s: the VM is in use by another operation (return value 32774)", what);
    case 32775:
        return pv_fail(err, invalid_state,
                            "%s: not possible in the VM's current state (return value 32775)", what);
    case 32777:
        return pv_fail(err, not_available,
                            "%s: the system is not available (return value 32777)", what);
    case 32778:
        return pv_fail(err, insufficient_memory,
                            "%s: the host is out of memory (return value 32778)", what);
    default:
        return pv_fail(err, wmi_failed, "%s failed on the host (return value %ld)", what, rv);
    }
}

static long long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Ask the host to end a job we stop waiting for: CIM_ConcreteJob's
 * RequestStateChange(4 Terminate).  Many Hyper-V jobs cannot be stopped
 * (the method answers 32770 or the like); the message says which it was. */
static int cancel_job(struct pv_conn *c, const struct pv_wsman_epr *job,
                      const struct pv_wsman_selector *sel, size_t n, const char *what,
                      struct pv_error *err)
{
    struct pv_wsman_param p = {.name = "RequestedState", .text = "4"};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv = -1;
    int rc;

    rc = pv_wsman_invoke(c->ws, job->resource_uri[0] ? job->resource_uri : PV_WMI_V2 "Msvm_ConcreteJob",
                         "RequestStateChange", sel, n, &p, 1, &r, &out, &rv, NULL);
    pv_soap_resp_free(r);
    if (rc == 0 && (rv == 0 || rv == 4096))
        return pv_fail(err, cancelled, "%s: cancelled; the host's job was terminated",
                            what);
    return pv_fail(err, cancelled,
                        "%s: cancelled; the host could not stop its job (return value %ld), which may "
                        "still finish", what, rv);
}

/* Poll one Msvm_ConcreteJob to its end. */
static int wait_job(struct pv_conn *c, const struct pv_wsman_epr *job, const char *what,
                    const struct pv_sink *s, int p0, int p1, struct pv_error *err)
{
    struct pv_wsman_selector sel[PV_WSMAN_MAX_SELECTORS];
    struct timespec t0;
    size_t n = 0;
    int last = -1;

    for (int i = 0; i < job->nsel; i++) {
        sel[n].name = job->sel[i].name;
        sel[n].value = job->sel[i].value;
        n++;
    }
    if (!pv_wsman_epr_selector(job, "InstanceID"))
        return pv_fail(err, bad_response, "%s: the job reference has no InstanceID", what);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pv_soap_resp *r = NULL;
        xmlNodePtr inst;
        char desc[300];
        int rc, state, pct;

        rc = pv_wsman_get(c->ws, job->resource_uri[0] ? job->resource_uri : PV_WMI_V2 "Msvm_ConcreteJob",
                          sel, n, &r, &inst, err);
        if (rc == PV_ENOTFOUND)
            return pv_fail(err, job_lost,
                                "%s: the host no longer knows its job (was it restarted?)", what);
        if (rc)
            return rc;
        state = (int)pv_wsman_prop_int(inst, "JobState", -1);
        pct = (int)pv_wsman_prop_int(inst, "PercentComplete", 0);
        if (state >= 8 && state <= 10) {
            long long code = pv_wsman_prop_int(inst, "ErrorCode", 0);
            if (!pv_wsman_prop_text(inst, "ErrorDescription", desc, sizeof desc) || !desc[0])
                snprintf(desc, sizeof desc, "the job ended in state %d", state);
            pv_soap_resp_free(r);
            return pv_fail(err, job_failed, "%s failed on the host: %s (error code %lld)",
                                what, desc, code);
        }
        pv_soap_resp_free(r);
        if (pct < 0 || pct > 100)
            pct = 0;
        if (state == 7)
            pct = 100;
        if (s && s->progress && pct != last) {
            s->progress(s->ctx, p0 + (p1 - p0) * pct / 100, what);
            last = pct;
        }
        if (state == 7)
            return 0;
        if (s && s->cancelled && s->cancelled(s->ctx))
            return cancel_job(c, job, sel, n, what, err);
        if (elapsed_ms(&t0) > JOB_TIMEOUT_S * 1000LL)
            return pv_fail(err, job_timed_out, "%s: the host's job did not end in %d s",
                                what, JOB_TIMEOUT_S);
        hv_sleep_ms(JOB_POLL_MS);
    }
}

int hv_finish(struct pv_conn *c, xmlNodePtr output, long rv, int vsms, const char *what,
              const struct pv_sink *s, int p0, int p1, struct pv_error *err)
{
    struct pv_wsman_epr job;
    int rc;

    if (rv == 0) {
        if (s && s->progress)
            s->progress(s->ctx, p1, what);
        return 0;
    }
    if (rv != 4096)
        return hv_return_error(rv, vsms, what, err);
    rc = pv_wsman_epr_parse(pv_wsman_prop(output, "Job"), &job, err);
    if (rc)
        return rc;
    return wait_job(c, &job, what, s, p0, p1, err);
}

int hv_service(struct pv_conn *c, const char *cls, struct hv_service *out, struct pv_error *err)
{
    static const char *const keys[] = {"CreationClassName", "Name", "SystemCreationClassName",
                                       "SystemName"};
    struct pv_wsman_items it = {0};
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->uri, sizeof out->uri, "%s%s", PV_WMI_V2, cls);
    rc = pv_wsman_enumerate(c->ws, out->uri, NULL, &it, err);
    if (rc)
        return rc;
    if (it.n == 0) {
        pv_wsman_items_free(&it);
        return pv_fail(err, unsupported_by_backend,
                            "the host has no %s (is the Hyper-V role installed?)", cls);
    }
    for (size_t i = 0; i < 4; i++) {
        snprintf(out->names[i], sizeof out->names[i], "%s", keys[i]);
        pv_wsman_prop_text(it.item[0], keys[i], out->values[i], sizeof out->values[i]);
        out->sel[i].name = out->names[i];
        out->sel[i].value = out->values[i];
    }
    out->nsel = 4;
    pv_wsman_items_free(&it);
    return 0;
}

/* ---- open / close --------------------------------------------------------------- */

static int parse_url(struct pv_conn *c, const char *url, int *ntlm, struct pv_error *err)
{
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    char opts[256], *save = NULL, *kv, *end = NULL;
    long secs;

    if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) || base >= sizeof c->url)
        return pv_fail(err, invalid_url,
                            "a hyperv connection's url is https://HOST:5986/wsman");
    memcpy(c->url, url, base);
    c->url[base] = '\0';
    if (!q)
        return 0;
    if (strlen(q + 1) >= sizeof opts)
        return pv_fail(err, invalid_url, "the url's options are too long");
    snprintf(opts, sizeof opts, "%s", q + 1);
    for (kv = strtok_r(opts, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *v = strchr(kv, '=');
        if (v)
            *v++ = '\0';
        if (strcmp(kv, "auth") == 0 && v && (strcasecmp(v, "ntlm") == 0 || strcasecmp(v, "basic") == 0)) {
            *ntlm = strcasecmp(v, "ntlm") == 0;
        } else if (strcmp(kv, "poll") == 0 && v && (secs = strtol(v, &end, 10)) >= 1 && secs <= 3600 &&
                   end != v && !*end) {
            c->poll_ms = (int)secs * 1000;
        } else {
            return pv_fail(err, invalid_url,
                                "unknown url option '%s' (known: auth=basic|ntlm, poll=SECONDS)", kv);
        }
    }
    return 0;
}

int hv_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    struct pv_wsman_opts o = {0};
    struct pv_error e = {0};
    struct pv_conn *c;
    int rc, ntlm = 0;

    *out = NULL;
    if (!p->url)
        return pv_fail(err, invalid_url, "a hyperv connection needs a url");
    if (!p->username || !*p->username)
        return pv_fail(err, missing_username, "a hyperv connection needs a username");
    if (!p->password)
        return pv_fail(err, missing_password, "a hyperv connection needs a password");
    c = calloc(1, sizeof *c);
    if (!c)
        return pv_fail(err, out_of_memory, "out of memory");
    c->poll_ms = 2000;
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 30000;
    if ((rc = parse_url(c, p->url, &ntlm, err))) {
        hv_close(c);
        return rc;
    }
    o.url = c->url;
    o.username = p->username;
    o.password = p->password;
    o.ntlm = ntlm;
    o.insecure = p->insecure;
    o.ca_pem = p->ca_pem;
    o.ca_file = p->ca_file;
    o.timeout_ms = c->timeout_ms;
    if ((rc = pv_wsman_new(&o, &c->ws, err))) {
        hv_close(c);
        return rc;
    }
    /* One cheap enumeration (Win32_ComputerSystem, which we need anyway)
     * proves the service answers, takes our credentials (401 otherwise) and
     * lets us read WMI (a limited account gets w:AccessDenied).  Not an
     * authenticated wsmid:Identify: WinRM answers one, but the simulator
     * only answers the unauthenticated kind. */
    rc = hv_host_identity(c, &e);
    if (rc == PV_EAUTH)
        rc = pv_fail(&e, auth_failed,
                          "Hyper-V host %s refused the credentials of '%s' (%s authentication)%s",
                          c->url, p->username, ntlm ? "NTLM" : "Basic",
                          strncmp(c->url, "http://", 7) == 0
                              ? "; over plain HTTP WinRM takes them only when its service allows "
                                "unencrypted traffic (AllowUnencrypted): prefer https on 5986"
                              : "");
    else if (rc == PV_EFORBIDDEN) {
        char why[sizeof e.message];
        memcpy(why, e.message, sizeof why);
        rc = pv_fail(&e, auth_failed, "Hyper-V host %s: '%s' may not read WMI: %s",
                          c->url, p->username, why);
    }
    if (rc) {
        if (err)
            *err = e;
        hv_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void hv_close(struct pv_conn *c)
{
    if (!c)
        return;
    pv_wsman_free(c->ws);
    free(c->seen);
    hv_vms_free(c->cache, c->ncache);
    hv_vhd_sizes_free(c);
    free(c);
}
