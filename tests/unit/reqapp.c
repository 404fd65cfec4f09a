/* reqapp.c -- see reqapp.h. */
#include <stdlib.h>
#include <string.h>
#include "lib/httpd.h"
#include "server/http/auth.h"
#include "tests/unit/loopback.h"
#include "tests/unit/reqapp.h"

static void (*test_handler)(struct pv_req *r);
static enum MHD_Result (*test_stream_queue)(struct MHD_Connection *c, void *stream);
static struct pv_httpd *srv;

/* lib/httpd allocates the request's state (app.state_size) and frees it;
 * this ends what the state holds. */
static void req_done(void *state)
{
    struct pv_req *r = state;
    json_decref(r->json);
    free(r->text);
}

static int admit(void *ctx, struct pv_httpd_req *hr, struct pv_error *err)
{
    struct pv_req *r = hr->state;
    (void)ctx;

    r->conn = hr->conn;
    r->method = hr->method;
    r->path = hr->url;
    r->client = hr->client;
    if (strncmp(hr->url, "/public/", 8) == 0)
        return 0;
    return pv_auth_request(r, err);
}

static enum MHD_Result handle(void *ctx, struct pv_httpd_req *hr)
{
    struct pv_req *r = hr->state;
    enum MHD_Result ret;
    (void)ctx;

    r->body = hr->body.len ? hr->body.s : NULL;
    r->body_len = hr->body.len;
    test_handler(r);
    if (r->stream && test_stream_queue)
        return test_stream_queue(hr->conn, r->stream);
    {
        struct pv_httpd_reply rep = {.status = r->status ? r->status : 500, .json = r->json};
        r->json = NULL; /* sent (and freed) */
        ret = pv_httpd_send_reply(hr->conn, &rep);
    }
    return ret;
}

static const struct pv_httpd_app app = {NULL, sizeof(struct pv_req), admit, handle, req_done};

int reqapp_start(void (*handler)(struct pv_req *r),
                 enum MHD_Result (*stream_queue)(struct MHD_Connection *c, void *stream), int *port)
{
    static struct pv_httpd_opts o;
    struct pv_error e = {0};

    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.max_body = 65536;
    o.app = &app;
    test_handler = handler;
    test_stream_queue = stream_queue;
    if (lb_start(&o, &srv, &e) != 0)
        return -1;
    *port = o.port;
    return 0;
}

void reqapp_stop(void)
{
    pv_httpd_stop(srv);
    srv = NULL;
}
