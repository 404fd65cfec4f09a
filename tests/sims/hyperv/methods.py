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
    fails, fail = host.faults["fail_jobs"], None
    if fails and fails[0][2] > 0:             # an injected failure for a later job
        fails[0] = fails[0][:2] + (fails[0][2] - 1,)
    elif fails:
        fail = fails.pop(0)[:2]
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
        if final == RUNNING and not vm.started_once:
            vm.started_once = True
            for _, port in model.vm_devices(vm):
                if port.get("ResourceType") == 10 and port.get("Address") == "000000000000":
                    port["Address"] = model.next_mac(host)

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
    if all(cls == "Msvm_EthernetPortAllocationSettingData" for cls, _ in items):
        return _modify_connections(world, host, items)
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
    if mtype == 32769:
        return _storage_migration(world, host, vm, dest_name, params)
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


# Storage migration (MigrationType 32769, Storage): DestinationHost is the VM's own host;
# NewResourceSettingData holds the VM's Msvm_StorageAllocationSettingData instances whose
# HostResource is the new path (the VHDs not named stay where they are).  Running or not.
# When the job runs vmms copies each file (it fails without room, or when the target
# exists), switches the VM's setting to the copy, and deletes the source.

def _storage_migration(world, host, vm, dest_name, params):
    if world.find_host(dest_name) is not host:
        return INVALID_PARAMETER, []
    items = _embedded(params, "NewResourceSettingData", many=True)
    if not items:
        return INVALID_PARAMETER, []
    moves = []
    for cls, props in items:
        iid = (props.get("InstanceID") or "").lower()
        d = next((d for _, d in model.vm_devices(vm, "Msvm_StorageAllocationSettingData")
                  if d["InstanceID"].lower() == iid), None) if cls == "Msvm_StorageAllocationSettingData" else None
        hr = props.get("HostResource") or []
        if d is None or len(hr) != 1 or len(hr[0]) < 4 or hr[0][1:3] != ":\\" or \
                ".." in hr[0].split("\\"):
            return INVALID_PARAMETER, []
        moves.append((d, d["HostResource"][0], hr[0]))
    if vm.busy or vm.state in (STARTING, SHUTTING_DOWN, SAVED):
        return INVALID_STATE, []
    vm.busy = "migrate"

    def apply():
        vm.busy = None
        for _, old, new in moves:
            f = host.files.get(old.lower())
            vol = model.volume_of(host, new)
            if f is None:
                raise JobFailure("Virtual machine migration operation for '%s' failed: '%s' could not "
                                 "be opened: The system cannot find the file specified. (0x80070002)."
                                 % (vm.name, old))
            if vol is None or new.lower() in host.files:
                raise JobFailure("Virtual machine migration operation for '%s' failed: the system "
                                 "failed to create '%s'. (0x80070050)." % (vm.name, new))
            if f["file_size"] > model.volume_free(host, vol):
                raise JobFailure("Virtual machine migration operation for '%s' failed: There is not "
                                 "enough space on the disk. (0x80070070)." % vm.name)
        for d, old, new in moves:
            f = host.files.pop(old.lower())
            host.files[new.lower()] = dict(f, path=new)
            d["HostResource"] = [new]
        vm.last_config_change = time.time()

    def on_fail():
        vm.busy = None

    job = _job(world, host, "migrate", "Moving virtual machine storage", apply, affected=vm.guid,
               on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def check_migratable(world, host, inst, params):
    vm = _vm_from_epr(host, params, "ComputerSystem")
    dest = world.find_host(_scalar(params, "DestinationHost") or "")
    if dest is None or dest is host or vm.busy:
        return FAILED, []
    return 0, []


# ---- Msvm_ImageManagementService ----------------------------------------------------------
# CreateVirtualHardDisk(VirtualDiskSettingData: embedded Msvm_VirtualHardDiskSettingData with
# Path, Format 2 VHD / 3 VHDX, Type 2 Fixed / 3 Dynamic, MaxInternalSize in bytes) -> Job.
# A malformed request is 32773 (Invalid parameter); what the host finds while making the
# file (no such drive, the file exists, no room for a fixed disk) fails the job with the
# Windows error text, as vmms reports it.

FILE_NOT_FOUND = 32779
_VHD_FORMATS = {2: ".vhd", 3: ".vhdx"}


def create_virtual_hard_disk(world, host, inst, params):
    sd = _embedded(params, "VirtualDiskSettingData")
    if sd is None or sd[0] != "Msvm_VirtualHardDiskSettingData":
        return INVALID_PARAMETER, []
    props = sd[1]
    path = (props.get("Path") or "").strip()
    try:
        fmt = int(props.get("Format") or 0)
        vtype = int(props.get("Type") or 0)
        size = int(props.get("MaxInternalSize") or 0)
        block = int(props.get("BlockSize") or 0) or 32 * 1024 * 1024
    except ValueError:
        return INCORRECT_TYPE, []
    if (fmt not in _VHD_FORMATS or vtype not in (2, 3) or size <= 0 or size % 512 or
            len(path) < 4 or path[1:3] != ":\\" or ".." in path.split("\\") or
            not path.lower().endswith(_VHD_FORMATS[fmt])):
        return INVALID_PARAMETER, []
    vol = model.volume_of(host, path)
    file_size = model.DYNAMIC_VHDX_BYTES if vtype == 3 else size + model.DYNAMIC_VHDX_BYTES

    def apply():
        if vol is None:
            raise JobFailure("Failed to create the virtual hard disk. The system failed to "
                             "create '%s': The system cannot find the path specified. "
                             "(0x80070003)." % path)
        if path.lower() in host.files:
            raise JobFailure("Failed to create the virtual hard disk. The system failed to "
                             "create '%s': The file exists. (0x80070050)." % path)
        if file_size > model.volume_free(host, vol):
            raise JobFailure("Failed to create the virtual hard disk. The system failed to "
                             "create '%s': There is not enough space on the disk. "
                             "(0x80070070)." % path)
        host.files[path.lower()] = {"path": path, "format": fmt, "type": vtype, "max_size": size,
                                    "file_size": file_size, "block_size": block,
                                    "disk_id": str(uuid.uuid4()).upper(), "created": time.time()}

    job = _job(world, host, "vhd", "Creating virtual hard disk", apply)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def get_virtual_hard_disk_setting_data(world, host, inst, params):
    path = (_scalar(params, "Path") or "").lower()
    f = host.files.get(path)
    if f is None:
        return FILE_NOT_FOUND, []
    text = cim.make_embedded_instance("Msvm_VirtualHardDiskSettingData", model.vhd_setting_data(f))
    return 0, [Output("SettingData", "scalar", text)]


# ---- CIM_DataFile.Delete (root\cimv2): 0 success, 2 access denied, 9 invalid object,
# 15 sharing violation (a VHD attached to a VM) ------------------------------------------

def datafile_delete(world, host, inst, params):
    path = inst["Name"].lower()
    if path not in host.files:
        return 9, []
    for vm in host.vms.values():
        for _, d in model.vm_devices(vm, "Msvm_StorageAllocationSettingData"):
            if any((h or "").lower() == path for h in d.get("HostResource") or []):
                return 15, []
    del host.files[path]
    world.changed()
    return 0, []


# ---- Msvm_VirtualSystemManagementService.AddResourceSettings ------------------------------
# AffectedConfiguration: reference to the VM's Msvm_VirtualSystemSettingData;
# ResourceSettings[]: embedded RASDs.  Checked up front (Invalid Parameter): the class and
# ResourceSubType fit together, a drive names a controller of this VM and a free address on
# it, a VHD names a drive, a connection names a port.  Found when the job runs (job fails):
# a VHD file that does not exist, a switch that does not exist.

_SUBTYPES = {
    "Microsoft:Hyper-V:Synthetic SCSI Controller": ("Msvm_ResourceAllocationSettingData", 6),
    "Microsoft:Hyper-V:Synthetic Disk Drive": ("Msvm_ResourceAllocationSettingData", 17),
    "Microsoft:Hyper-V:Virtual Hard Disk": ("Msvm_StorageAllocationSettingData", 31),
    "Microsoft:Hyper-V:Synthetic Ethernet Port": ("Msvm_SyntheticEthernetPortSettingData", 10),
    "Microsoft:Hyper-V:Emulated Ethernet Port": ("Msvm_EmulatedEthernetPortSettingData", 10),
    "Microsoft:Hyper-V:Ethernet Connection": ("Msvm_EthernetPortAllocationSettingData", 33),
}
_SLOTS = {"Microsoft:Hyper-V:Emulated IDE Controller": 2,
          "Microsoft:Hyper-V:Synthetic SCSI Controller": 64}


def _parent_in(vm, pending, path, subtypes, host):
    """The instance (already on the VM or added earlier in this call) a Parent names."""
    pvm, _, p = model.device_by_path(host, path)
    if p is None:
        parsed = model.parse_wmi_path(path)
        iid = parsed[1].get("InstanceID", "").lower() if parsed else None
        p = next((d["props"] for d in pending if d["props"]["InstanceID"].lower() == iid), None)
        pvm = vm if p is not None else None
    if p is None or pvm is not vm or p.get("ResourceSubType") not in subtypes:
        return None
    return p


def _controller_of(host, vm, inst, pending=()):
    """The controller a drive or VHD hangs from (through Parent), or None."""
    for _ in range(2):
        sub_ = inst.get("ResourceSubType")
        if sub_ in _SLOTS:
            return inst
        parent = inst.get("Parent")
        if not parent:
            return None
        inst = _parent_in(vm, list(pending), parent, tuple(_SLOTS) +
                          ("Microsoft:Hyper-V:Synthetic Disk Drive",), host)
        if inst is None:
            return None
    return inst if inst.get("ResourceSubType") in _SLOTS else None


def _hot_ok(host, vm, cls, props, pending=()):
    """What Hyper-V changes on a VM that is not off: drives and VHDs on a SCSI controller,
    synthetic network adapters (Windows Server 2016 and later) and their switch
    connections.  Not a controller, nothing on IDE, not a legacy (emulated) adapter."""
    sub_ = props.get("ResourceSubType")
    if sub_ in _SLOTS or sub_ == "Microsoft:Hyper-V:Emulated Ethernet Port":
        return False
    if sub_ in ("Microsoft:Hyper-V:Synthetic Disk Drive", "Microsoft:Hyper-V:Virtual Hard Disk"):
        ctrl = _controller_of(host, vm, props, pending)
        return ctrl is not None and ctrl["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic SCSI Controller"
    if sub_ == "Microsoft:Hyper-V:Ethernet Connection":
        port = _parent_in(vm, list(pending), props.get("Parent"),
                          ("Microsoft:Hyper-V:Synthetic Ethernet Port",
                           "Microsoft:Hyper-V:Emulated Ethernet Port"), host)
        return port is None or port["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic Ethernet Port"
    return True


def add_resource_settings(world, host, inst, params):
    refs = _epr(params, "AffectedConfiguration")
    if not refs or refs[0][0] != "Msvm_VirtualSystemSettingData":
        return INVALID_PARAMETER, []
    vm = host.vms.get(refs[0][1].get("InstanceID", "").split(":", 1)[-1].upper())
    if vm is None:
        return INVALID_PARAMETER, []
    items = _embedded(params, "ResourceSettings", many=True)
    if not items:
        return INVALID_PARAMETER, []
    if vm.busy:
        return INVALID_STATE, []
    pending, checks = [], []
    for cls, props in items:
        sub_ = props.get("ResourceSubType") or ""
        want = _SUBTYPES.get(sub_)
        if want is None or want[0] != cls:
            return INVALID_PARAMETER, []
        if vm.state != OFF and not _hot_ok(host, vm, cls, props, pending):
            return INVALID_STATE, []
        if sub_ == "Microsoft:Hyper-V:Emulated Ethernet Port" and vm.generation != 1:
            return INVALID_PARAMETER, []          # generation 2 has no legacy adapter
        parent = props.get("Parent")
        if sub_ == "Microsoft:Hyper-V:Synthetic SCSI Controller":
            n = sum(1 for _, x in model.vm_devices(vm, cls) if x["ResourceSubType"] == sub_) + \
                sum(1 for p in pending if p["props"]["ResourceSubType"] == sub_)
            d = model.new_scsi_controller(vm, n)
        elif sub_ == "Microsoft:Hyper-V:Synthetic Disk Drive":
            ctrl = _parent_in(vm, pending, parent, _SLOTS, host)
            try:
                addr = int(props.get("AddressOnParent") or "")
            except ValueError:
                return INVALID_PARAMETER, []
            if ctrl is None or not 0 <= addr < _SLOTS[ctrl["ResourceSubType"]]:
                return INVALID_PARAMETER, []
            d = model.new_drive(host, vm, ctrl, addr)
            taken = [x for _, x in model.vm_devices(vm, cls)] + [p["props"] for p in pending]
            if any(x["InstanceID"].lower() == d["InstanceID"].lower() for x in taken):
                return INVALID_PARAMETER, []
        elif sub_ == "Microsoft:Hyper-V:Virtual Hard Disk":
            drive = _parent_in(vm, pending, parent, ("Microsoft:Hyper-V:Synthetic Disk Drive",), host)
            hr = props.get("HostResource") or []
            if drive is None or len(hr) != 1 or not hr[0]:
                return INVALID_PARAMETER, []
            d = model.new_vhd(host, vm, drive, hr[0])
            checks.append(("file", hr[0]))
        elif cls in ("Msvm_SyntheticEthernetPortSettingData", "Msvm_EmulatedEthernetPortSettingData"):
            static = (props.get("StaticMacAddress") or "false").lower() == "true"
            mac = (props.get("Address") or "").replace("-", "").replace(":", "").upper()
            if static and (len(mac) != 12 or any(ch not in "0123456789ABCDEF" for ch in mac)):
                return INVALID_PARAMETER, []
            # a dynamic MAC is given when the VM first starts (Get-VMNetworkAdapter shows
            # 000000000000 until then)
            d = model.new_port(host, vm, sub_, props.get("ElementName"), mac if static else None, static)
        else:   # Ethernet Connection
            port = _parent_in(vm, pending, parent, ("Microsoft:Hyper-V:Synthetic Ethernet Port",
                                                    "Microsoft:Hyper-V:Emulated Ethernet Port"), host)
            hr = props.get("HostResource") or []
            if port is None or len(hr) != 1:
                return INVALID_PARAMETER, []
            d = model.new_connection(host, vm, port, hr[0])
            checks.append(("switch", hr[0]))
        pending.append({"class": cls, "props": d})
    vm.busy = "modify"

    def apply():
        vm.busy = None
        for kind, what in checks:
            if kind == "file" and what.lower() not in host.files:
                raise JobFailure("Failed to add device 'Virtual Hard Disk'. '%s' could not be "
                                 "opened: The system cannot find the file specified. "
                                 "(0x80070002)." % what, FILE_NOT_FOUND)
            if kind == "switch":
                sw = model.switch_by_path(host, what)
                if sw is None:
                    raise JobFailure("Failed to add device 'Ethernet Connection'. Could not find "
                                     "Ethernet switch '%s'." % what)
        vm.devices.extend(pending)
        vm.last_config_change = time.time()

    def on_fail():
        vm.busy = None

    job = _job(world, host, "modify", "Adding resource settings", apply, affected=vm.guid,
               on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job)),
                     Output("ResultingResourceSettings", "refs",
                            [model.ref(p["class"], p["props"]) for p in pending])]


# ---- RemoveResourceSettings(ResourceSettings[]: references to RASDs) -> Job ------------------
# Every reference must name a device of one VM (Invalid Parameter otherwise); what hangs from
# a removed device goes with it (a drive's VHD, a port's connection), as in Hyper-V Manager.
# On a VM that is not off only what _hot_ok allows (Invalid State).  The VHD file stays.

def remove_resource_settings(world, host, inst, params):
    refs = _epr(params, "ResourceSettings")
    if not refs:
        return INVALID_PARAMETER, []
    vm, gone = None, []
    for cls, keys in refs:
        iid = keys.get("InstanceID", "")
        v = host.vms.get(iid.split(":", 1)[-1].split("\\")[0].upper())
        if v is None or (vm is not None and v is not vm):
            return INVALID_PARAMETER, []
        vm = v
        d = next((d for d in vm.devices if d["class"].lower() == cls.lower() and
                  d["props"]["InstanceID"].lower() == iid.lower()), None)
        if d is None:       # not there (an IDE controller is built in: not removable)
            return INVALID_PARAMETER, []
        if vm.state != OFF and not _hot_ok(host, vm, d["class"], d["props"]):
            return INVALID_STATE, []
        gone.append(d)
    if vm.busy:
        return INVALID_STATE, []
    vm.busy = "modify"

    def apply():
        vm.busy = None
        drop = [d["props"]["InstanceID"].lower() for d in gone]
        while True:         # children of what goes, to any depth
            more = [d["props"]["InstanceID"].lower() for d in vm.devices
                    if d["props"]["InstanceID"].lower() not in drop and d["props"].get("Parent") and
                    (model.parse_wmi_path(d["props"]["Parent"]) or ("", {}))[1]
                    .get("InstanceID", "").lower() in drop]
            if not more:
                break
            drop += more
        vm.devices[:] = [d for d in vm.devices if d["props"]["InstanceID"].lower() not in drop]
        vm.last_config_change = time.time()

    def on_fail():
        vm.busy = None

    job = _job(world, host, "modify", "Removing resource settings", apply, affected=vm.guid,
               on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


# ---- ModifyResourceSettings of an Msvm_EthernetPortAllocationSettingData -----------------
# The one property that changes here is HostResource (the switch); allowed on a running VM.
# An unknown switch fails the job, as AddResourceSettings' does.

def _modify_connections(world, host, items):
    changes = []
    for cls, props in items:
        if cls != "Msvm_EthernetPortAllocationSettingData":
            return NOT_SUPPORTED, []
        iid = props.get("InstanceID") or ""
        vm = host.vms.get(iid.split(":", 1)[-1].split("\\")[0].upper())
        d = vm and next((d for d in vm.devices if d["class"] == cls and
                         d["props"]["InstanceID"].lower() == iid.lower()), None)
        hr = props.get("HostResource")
        if not d or hr is None or len(hr) > 1:
            return INVALID_PARAMETER, []
        if vm.busy:
            return INVALID_STATE, []
        changes.append((vm, d, hr[0] if hr else None))
    for vm, _, _ in changes:
        vm.busy = "modify"

    def release():
        for vm, _, _ in changes:
            vm.busy = None

    def apply():
        release()
        for vm, d, sw_path in changes:
            sw = sw_path and model.switch_by_path(host, sw_path)
            if sw_path and sw is None:
                raise JobFailure("Failed to modify device 'Ethernet Connection'. Could not find "
                                 "Ethernet switch '%s'." % sw_path)
        for vm, d, sw_path in changes:
            sw = sw_path and model.switch_by_path(host, sw_path)
            d["props"]["HostResource"] = [sw_path] if sw_path else []
            d["props"]["LastKnownSwitchName"] = sw["ElementName"] if sw else None
            vm.last_config_change = time.time()

    job = _job(world, host, "modify", "Modifying resource settings", apply,
               affected=changes[0][0].guid, on_fail=release)
    return STARTED, [Output("Job", "ref", model.job_ref(job)),
                     Output("ResultingResourceSettings", "refs",
                            [model.ref(d["class"], d["props"]) for _, d, _ in changes])]


# ---- Msvm_ImageManagementService.ResizeVirtualHardDisk(Path, MaxInternalSize) -> Job -----
# A VHDX grows while attached only to a SCSI controller of a running VM (online resize,
# Windows Server 2012 R2 and later); attached to IDE of a running VM the job fails as vmms
# fails it.  Shrinking below the current size is refused here (a real host shrinks only to
# the VHDX's MinInternalSize, which this simulator does not model).  A dynamic file keeps its
# size on disk; a fixed one grows and needs the room.

def resize_virtual_hard_disk(world, host, inst, params):
    path = _scalar(params, "Path") or ""
    try:
        size = int(_scalar(params, "MaxInternalSize") or 0)
    except ValueError:
        return INCORRECT_TYPE, []
    if not path or size <= 0 or size % 512:
        return INVALID_PARAMETER, []

    def apply():
        f = host.files.get(path.lower())
        if f is None:
            raise JobFailure("Failed to resize the virtual disk. The system failed to resize "
                             "'%s': The system cannot find the file specified. (0x80070002)."
                             % path, FILE_NOT_FOUND)
        for vm in host.vms.values():
            if vm.state == OFF:
                continue
            for _, d in model.vm_devices(vm, "Msvm_StorageAllocationSettingData"):
                if any((h or "").lower() == path.lower() for h in d.get("HostResource") or []):
                    ctrl = _controller_of(host, vm, d)
                    if not ctrl or ctrl["ResourceSubType"] != "Microsoft:Hyper-V:Synthetic SCSI Controller":
                        raise JobFailure("Failed to resize the virtual disk. The system failed to "
                                         "resize '%s': The process cannot access the file because "
                                         "it is being used by another process. (0x80070020)." % path)
        if size < f["max_size"]:
            raise JobFailure("Failed to resize the virtual disk. The requested size %d is smaller "
                             "than the minimum size of '%s'." % (size, path))
        grow = size - f["max_size"] if f["type"] == 2 else 0
        if grow > model.volume_free(host, model.volume_of(host, path)):
            raise JobFailure("Failed to resize the virtual disk. The system failed to resize "
                             "'%s': There is not enough space on the disk. (0x80070070)." % path)
        f["max_size"] = size
        f["file_size"] += grow

    job = _job(world, host, "vhd", "Resizing virtual hard disk", apply)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def modify_system_settings(world, host, inst, params):
    """A checkpoint's new name (snapshots.rename_snapshot); the VM's own system settings
    are not changed through this simulator (Not Supported)."""
    sysset = _embedded(params, "SystemSettings")
    if sysset is None or sysset[0] not in ("Msvm_VirtualSystemSettingData",
                                           "CIM_VirtualSystemSettingData"):
        return INVALID_PARAMETER, []
    import snapshots
    done = snapshots.rename_snapshot(world, host, sysset[1])
    return done if done is not None else (NOT_SUPPORTED, [])


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
    ("Msvm_VirtualSystemManagementService", "AddResourceSettings"): add_resource_settings,
    ("Msvm_ImageManagementService", "CreateVirtualHardDisk"): create_virtual_hard_disk,
    ("Msvm_ImageManagementService", "GetVirtualHardDiskSettingData"): get_virtual_hard_disk_setting_data,
    ("Msvm_ImageManagementService", "ResizeVirtualHardDisk"): resize_virtual_hard_disk,
    ("Msvm_VirtualSystemManagementService", "RemoveResourceSettings"): remove_resource_settings,
    ("CIM_DataFile", "Delete"): datafile_delete,
    ("Msvm_VirtualSystemManagementService", "ModifySystemSettings"): modify_system_settings,
}


# The v2 Msvm_VirtualSystemManagementService methods document the generic CIM codes
# (0 ok, 1 Not Supported, 2 Failed, 3 Timeout, 4 Invalid Parameter, 5 Invalid State,
# 4096 Job Started) instead of the 32768.. range the other classes use.
_VSMS_CODES = {FAILED: 2, ACCESS_DENIED: 2, NOT_SUPPORTED: 1, 32771: 2, 32772: 3,
               INVALID_PARAMETER: 4, IN_USE: 5, INVALID_STATE: 5, INCORRECT_TYPE: 4,
               NOT_AVAILABLE: 4, OUT_OF_MEMORY: 2}


def invoke(world, host, cls, inst, method, params):
    import snapshots
    h = HANDLERS.get((cls.name, method)) or snapshots.HANDLERS.get((cls.name, method))
    if h is None:
        code, outputs = NOT_SUPPORTED, []
    else:
        try:
            code, outputs = h(world, host, inst, params)
        except _Ret as r:
            code, outputs = r.code, []
    if cls.name in ("Msvm_VirtualSystemManagementService", "Msvm_VirtualSystemSnapshotService"):
        code = _VSMS_CODES.get(code, code)
    return code, outputs
