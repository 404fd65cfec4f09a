/* httpc.c -- see httpc.h.
 *
 * Decisions worth knowing:
 *   - curl_global_init is not thread-safe: it runs once (pthread_once)
 *     before the first handle, whichever adapter makes it.
 *   - The session cookie is parsed from Set-Cookie here rather than left to
 *     curl's cookie engine: vCenter quotes the value and adds Path=/, vcsim
 *     does neither, and a unit test can check the parser on its own.
 *   - Headers are copied into the session's own curl_slist at creation;
 *     credentials are copied too and wiped when the session is freed.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include "httpc.h"

#define COOKIE_MAX 512

struct pv_httpc {
    CURL *curl;
    struct curl_slist *headers;
    char *base;
    char *peer;
    char *cookie_name;
    char cookie[COOKIE_MAX];     /* "name=value" or "" */
    char *ca_pem;
    char *ca_file;
    char *userpwd;               /* "user:pass", or NULL; wiped on free */
    int auth_ntlm;
    int insecure;
    int connect_timeout_ms;
    int timeout_ms;
    int retries;
    size_t max_response;
};

/* What a write callback fills. */
struct sink {
    struct pv_buf *b;
    size_t max;
    int too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t add = size * n;

    if (s->b->len + add > s->max) {
        s->too_big = 1;
        return 0;
    }
    return pv_buf_add(s->b, p, add) == 0 ? add : 0;
}

int pv_httpc_parse_set_cookie(const char *line, size_t len, const char *name, char *out,
                              size_t size)
{
    static const char hdr[] = "set-cookie:";
    size_t nlen = strlen(name), i = 0, vstart, vend;

    if (len >= sizeof hdr - 1 && strncasecmp(line, hdr, sizeof hdr - 1) == 0)
        i = sizeof hdr - 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (len - i <= nlen || strncmp(line + i, name, nlen) != 0 || line[i + nlen] != '=')
        return 0;
    vstart = i + nlen + 1;
    vend = vstart;
    if (vend < len && line[vend] == '"') { /* quoted: up to the closing quote */
        vend++;
        while (vend < len && line[vend] != '"' && line[vend] != '\r' && line[vend] != '\n')
            vend++;
        if (vend >= len || line[vend] != '"')
            return 0;
        vend++;
    } else {
        while (vend < len && line[vend] != ';' && line[vend] != '\r' && line[vend] != '\n' &&
               line[vend] != ' ' && line[vend] != '\t')
            vend++;
    }
    if (vend == vstart || nlen + 1 + (vend - vstart) + 1 > size)
        return 0;
    snprintf(out, size, "%s=%.*s", name, (int)(vend - vstart), line + vstart);
    return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct pv_httpc *h = ud;
    size_t len = size * n;
    char c[COOKIE_MAX];

    if (h->cookie_name && pv_httpc_parse_set_cookie(p, len, h->cookie_name, c, sizeof c))
        memcpy(h->cookie, c, sizeof c);
    return len;
}

