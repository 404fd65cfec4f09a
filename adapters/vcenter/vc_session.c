/* vc_session.c -- one vSphere session per pv_conn: RetrieveServiceContent,
 * then Login with the connection's user and password; the
 * vmware_soap_session cookie the SOAP layer keeps is the session.  vCenter
 * ends idle sessions (after 30 minutes by default) and then answers
 * NotAuthenticated -- as a SOAP fault from vCenter, or (vcsim) as a
 * NotAuthenticated inside a RetrievePropertiesEx missingSet; either way we
 * log in again once and repeat the call (vc_invoke).  A new session loses
 * the old one's views and filters, so a login bumps session_gen and the
 * inventory code re-creates them.
 *
 * Polyvisor manages VMware through vCenter, never host by host: an endpoint
 * whose apiType is not VirtualCenter is refused.
 */
#include <stdlib.h>
#include <string.h>
#include "lib/stamp.h"
#include "vc.h"

#define LOGOUT_TIMEOUT_MS 3000

int vc_begin(struct pv_soap_writer *sw, const char *method, const char *this_type,
             const char *this_moref, struct pv_error *err)
{
    int rc = pv_soap_writer_begin(sw, 0, 0, err);
    if (rc)
        return rc;
    pv_soap_w_start(sw, method, VIM25);
    pv_soap_w_moref(sw, "_this", this_type, this_moref);
    return 0;
}

xmlNodePtr vc_returnval(struct pv_soap_resp *r)
{
    return r ? pv_xml_child(r->payload, "returnval", NULL) : NULL;
}

/* Send once; on NotAuthenticated log in again and send once more (not while
 * logging in, and not when the login itself fails). */
int vc_invoke(struct pv_conn *c, struct pv_soap_writer *sw, int timeout_ms,
              struct pv_soap_resp **out, struct pv_error *err)
{
    struct pv_error e = {0};
    char *xml = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = pv_soap_writer_finish(sw, &xml, &len, err);
    if (rc)
        return rc;
    rc = pv_soap_call(c->soap, xml, len, timeout_ms, out, &e);
    if (rc == PV_EAUTH && pv_error_is(&e, PV_CODE_not_authenticated) && !c->in_login) {
        rc = vc_login(c, &e);
        if (!rc)
            rc = pv_soap_call(c->soap, xml, len, timeout_ms, out, &e);
    }
    /* stamped on receipt: a long poll's answer holds the state it returned with */
    c->read_stamp = pv_stamp_next();
    if (rc && err)
        *err = e;
    memset(xml, 0, len); /* a Login envelope holds the password */
    free(xml);
    return rc;
}

static int service_content(struct pv_conn *c, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    xmlNodePtr rv;
    char api[64] = "";
    int rc;

    if ((rc = vc_begin(&sw, "RetrieveServiceContent", "ServiceInstance", "ServiceInstance", err)))
        return rc;
    c->in_login = 1; /* no session yet: nothing to re-login for */
    rc = vc_invoke(c, &sw, 0, &r, err);
    c->in_login = 0;
    if (rc)
        return rc;
    rv = vc_returnval(r);
    pv_xml_text(pv_xml_child(rv, "rootFolder", NULL), c->root_folder, sizeof c->root_folder);
    pv_xml_text(pv_xml_child(rv, "propertyCollector", NULL), c->property_collector,
                sizeof c->property_collector);
    pv_xml_text(pv_xml_child(rv, "viewManager", NULL), c->view_manager, sizeof c->view_manager);
    pv_xml_text(pv_xml_child(rv, "sessionManager", NULL), c->session_manager,
                sizeof c->session_manager);
    pv_xml_text(pv_xml_child(rv, "searchIndex", NULL), c->search_index, sizeof c->search_index);
    pv_xml_text(pv_xml_path(rv, "about/fullName"), c->about, sizeof c->about);
    pv_xml_text(pv_xml_path(rv, "about/instanceUuid"), c->instance_uuid,
                sizeof c->instance_uuid);
    pv_xml_text(pv_xml_path(rv, "about/apiType"), api, sizeof api);
    pv_soap_resp_free(r);
    if (!c->root_folder[0] || !c->property_collector[0] || !c->view_manager[0] ||
        !c->session_manager[0])
        return pv_fail(err, bad_response,
                            "%s answered RetrieveServiceContent without the managers we need", c->url);
    if (strcmp(api, "VirtualCenter") != 0)
        return pv_fail(err, not_vcenter,
                            "%s is %s (apiType %s), not a vCenter: Polyvisor manages VMware hosts "
                            "through their vCenter", c->url, c->about[0] ? c->about : "an endpoint",
                            api[0] ? api : "unknown");
    return 0;
}

