"""Extrinsic methods of the Hyper-V WMI v2 classes, with Hyper-V's return codes.

Each handler gets the host, the target instance, and the parsed <Method>_INPUT children, and
returns (ReturnValue, [output parameters]).  Handlers speak the 32768.. codes below; invoke()
translates them for Msvm_VirtualSystemManagementService, whose v2 methods are documented with
the generic CIM codes (1 Not Supported, 2 Failed, 4 Invalid Parameter, 5 Invalid State).  Long operations create an Msvm_ConcreteJob and
answer 4096 ("Method Parameters Checked - Job Started") with a Job reference; the change to
the world happens when the job completes (jobs.py).  Errors a real host reports as a return
code are return codes here too:

    32768 Failed                 32769 Access Denied          32770 Not Supported
    32771 Status is unknown      32772 Timeout                32773 Invalid parameter
    32774 System is in use       32775 Invalid state for this operation
    32776 Incorrect data type    32777 System is not available 32778 Out of memory

Runs with World.lock held.
"""

import time
import uuid

import cim
import model
from jobs import Job, JobFailure
from model import OFF, PAUSED, RUNNING, SAVED, SHUTTING_DOWN, STARTING

STARTED = 4096
FAILED, ACCESS_DENIED, NOT_SUPPORTED = 32768, 32769, 32770
INVALID_PARAMETER, IN_USE, INVALID_STATE, INCORRECT_TYPE = 32773, 32774, 32775, 32776
NOT_AVAILABLE, OUT_OF_MEMORY = 32777, 32778


class Output:
    """One output parameter: kind is 'scalar', 'ref', 'refs', 'embedded' or 'embeddeds'."""

    def __init__(self, name, kind, value, cls=None):
        self.name, self.kind, self.value, self.cls = name, kind, value, cls


def _job(world, host, kind, description, apply, affected=None, on_fail=None):
    fail = host.faults["fail_jobs"].pop(0) if host.faults["fail_jobs"] else None
    job = Job(host.name, kind, description, world.job_duration(), apply, affected=affected,
              fail=fail, on_fail=on_fail)
    host.jobs[job.id] = job
    world.changed()
    return job


def _scalar(params, name):
    els = params.get(name)
    if not els or cim.is_nil(els[0]):
        return None
    return (els[0].text or "").strip()


def _uint(params, name):
    v = _scalar(params, name)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        raise _Ret(INCORRECT_TYPE)


class _Ret(Exception):
    def __init__(self, code):
        self.code = code


def _set_state(vm, state):
    if vm.state != state:
        vm.last_state_change = time.time()
    if state in (RUNNING, PAUSED) and vm.state not in (RUNNING, PAUSED):
        vm.started_at = time.time()
    if state in (OFF, SAVED):
        vm.started_at = None
    vm.state = state


# ---- Msvm_ComputerSystem.RequestStateChange ---------------------------------------------

# (current state, requested) -> (job kind, transitional state or None, final state)
_TRANSITIONS = {
    (OFF, 2): ("start", STARTING, RUNNING),
    (SAVED, 2): ("start", STARTING, RUNNING),
    (PAUSED, 2): ("resume", None, RUNNING),
    (RUNNING, 3): ("off", SHUTTING_DOWN, OFF),
    (PAUSED, 3): ("off", SHUTTING_DOWN, OFF),
    (SAVED, 3): ("off", None, OFF),              # discards the saved state
    (RUNNING, 9): ("pause", None, PAUSED),
    (RUNNING, 6): ("save", None, SAVED),
    (PAUSED, 6): ("save", None, SAVED),
    (RUNNING, 10): ("reboot", STARTING, RUNNING),
    (RUNNING, 11): ("reboot", STARTING, RUNNING),
    # The v2 page documents Reboot (10) as "state transition from Off or Saved to Running".
    (OFF, 10): ("start", STARTING, RUNNING),
    (SAVED, 10): ("start", STARTING, RUNNING),
}
_DESCRIPTIONS = {"start": "Turning on virtual machine", "resume": "Resuming virtual machine",
                 "off": "Turning off virtual machine", "pause": "Pausing virtual machine",
                 "save": "Saving virtual machine", "reboot": "Restarting virtual machine"}


