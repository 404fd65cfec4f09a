/* ha.h -- host health: deciding that a host has failed, and starting HA.
 *
 * A host whose adapter stops answering turns `disconnected` at once (conns.c
 * notes since when).  If it is still unreachable after host_failure_timeout
 * seconds -- the connection's monitor keeps trying every second or two all
 * along, so a host that answers again (a restarted agent) simply comes back
 * and nothing happens -- this thread marks it `failed`, says so in an event
 * with the reason, and, for endpoints without an HA of their own (kvm and the
 * test adapter), starts an ha.restart job.  For vCenter and Hyper-V clusters,
 * whose own HA restarts VMs, it only reports.
 */
#ifndef PV_HA_H
#define PV_HA_H

#include "adapters/adapter.h"

int pv_ha_start(int host_failure_timeout_s, struct pv_error *err);
void pv_ha_stop(void);

#endif
