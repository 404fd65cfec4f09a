/* virt_storage.c -- the host's storage pools and networks as the agent
 * reports them (GET /v1/pools, GET /v1/networks), and the `default` pool
 * `make run` gives a host that has none.
 *
 * A pool is an active libvirt storage pool, by UUID.  A network is an
 * active libvirt network (by UUID) or a Linux bridge of the host that no
 * libvirt network owns (native id "bridge:NAME"): a NIC names the first by
 * {"network"} and the second by {"bridge"}, so a bridge and a network of one
 * name stay two networks.  Nothing here changes the host's networking.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <libvirt/virterror.h>
#include "agent.h"
#include "virt.h"

#define MIB (1024.0 * 1024.0)

static xmlDocPtr parse(const char *xml, const char *name)
{
    return xml ? xmlReadMemory(xml, (int)strlen(xml), name, NULL, XML_PARSE_NONET) : NULL;
}

/* Pools another host may reach too (libvirt's network-backed types). */
int ag_virt_shared_kind(const char *type)
{
    static const char *const kinds[] = {"netfs", "iscsi", "iscsi-direct", "rbd", "gluster",
                                        "sheepdog", "vstorage", NULL};
    for (int i = 0; type && kinds[i]; i++)
        if (strcmp(type, kinds[i]) == 0)
            return 1;
    return 0;
}

static json_t *pool_json(virStoragePoolPtr p)
{
    virStoragePoolInfo info;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    char *xml = virStoragePoolGetXMLDesc(p, 0), *type = NULL, *path = NULL;
    xmlDocPtr doc = parse(xml, "pool.xml");
    json_t *out = NULL;

    if (doc) {
        type = ag_virt_xpath_string(doc, "string(/pool/@type)");
        path = ag_virt_xpath_string(doc, "string(/pool/target/path)");
    }
    if (virStoragePoolGetUUIDString(p, uuid) == 0 && virStoragePoolGetInfo(p, &info) == 0)
        out = json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:I,s:b}", "uuid", uuid, "name",
                        virStoragePoolGetName(p), "type", type ? type : "", "path",
                        path && *path ? path : NULL, "capacity_mb",
                        (json_int_t)(info.capacity / MIB), "allocation_mb",
                        (json_int_t)(info.allocation / MIB), "available_mb",
                        (json_int_t)(info.available / MIB), "shared", ag_virt_shared_kind(type));
    free(type);
    free(path);
    xmlFreeDoc(doc);
    free(xml);
    return out;
}

int ag_virt_pools(json_t **out, struct pv_error *err)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(ag_virt_conn(), &pools,
                                          VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);

    if (n < 0)
        return ag_virt_error(err, "list storage pools");
    *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *p = pool_json(pools[i]);
        if (p)
            json_array_append_new(*out, p);
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    virResetLastError();
    return 0;
}

/* ---- networks ----------------------------------------------------------- */

static json_t *network_json(virNetworkPtr n, char **bridge)
{
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    char *xml = virNetworkGetXMLDesc(n, 0), *vlan = NULL, *mode = NULL;
    xmlDocPtr doc = parse(xml, "network.xml");
    json_t *out = NULL;

    *bridge = virNetworkGetBridgeName(n);
    virResetLastError();
    if (doc) {
        vlan = ag_virt_xpath_string(doc, "string(/network/vlan/tag/@id)");
        mode = ag_virt_xpath_string(doc, "string(/network/forward/@mode)");
    }
    if (virNetworkGetUUIDString(n, uuid) == 0)
        out = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "native_id", uuid, "name", virNetworkGetName(n),
                        "kind", "network", "bridge", *bridge, "forward",
                        mode && *mode ? mode : "isolated");
    if (out)
        json_object_set_new(out, "vlan", vlan && *vlan ? json_integer(atoi(vlan)) : json_null());
    free(vlan);
    free(mode);
    xmlFreeDoc(doc);
    free(xml);
    return out;
}

