/* spec.c -- the agent's VM spec: its shape, checked before anything is
 * made, and the libvirt domain XML written from it.  Nothing here asks
 * libvirt: what the spec names on this host (pools, networks, existing
 * disks) is virt.c's to check, so this file is tested on its own
 * (tests/unit/test_spec.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlwriter.h>
#include "spec.h"

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64 || s[0] == '.' || s[0] == '-')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int spec_error(struct pv_error *err, const char *field, const char *msg)
{
    return pv_fail(err, invalid_spec, "%s: %s", field, msg);
}

/* 8-4-4-4-12 lowercase hex digits, as libvirt writes them */
int ag_uuid_ok(const char *u)
{
    if (!u || strlen(u) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
            return 0;
    return 1;
}

int ag_spec_check(const json_t *spec, struct pv_error *err)
{
    static const char *const keys[] = {"name", "vcpus", "memory_mb", "paravirtual", "disks",
                                       "nics", "boot", "uuid"};
    const char *key;
    json_t *v, *item;
    size_t i;

    if (!json_is_object(spec))
        return spec_error(err, "spec", "must be a JSON object");
    json_object_foreach((json_t *)spec, key, v) {
        size_t k;
        for (k = 0; k < sizeof keys / sizeof keys[0] && strcmp(keys[k], key) != 0; k++)
            ;
        if (k == sizeof keys / sizeof keys[0])
            return pv_fail(err, unknown_field, "unknown field '%.64s'", key);
    }
    v = json_object_get(spec, "name");
    if (!json_is_string(v) || !name_ok(json_string_value(v)))
        return pv_fail(err, invalid_name,
                            "name: 1 to 64 of letters, digits, '.', '_', '-' (no '/', no XML "
                            "characters), not starting with '.' or '-'");
    v = json_object_get(spec, "uuid");
    if (v && !ag_uuid_ok(json_string_value(v)))
        return spec_error(err, "uuid", "a UUID like 5e1f0000-0000-4000-8000-000000000001");
    v = json_object_get(spec, "vcpus");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 256)
        return spec_error(err, "vcpus", "a whole number from 1 to 256");
    v = json_object_get(spec, "memory_mb");
    if (!json_is_integer(v) || json_integer_value(v) < 16 || json_integer_value(v) > 16777216)
        return spec_error(err, "memory_mb", "a whole number from 16 to 16777216");
    v = json_object_get(spec, "paravirtual");
    if (v && !json_is_boolean(v))
        return spec_error(err, "paravirtual", "true or false");
    v = json_object_get(spec, "disks");
    if (v && (!json_is_array(v) || json_array_size(v) > 16))
        return spec_error(err, "disks", "an array of at most 16 disks");
    json_array_foreach(v, i, item) {
        json_t *path = json_object_get(item, "path"), *size = json_object_get(item, "size_gb");
        json_t *pool = json_object_get(item, "pool");
        if (json_is_object(item) && json_is_integer(size) && json_object_size(item) == 1 + !!pool) {
            if (json_integer_value(size) < 1 || json_integer_value(size) > 65536)
                return spec_error(err, "disks", "size_gb is a whole number from 1 to 65536");
            if (pool && !json_is_string(pool))
                return spec_error(err, "disks", "pool is the name of a storage pool");
            continue;
        }
        if (!json_is_object(item) || !json_is_string(path) || json_object_size(item) != 1)
            return spec_error(err, "disks", "each disk is {\"path\": \"/existing/image\"} or "
                                            "{\"size_gb\": N, \"pool\": \"default\"}");
        if (json_string_value(path)[0] != '/' || strstr(json_string_value(path), "/../"))
            return spec_error(err, "disks", "a disk path must be absolute, without '..'");
    }
    v = json_object_get(spec, "nics");
    if (v && (!json_is_array(v) || json_array_size(v) > 16))
        return spec_error(err, "nics", "an array of at most 16 NICs");
    json_array_foreach(v, i, item) {
        json_t *net = json_object_get(item, "network"), *br = json_object_get(item, "bridge");
        if (!json_is_object(item) || json_object_size(item) != 1 ||
            !(json_is_string(net) || json_is_string(br)))
            return spec_error(err, "nics", "each NIC is {\"network\": NAME} or {\"bridge\": NAME}");
        if (!json_is_string(net) && !name_ok(json_string_value(br))) {
            return spec_error(err, "nics", "a bridge name is letters, digits, '.', '_', '-'");
        }
    }
    v = json_object_get(spec, "boot");
    if (v && !json_is_array(v))
        return spec_error(err, "boot", "an array of \"hd\", \"network\", \"cdrom\"");
    json_array_foreach(v, i, item) {
        const char *b = json_string_value(item);
        if (!b || (strcmp(b, "hd") != 0 && strcmp(b, "network") != 0 && strcmp(b, "cdrom") != 0))
            return spec_error(err, "boot", "each entry is \"hd\", \"network\" or \"cdrom\"");
    }
    return 0;
}