/* The session's TLS, timeouts, headers and auth on handle c. */
static void common_options(const struct pv_httpc *h, CURL *c)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->userpwd) {
        curl_easy_setopt(c, CURLOPT_USERPWD, h->userpwd);
        /* Basic goes out with the first request; NTLM's handshake
         * authenticates the reused TCP connection once. */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)(h->auth_ntlm ? CURLAUTH_NTLM : CURLAUTH_BASIC));
    }
    if (h->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (h->ca_pem) {
        /* pinned: this certificate (or CA) and nothing else is trusted */
        struct curl_blob blob = {h->ca_pem, strlen(h->ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    } else if (h->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    }
}

static int dup_or_null(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return s && !*out ? -1 : 0;
}

int pv_httpc_new(const struct pv_httpc_opts *o, struct pv_httpc **out, struct pv_error *err)
{
    struct pv_httpc *h;
    int rc = 0;

    *out = NULL;
    pthread_once(&curl_once, curl_setup);
    if (!o->base_url ||
        (strncmp(o->base_url, "https://", 8) != 0 && strncmp(o->base_url, "http://", 7) != 0))
        return pv_fail(err, invalid_url, "the endpoint's url must be https://HOST[:PORT][/PATH]");
    h = calloc(1, sizeof *h);
    if (!h || !(h->curl = curl_easy_init()) || dup_or_null(o->base_url, &h->base) ||
        dup_or_null(o->peer ? o->peer : "endpoint", &h->peer) ||
        dup_or_null(o->cookie_name, &h->cookie_name) || dup_or_null(o->ca_pem, &h->ca_pem) ||
        dup_or_null(o->ca_file, &h->ca_file)) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto fail;
    }
    for (const char *const *hd = o->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(h->headers, *hd);
        if (!l) {
            rc = pv_fail(err, out_of_memory, "out of memory");
            goto fail;
        }
        h->headers = l;
    }
    if (o->username) {
        size_t n = strlen(o->username) + (o->password ? strlen(o->password) : 0) + 2;
        if (!(h->userpwd = malloc(n))) {
            rc = pv_fail(err, out_of_memory, "out of memory");
            goto fail;
        }
        snprintf(h->userpwd, n, "%s:%s", o->username, o->password ? o->password : "");
    }
    h->auth_ntlm = o->auth_ntlm;
    h->insecure = o->insecure;
    h->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    h->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    h->retries = o->retries < 0 ? 0 : o->retries > 5 ? 5 : o->retries;
    h->max_response = o->max_response ? o->max_response : (size_t)64 << 20;
    common_options(h, h->curl);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "polyvisor/1");
    if (o->gzip)
        curl_easy_setopt(h->curl, CURLOPT_ACCEPT_ENCODING, "");
    *out = h;
    return 0;
fail:
    pv_httpc_free(h);
    return rc;
}

void pv_httpc_free(struct pv_httpc *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    if (h->userpwd) {
        memset(h->userpwd, 0, strlen(h->userpwd));
        free(h->userpwd);
    }
    memset(h->cookie, 0, sizeof h->cookie);
    free(h->base);
    free(h->peer);
    free(h->cookie_name);
    free(h->ca_pem);
    free(h->ca_file);
    free(h);
}

static int transport_error(const struct pv_httpc *h, CURLcode cc, struct pv_error *err)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return pv_fail(err, tls_verify_failed,
                       "%s %s: its TLS certificate is not the one trusted for it (%s)", h->peer,
                       h->base, curl_easy_strerror(cc));
    case CURLE_OPERATION_TIMEDOUT:
        return pv_fail(err, timeout, "%s %s did not answer in time", h->peer, h->base);
    default:
        return pv_fail(err, peer_unreachable, "%s %s: %s", h->peer, h->base,
                       curl_easy_strerror(cc));
    }
}

/* The connection failed before an answer: worth another try of an idempotent call. */
static int retryable(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR;
}

static int idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

static void url_of(const struct pv_httpc *h, const char *path, struct pv_buf *url)
{
    pv_buf_reset(url);
    pv_buf_adds(url, h->base);
    if (path) {
        if (url->len && url->s[url->len - 1] == '/' && path[0] == '/')
            path++;
        pv_buf_adds(url, path);
    }
}

int pv_httpc_call(struct pv_httpc *h, const char *method, const char *path, const char *body,
                  size_t len, int timeout_ms, long *status, struct pv_buf *answer,
                  struct pv_error *err)
{
    struct pv_buf url = PV_BUF_INIT;
    struct sink s = {answer, h->max_response, 0};
    int tries = idempotent(method) ? 1 + h->retries : 1, rc = 0;
    CURLcode cc = CURLE_OK;

    *status = 0;
    url_of(h, path, &url);
    if (!url.s)
        return pv_fail(err, out_of_memory, "out of memory");
    curl_easy_setopt(h->curl, CURLOPT_URL, pv_buf_str(&url));
    curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    } else {
        curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : h->timeout_ms));
    curl_easy_setopt(h->curl, CURLOPT_COOKIE, h->cookie[0] ? h->cookie : NULL);
    for (int i = 0; i < tries; i++) {
        pv_buf_reset(answer);
        s.too_big = 0;
        cc = curl_easy_perform(h->curl);
        if (cc == CURLE_OK || !retryable(cc) || i + 1 == tries)
            break;
        usleep((useconds_t)(100000 * (i + 1) * (i + 1)));
    }
    if (s.too_big)
        rc = pv_fail(err, bad_response, "%s %s answered with more than %zu MiB", h->peer, h->base,
                     h->max_response >> 20);
    else if (cc != CURLE_OK)
        rc = transport_error(h, cc, err);
    else
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    pv_buf_free(&url);
    return rc;
}

