/* stamp.h -- read stamps: numbers that order what a process saw.
 *
 * pv_stamp_next() answers a number larger than any it answered before in
 * this process, starting from the wall clock in microseconds (so it keeps
 * growing across restarts).  An endpoint that stamps each read of an object
 * lets polyvisord keep the later of two reports of it, whichever arrives
 * first (pv_vm_info.version): the agent stamps each domain read, the vcenter
 * adapter each answer it receives.  The one process-wide counter is atomic:
 * lib's only state, as a clock's. */
#ifndef PV_STAMP_H
#define PV_STAMP_H

#include <stdint.h>

uint64_t pv_stamp_next(void);

#endif