def request_state_change(world, host, inst, params):
    vm = host.vms.get(inst["Name"].upper())
    if vm is None:
        return NOT_SUPPORTED, []            # the host's own computer system
    want = _uint(params, "RequestedState")
    if want is None:
        return INVALID_PARAMETER, []
    # v2 documents 32775 for "the value specified in RequestedState is not supported" too
    # (4 Shut Down is V1-only; 7, 8 and the 327xx transition values are not requestable).
    if want not in (2, 3, 6, 9, 10, 11):
        return INVALID_STATE, []
    if vm.busy:
        return INVALID_STATE, []
    t = _TRANSITIONS.get((vm.state, want))
    if t is None:
        return INVALID_STATE, []
    kind, transitional, final = t
    before = vm.state
    vm.requested_state = want
    vm.busy = kind
    if transitional is not None:
        _set_state(vm, transitional)

    def apply():
        vm.busy = None
        if vm.guid not in host.vms:
            raise JobFailure("The virtual machine no longer exists on this host.")
        if kind == "start" and before != PAUSED:
            others = model.host_used_mb(host) - vm.memory_mb
            if others + vm.memory_mb > host.memory_mb:
                raise JobFailure("'%s' could not initialize. Not enough memory in the system "
                                 "to start the virtual machine %s." % (vm.name, vm.name),
                                 OUT_OF_MEMORY)
        _set_state(vm, final)
        if kind == "reboot":
            vm.started_at = time.time()

    def on_fail():
        vm.busy = None
        _set_state(vm, before)

    job = _job(world, host, kind, _DESCRIPTIONS[kind], apply, affected=vm.guid, on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


# ---- Msvm_ShutdownComponent.InitiateShutdown --------------------------------------------

def _guest_action(world, host, inst, params, reboot):
    """InitiateShutdown / InitiateReboot(Force, Reason): no Job parameter; 0 means the guest
    was asked, and the VM then goes 4 -> 3 (shutdown) or 10 -> 2 (reboot) over a job time."""
    vm = host.vms.get(inst["SystemName"].upper())
    if vm is None or vm.state != RUNNING or vm.busy:
        return INVALID_STATE, []
    force = (_scalar(params, "Force") or "false").lower() in ("true", "1")
    vm.busy = "reboot" if reboot else "shutdown"
    vm.requested_state = 10 if reboot else 3
    _set_state(vm, STARTING if reboot else SHUTTING_DOWN)

    def apply():
        vm.busy = None
        _set_state(vm, RUNNING if reboot else OFF)
        if reboot:
            vm.started_at = time.time()

    def on_fail():
        vm.busy = None
        _set_state(vm, RUNNING)

    what = "Restarting guest" if reboot else "Shutting down guest"
    job = Job(host.name, vm.busy, what + (" (forced)" if force else ""),
              world.job_duration(), apply, affected=vm.guid, on_fail=on_fail)
    job.hidden = True
    host.jobs[job.id] = job
    return 0, []


def initiate_shutdown(world, host, inst, params):
    return _guest_action(world, host, inst, params, reboot=False)


def initiate_reboot(world, host, inst, params):
    return _guest_action(world, host, inst, params, reboot=True)


# ---- Msvm_VirtualSystemManagementService ------------------------------------------------

def _embedded(params, name, many=False):
    els = params.get(name) or []
    out = []
    for el in els:
        if cim.is_nil(el):
            continue
        try:
            out.append(cim.parse_embedded_instance(el.text or ""))
        except ValueError:
            raise _Ret(INVALID_PARAMETER)
    if many:
        return out
    return out[0] if out else None


def _epr(params, name):
    els = params.get(name) or []
    out = []
    for el in els:
        if cim.is_nil(el):
            continue
        try:
            out.append(cim.parse_epr(el))
        except ValueError:
            raise _Ret(INVALID_PARAMETER)
    return out


def _vm_from_epr(host, params, name):
    refs = _epr(params, name)
    if not refs:
        raise _Ret(INVALID_PARAMETER)
    cls, keys = refs[0]
    if cls != "Msvm_ComputerSystem":
        raise _Ret(INVALID_PARAMETER)
    vm = host.vms.get(keys.get("Name", "").upper())
    if vm is None:
        raise _Ret(NOT_AVAILABLE)
    return vm


def define_system(world, host, inst, params):
    sysset = _embedded(params, "SystemSettings")
    if sysset is None or sysset[0] not in ("Msvm_VirtualSystemSettingData",
                                           "CIM_VirtualSystemSettingData"):
        return INVALID_PARAMETER, []
    props = sysset[1]
    name = props.get("ElementName") or "New Virtual Machine"
    subtype = props.get("VirtualSystemSubType") or "Microsoft:Hyper-V:SubType:1"
    if subtype not in ("Microsoft:Hyper-V:SubType:1", "Microsoft:Hyper-V:SubType:2"):
        return INVALID_PARAMETER, []
    gen = int(subtype[-1])
    vcpus, mem, dyn = 1, 1024, False
    for cls, rp in _embedded(params, "ResourceSettings", many=True):
        try:
            if cls == "Msvm_ProcessorSettingData" and rp.get("VirtualQuantity"):
                vcpus = int(rp["VirtualQuantity"])
            elif cls == "Msvm_MemorySettingData" and rp.get("VirtualQuantity"):
                mem = int(rp["VirtualQuantity"])
                dyn = (rp.get("DynamicMemoryEnabled") or "false").lower() == "true"
        except ValueError:
            return INVALID_PARAMETER, []
    if not 1 <= vcpus <= min(240, host.logical) or mem < 32 or mem % 2:
        return INVALID_PARAMETER, []
    notes = props.get("Notes")
    if isinstance(notes, list):
        notes = "\n".join(notes)
    guid = str(uuid.uuid4()).upper()
    vm = model.VM(guid, name, generation=gen, vcpus=vcpus, memory_mb=mem, state=OFF,
                  dynamic_memory=dyn, notes=notes or "")

    def apply():
        host.vms[guid] = vm

    job = _job(world, host, "define", "Creating virtual machine", apply, affected=guid)
    return STARTED, [Output("Job", "ref", model.job_ref(job)),
                     Output("ResultingSystem", "ref", model.vm_ref(vm))]


def destroy_system(world, host, inst, params):
    vm = _vm_from_epr(host, params, "AffectedSystem")
    if vm.busy or vm.state in (RUNNING, PAUSED, STARTING, SHUTTING_DOWN):
        return INVALID_STATE, []
    vm.busy = "destroy"

    def apply():
        host.vms.pop(vm.guid, None)

    def on_fail():
        vm.busy = None

    job = _job(world, host, "destroy", "Deleting virtual machine", apply, affected=vm.guid,
               on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def modify_resource_settings(world, host, inst, params):
    items = _embedded(params, "ResourceSettings", many=True)
    if not items:
        return INVALID_PARAMETER, []
    changes = []
    for cls, props in items:
        iid = (props.get("InstanceID") or "")
        if cls not in ("Msvm_ProcessorSettingData", "Msvm_MemorySettingData"):
            return NOT_SUPPORTED, []
        guid = iid.split(":", 1)[-1].split("\\")[0].upper()
        vm = host.vms.get(guid)
        if vm is None:
            return INVALID_PARAMETER, []
        expect = (model.processor_settings if cls == "Msvm_ProcessorSettingData" else model.memory_settings)(host, vm)
        if iid.lower() != expect["InstanceID"].lower():
            return INVALID_PARAMETER, []
        try:
            qty = int(props["VirtualQuantity"]) if props.get("VirtualQuantity") else None
        except ValueError:
            return INCORRECT_TYPE, []
        dyn = props.get("DynamicMemoryEnabled")
        if cls == "Msvm_ProcessorSettingData":
            if qty is not None and not 1 <= qty <= min(240, host.logical):
                return INVALID_PARAMETER, []
            if qty is not None and qty != vm.vcpus and vm.state != OFF:
                return INVALID_STATE, []
        else:
            if qty is not None and (qty < 32 or qty % 2):
                return INVALID_PARAMETER, []
            if dyn is not None and vm.state != OFF:
                return INVALID_STATE, []
        if vm.busy:
            return INVALID_STATE, []
        changes.append((vm, cls, qty, dyn))

    def apply():
        for vm, cls, qty, dyn in changes:
            if cls == "Msvm_ProcessorSettingData":
                if qty is not None:
                    vm.vcpus = qty
            else:
                if qty is not None:
                    vm.memory_mb = qty
                if dyn is not None:
                    vm.dynamic_memory = dyn.lower() == "true"
            vm.last_config_change = time.time()

    job = _job(world, host, "modify", "Modifying resource settings", apply,
               affected=changes[0][0].guid)
    results = [model.ref(cls, (model.processor_settings if cls == "Msvm_ProcessorSettingData" else model.memory_settings)(host, vm))
               for vm, cls, _, _ in changes]
    return STARTED, [Output("Job", "ref", model.job_ref(job)),
                     Output("ResultingResourceSettings", "refs", results)]


def get_summary_information(world, host, inst, params):
    req = []
    for el in params.get("RequestedInformation") or []:
        if cim.is_nil(el):
            continue
        try:
            req.append(int((el.text or "").strip()))
        except ValueError:
            return INCORRECT_TYPE, []
    refs = _epr(params, "SettingData")
    if refs:
        vms = []
        for cls, keys in refs:
            if cls != "Msvm_VirtualSystemSettingData":
                return INVALID_PARAMETER, []
            guid = keys.get("InstanceID", "").split(":", 1)[-1].upper()
            vm = host.vms.get(guid)
            if vm is None:
                return INVALID_PARAMETER, []
            vms.append(vm)
    else:
        vms = sorted(host.vms.values(), key=lambda v: v.name.lower())
    infos = [model.summary(host, vm, req or None) for vm in vms]
    return 0, [Output("SummaryInformation", "embeddeds", infos,
                      cim.find_class("Msvm_SummaryInformation"))]


# ---- Msvm_VirtualSystemMigrationService.MigrateVirtualSystemToHost ------------------------

def migrate_to_host(world, host, inst, params):
    vm = _vm_from_epr(host, params, "ComputerSystem")
    dest_name = _scalar(params, "DestinationHost")
    if not dest_name:
        return INVALID_PARAMETER, []
    msd = _embedded(params, "MigrationSettingData")
    mtype = 32768
    if msd is not None:
        if msd[0] != "Msvm_VirtualSystemMigrationSettingData":
            return INVALID_PARAMETER, []
        try:
            mtype = int(msd[1].get("MigrationType") or 32768)
        except ValueError:
            return INCORRECT_TYPE, []
    if mtype not in (32768, 32769, 32770, 32771):
        return INVALID_PARAMETER, []
    if mtype != 32768:
        return NOT_SUPPORTED, []
    if vm.busy or vm.state in (STARTING, SHUTTING_DOWN):
        return INVALID_STATE, []
    dest = world.find_host(dest_name)
    if dest is host:
        return INVALID_PARAMETER, []
    vm.busy = "migrate"

    def apply():
        vm.busy = None
        if dest is None:
            raise JobFailure("The Virtual Machine Management Service failed to establish a "
                             "connection for a Virtual Machine migration with host '%s': No "
                             "such host is known. (0x80072AF9)." % dest_name)
        if not dest.reachable:
            raise JobFailure("The Virtual Machine Management Service failed to establish a "
                             "connection for a Virtual Machine migration with host '%s': A "
                             "connection attempt failed because the connected party did not "
                             "properly respond after a period of time. (0x8007274C)." % dest_name)
        if vm.guid in dest.vms:
            raise JobFailure("Virtual machine migration operation for '%s' failed at migration "
                             "destination '%s': a virtual machine with the same identifier "
                             "already exists." % (vm.name, dest.name))
        if vm.state == RUNNING and model.host_used_mb(dest) + vm.memory_mb > dest.memory_mb:
            raise JobFailure("Virtual machine migration operation for '%s' failed at migration "
                             "destination '%s': not enough memory." % (vm.name, dest.name), 32778)
        host.vms.pop(vm.guid, None)
        dest.vms[vm.guid] = vm
        vm.last_config_change = time.time()

    def on_fail():
        vm.busy = None

    job = _job(world, host, "migrate", "Migrating virtual machine", apply, affected=vm.guid,
               on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def check_migratable(world, host, inst, params):
    vm = _vm_from_epr(host, params, "ComputerSystem")
    dest = world.find_host(_scalar(params, "DestinationHost") or "")
    if dest is None or dest is host or vm.busy:
        return FAILED, []
    return 0, []


def job_request_state_change(world, host, inst, params):
    return NOT_SUPPORTED, []          # jobs of this simulator cannot be cancelled


HANDLERS = {
    ("Msvm_ComputerSystem", "RequestStateChange"): request_state_change,
    ("Msvm_ShutdownComponent", "InitiateShutdown"): initiate_shutdown,
    ("Msvm_ShutdownComponent", "InitiateReboot"): initiate_reboot,
    ("Msvm_VirtualSystemManagementService", "DefineSystem"): define_system,
    ("Msvm_VirtualSystemManagementService", "DestroySystem"): destroy_system,
    ("Msvm_VirtualSystemManagementService", "ModifyResourceSettings"): modify_resource_settings,
    ("Msvm_VirtualSystemManagementService", "GetSummaryInformation"): get_summary_information,
    ("Msvm_VirtualSystemMigrationService", "MigrateVirtualSystemToHost"): migrate_to_host,
    ("Msvm_VirtualSystemMigrationService", "CheckVirtualSystemIsMigratable"): check_migratable,
    ("Msvm_ConcreteJob", "RequestStateChange"): job_request_state_change,
}


# The v2 Msvm_VirtualSystemManagementService methods document the generic CIM codes
# (0 ok, 1 Not Supported, 2 Failed, 3 Timeout, 4 Invalid Parameter, 5 Invalid State,
# 4096 Job Started) instead of the 32768.. range the other classes use.
_VSMS_CODES = {FAILED: 2, ACCESS_DENIED: 2, NOT_SUPPORTED: 1, 32771: 2, 32772: 3,
               INVALID_PARAMETER: 4, IN_USE: 5, INVALID_STATE: 5, INCORRECT_TYPE: 4,
               NOT_AVAILABLE: 4, OUT_OF_MEMORY: 2}


def invoke(world, host, cls, inst, method, params):
    h = HANDLERS.get((cls.name, method))
    if h is None:
        code, outputs = NOT_SUPPORTED, []
    else:
        try:
            code, outputs = h(world, host, inst, params)
        except _Ret as r:
            code, outputs = r.code, []
    if cls.name == "Msvm_VirtualSystemManagementService":
        code = _VSMS_CODES.get(code, code)
    return code, outputs