char *ag_spec_domain_xml(const json_t *spec, const char *type, int balloon)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    int pv = !json_is_false(json_object_get(spec, "paravirtual"));
    json_t *item, *boot = json_object_get(spec, "boot");
    size_t i;
    char *out = NULL;

    if (!w) {
        xmlBufferFree(buf);
        return NULL;
    }
    xmlTextWriterStartElement(w, BAD_CAST "domain");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST type);
    xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST json_string_value(json_object_get(spec, "name")));
    if (json_is_string(json_object_get(spec, "uuid")))
        xmlTextWriterWriteElement(w, BAD_CAST "uuid",
                                  BAD_CAST json_string_value(json_object_get(spec, "uuid")));
    xmlTextWriterStartElement(w, BAD_CAST "memory");
    xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB");
    xmlTextWriterWriteFormatString(w, "%lld", (long long)json_integer_value(json_object_get(spec, "memory_mb")));
    xmlTextWriterEndElement(w);
    xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%lld",
                                    (long long)json_integer_value(json_object_get(spec, "vcpus")));
    xmlTextWriterStartElement(w, BAD_CAST "os");
    xmlTextWriterWriteElement(w, BAD_CAST "type", BAD_CAST "hvm");
    if (!json_array_size(boot)) {
        xmlTextWriterStartElement(w, BAD_CAST "boot");
        xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST "hd");
        xmlTextWriterEndElement(w);
    }
    json_array_foreach(boot, i, item) {
        xmlTextWriterStartElement(w, BAD_CAST "boot");
        xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST json_string_value(item));
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w); /* os */
    if (strcmp(type, "test") != 0) {
        /* ACPI: the guest's power button (a graceful shutdown) and the PCI
         * hot-plug that adding a disk or NIC to a running VM needs */
        xmlTextWriterStartElement(w, BAD_CAST "features");
        xmlTextWriterStartElement(w, BAD_CAST "acpi");
        xmlTextWriterEndElement(w);
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterStartElement(w, BAD_CAST "devices");
    json_array_foreach(json_object_get(spec, "disks"), i, item) {
        char dev[8];
        snprintf(dev, sizeof dev, "%s%c", pv ? "vd" : "sd", (char)('a' + i));
        xmlTextWriterStartElement(w, BAD_CAST "disk");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file");
        xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk");
        if (json_is_string(json_object_get(item, "format"))) { /* a volume made for it */
            xmlTextWriterStartElement(w, BAD_CAST "driver");
            xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu");
            xmlTextWriterWriteAttribute(w, BAD_CAST "type",
                                        BAD_CAST json_string_value(json_object_get(item, "format")));
            xmlTextWriterEndElement(w);
        }
        xmlTextWriterStartElement(w, BAD_CAST "source");
        xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST json_string_value(json_object_get(item, "path")));
        xmlTextWriterEndElement(w);
        xmlTextWriterStartElement(w, BAD_CAST "target");
        xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev);
        xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST(pv ? "virtio" : "sata"));
        xmlTextWriterEndElement(w);
        xmlTextWriterEndElement(w);
    }
    json_array_foreach(json_object_get(spec, "nics"), i, item) {
        json_t *net = json_object_get(item, "network");
        xmlTextWriterStartElement(w, BAD_CAST "interface");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(net ? "network" : "bridge"));
        xmlTextWriterStartElement(w, BAD_CAST "source");
        xmlTextWriterWriteAttribute(w, BAD_CAST(net ? "network" : "bridge"),
                                    BAD_CAST json_string_value(net ? net : json_object_get(item, "bridge")));
        xmlTextWriterEndElement(w);
        xmlTextWriterStartElement(w, BAD_CAST "model");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(pv ? "virtio" : "e1000"));
        xmlTextWriterEndElement(w);
        xmlTextWriterEndElement(w);
    }
    if (pv && balloon) {
        xmlTextWriterStartElement(w, BAD_CAST "memballoon");
        xmlTextWriterWriteAttribute(w, BAD_CAST "model", BAD_CAST "virtio");
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w); /* devices */
    xmlTextWriterEndElement(w); /* domain */
    if (xmlTextWriterEndDocument(w) >= 0)
        out = strdup((const char *)xmlBufferContent(buf));
    xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    return out;
}