static int owned(json_t *owners, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(owners, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return 1;
    return 0;
}

/* Is the host libvirt describes this machine?  Only then are the bridges
 * in this machine's /sys/class/net the host's: libvirt's test driver
 * describes a made-up host, and a remote URI (qemu+tcp://…, qemu+ssh://…)
 * another machine. */
static int host_is_this_machine(void)
{
    char *uri = virConnectGetURI(ag_virt_conn());
    const char *sep = uri ? strstr(uri, "://") : NULL;
    int local = sep && sep[3] == '/' && strncmp(uri, "test", 4) != 0 &&
                !memchr(uri, '+', (size_t)(sep - uri));

    free(uri);
    return local;
}

int ag_virt_networks(json_t **out, struct pv_error *err)
{
    virNetworkPtr *nets = NULL;
    int n = virConnectListAllNetworks(ag_virt_conn(), &nets, VIR_CONNECT_LIST_NETWORKS_ACTIVE);
    json_t *owners = json_array();
    DIR *d;
    struct dirent *de;

    if (n < 0) {
        json_decref(owners);
        return ag_virt_error(err, "list networks");
    }
    *out = json_array();
    for (int i = 0; i < n; i++) {
        char *bridge = NULL;
        json_t *j = network_json(nets[i], &bridge);
        if (j)
            json_array_append_new(*out, j);
        if (bridge)
            json_array_append_new(owners, json_string(bridge));
        free(bridge);
        virNetworkFree(nets[i]);
    }
    free(nets);
    /* the host's own bridges, but not those a libvirt network made */
    if (host_is_this_machine() && (d = opendir("/sys/class/net"))) {
        while ((de = readdir(d))) {
            char path[512];
            struct stat st;
            if (de->d_name[0] == '.' || owned(owners, de->d_name))
                continue;
            snprintf(path, sizeof path, "/sys/class/net/%s/bridge", de->d_name);
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                char id[300];
                snprintf(id, sizeof id, "bridge:%s", de->d_name);
                json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:s,s:n}", "native_id", id,
                                                      "name", de->d_name, "kind", "bridge",
                                                      "bridge", de->d_name, "vlan"));
            }
        }
        closedir(d);
    }
    json_decref(owners);
    return 0;
}

/* ---- the default pool ---------------------------------------------------- */

int ag_virt_default_pool(const char *dir, struct pv_error *err)
{
    virConnectPtr conn = ag_virt_conn();
    virStoragePoolPtr p = virStoragePoolLookupByName(conn, "default");
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int rc = 0;

    virResetLastError();
    if (p) { /* the host has one: it stays as it is (started when it is not) */
        if (virStoragePoolIsActive(p) == 0 && virStoragePoolCreate(p, 0) < 0)
            rc = ag_virt_error(err, "start the storage pool 'default'");
        virStoragePoolFree(p);
        return rc;
    }
    if (mkdir(dir, 0711) != 0 && errno != EEXIST)
        return pv_fail(err, internal_error, "cannot make %.200s: %s", dir, strerror(errno));
    buf = xmlBufferCreate();
    w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        xmlBufferFree(buf);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    xmlTextWriterStartElement(w, BAD_CAST "pool");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "dir");
    xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST "default");
    xmlTextWriterStartElement(w, BAD_CAST "target");
    xmlTextWriterWriteElement(w, BAD_CAST "path", BAD_CAST dir);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
    xmlFreeTextWriter(w);
    p = virStoragePoolDefineXML(conn, (const char *)xmlBufferContent(buf), 0);
    xmlBufferFree(buf);
    if (!p)
        return ag_virt_error(err, "define the storage pool 'default'");
    if (virStoragePoolCreate(p, 0) < 0 || virStoragePoolSetAutostart(p, 1) < 0)
        rc = ag_virt_error(err, "start the storage pool 'default'");
    virStoragePoolFree(p);
    return rc;
}