int pv_httpc_transfer(struct pv_httpc *h, const char *path, FILE *upload, int64_t size,
                      FILE *download, long *status, struct pv_error *err)
{
    CURL *c = curl_easy_init();
    struct pv_buf url = PV_BUF_INIT, discard = PV_BUF_INIT;
    struct sink s = {&discard, (size_t)1 << 20, 0};
    CURLcode cc;
    int rc = 0;

    *status = 0;
    url_of(h, path, &url);
    if (!c || !url.s) {
        if (c)
            curl_easy_cleanup(c);
        pv_buf_free(&url);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    common_options(h, c);
    curl_easy_setopt(c, CURLOPT_URL, pv_buf_str(&url));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* a stalled copy ends */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    if (upload) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READDATA, upload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    } else {
        curl_easy_setopt(c, CURLOPT_WRITEDATA, download);
    }
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK)
        rc = transport_error(h, cc, err);
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    pv_buf_free(&url);
    pv_buf_free(&discard);
    return rc;
}

/* What a stream's callbacks share. */
struct stream {
    CURL *c;
    pv_httpc_stream_fn fn;
    void *ctx;
    int opened, stopped;
};

static long stream_status(CURL *c)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* The blank line that ends a header block: the status is known (a 100
 * Continue or a redirect block ends the same way; they carry no body). */
static size_t on_stream_header(char *p, size_t size, size_t n, void *ud)
{
    struct stream *s = ud;
    size_t len = size * n;
    long status = stream_status(s->c);

    if (!s->opened && (len == 2 || len == 1) && (p[0] == '\r' || p[0] == '\n') && status >= 200) {
        s->opened = 1;
        if (s->fn(s->ctx, status, NULL, 0)) {
            s->stopped = 1;
            return 0;
        }
    }
    return len;
}

static size_t on_stream_data(char *p, size_t size, size_t n, void *ud)
{
    struct stream *s = ud;

    if (s->fn(s->ctx, stream_status(s->c), p, size * n)) {
        s->stopped = 1;
        return 0;
    }
    return size * n;
}

int pv_httpc_stream(struct pv_httpc *h, const char *path, pv_httpc_stream_fn fn, void *ctx,
                    struct pv_error *err)
{
    struct stream s = {curl_easy_init(), fn, ctx, 0, 0};
    struct pv_buf url = PV_BUF_INIT;
    CURLcode cc;
    int rc = 0;

    url_of(h, path, &url);
    if (!s.c || !url.s) {
        if (s.c)
            curl_easy_cleanup(s.c);
        pv_buf_free(&url);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    common_options(h, s.c);
    curl_easy_setopt(s.c, CURLOPT_URL, pv_buf_str(&url));
    curl_easy_setopt(s.c, CURLOPT_HEADERFUNCTION, on_stream_header);
    curl_easy_setopt(s.c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, on_stream_data);
    curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
    /* no total timeout, but a peer gone silent (no byte for a minute; an
     * event stream sends a heartbeat far more often) is a timeout */
    curl_easy_setopt(s.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s.c, CURLOPT_LOW_SPEED_TIME, 60L);
    cc = curl_easy_perform(s.c);
    if (cc != CURLE_OK && !s.stopped)
        rc = transport_error(h, cc, err);
    curl_easy_cleanup(s.c);
    pv_buf_free(&url);
    return rc;
}

const char *pv_httpc_cookie(const struct pv_httpc *h)
{
    return h->cookie;
}

void pv_httpc_forget_cookie(struct pv_httpc *h)
{
    memset(h->cookie, 0, sizeof h->cookie);
}

char *pv_httpc_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct pv_buf b = PV_BUF_INIT;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            pv_buf_add(&b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            pv_buf_add(&b, e, 3);
        }
    }
    {
        char *r = pv_buf_detach(&b);
        return r ? r : strdup("");
    }
}