int vc_login(struct pv_conn *c, struct pv_error *err)
{
    struct pv_error e = {0};
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    int rc;

    pv_soap_forget_cookie(c->soap);
    if ((rc = vc_begin(&sw, "Login", "SessionManager", c->session_manager, err)))
        return rc;
    pv_soap_w_text(&sw, "userName", c->username);
    pv_soap_w_text(&sw, "password", c->password ? c->password : "");
    c->in_login = 1;
    rc = vc_invoke(c, &sw, 0, &r, &e);
    c->in_login = 0;
    pv_soap_resp_free(r);
    c->session_gen++;
    vc_forget_session_objects(c);
    if (rc == PV_EAUTH)
        return pv_fail(err, auth_failed, "vCenter %s refused the login of '%s': %s",
                            c->url, c->username, e.message[0] ? e.message : "invalid login");
    if (rc) {
        if (err)
            *err = e;
        return rc;
    }
    if (!pv_soap_cookie(c->soap)[0])
        return pv_fail(err, no_session,
                            "vCenter %s accepted the login but set no session cookie", c->url);
    return rc;
}

int vc_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    struct pv_soap_opts o = {0};
    struct pv_conn *c;
    int rc;

    *out = NULL;
    if (!p->url || (strncmp(p->url, "https://", 8) != 0 && strncmp(p->url, "http://", 7) != 0) ||
        strlen(p->url) >= sizeof c->url)
        return pv_fail(err, invalid_url,
                            "a vcenter connection's url is https://VCENTER/sdk");
    if (!p->username || !*p->username || strlen(p->username) >= sizeof c->username)
        return pv_fail(err, missing_username, "a vcenter connection needs a username");
    if (!p->password)
        return pv_fail(err, missing_password, "a vcenter connection needs a password");
    c = calloc(1, sizeof *c);
    if (!c || !(c->password = strdup(p->password)) || !(c->objs = json_object())) {
        vc_close(c);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    snprintf(c->url, sizeof c->url, "%s", p->url);
    snprintf(c->username, sizeof c->username, "%s", p->username);
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 30000;
    o.url = p->url;
    o.soap_action = "urn:vim25/6.5";
    o.cookie_name = "vmware_soap_session";
    o.insecure = p->insecure;
    o.ca_pem = p->ca_pem;
    o.ca_file = p->ca_file;
    o.timeout_ms = c->timeout_ms;
    if ((rc = pv_soap_new(&o, &c->soap, err)) || (rc = service_content(c, err)) ||
        (rc = vc_login(c, err))) {
        vc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void vc_close(struct pv_conn *c)
{
    if (!c)
        return;
    if (c->soap && pv_soap_cookie(c->soap)[0] && c->session_manager[0]) {
        struct pv_soap_writer sw;
        struct pv_soap_resp *r = NULL;
        c->in_login = 1; /* a dead session needs no re-login to be logged out */
        if (vc_begin(&sw, "Logout", "SessionManager", c->session_manager, NULL) == 0)
            vc_invoke(c, &sw, LOGOUT_TIMEOUT_MS, &r, NULL);
        pv_soap_resp_free(r);
    }
    pv_soap_free(c->soap);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    json_decref(c->objs);
    free(c);
}
