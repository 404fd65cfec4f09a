/* spec.h -- the VM spec the agent defines domains from (POST /v1/vms):
 *   {"name", "vcpus", "memory_mb", "paravirtual", "uuid",
 *    "disks": [{"path"} | {"size_gb"[, "pool"]}],
 *    "nics": [{"network"} | {"bridge"}], "boot": ["hd" | "network" | "cdrom"]}
 * Its shape is checked here; what it names on the host, by virt.c. */
#ifndef PV_AG_SPEC_H
#define PV_AG_SPEC_H

#include <jansson.h>
#include "adapters/adapter.h"

/* 0, or invalid_spec / invalid_name / unknown_field naming what is wrong. */
int ag_spec_check(const json_t *spec, struct pv_error *err);
/* Domain XML for a checked spec, of domain type `type` (kvm, qemu, test),
 * disks at their "path" (volumes made for size_gb disks have one by then,
 * and a "format" ("qcow2") that QEMU must open them with, not raw).
 * ACPI on (not for the test driver): hot-plug needs it.  paravirtual (the
 * default): virtio disks and NIC, and a virtio balloon
 * when `balloon`; otherwise SATA disks and e1000.  malloc'd; NULL when out
 * of memory. */
char *ag_spec_domain_xml(const json_t *spec, const char *type, int balloon);
/* 1 for a UUID as libvirt writes it: 8-4-4-4-12 lower-case hex digits. */
int ag_uuid_ok(const char *u);

#endif
