"""Msvm_VirtualSystemSnapshotService: a VM's checkpoints (snapshots) as Hyper-V's WMI v2 shows them.

A checkpoint is an Msvm_VirtualSystemSettingData of VirtualSystemType
"Microsoft:Hyper-V:Snapshot:Realized" (model.snapshot_vssd) whose Parent is the WMI path of the
checkpoint it follows; Msvm_SnapshotOfVirtualSystem ties each to its VM and
Msvm_MostCurrentSnapshotInBranch names the one the VM runs on from (model.associations).
The methods, as documented for the class:
  CreateSnapshot(AffectedSystem, SnapshotSettings, SnapshotType, ResultingSnapshot, Job):
    SnapshotType 2 (Full) only here; SnapshotSettings an optional embedded
    Msvm_VirtualSystemSnapshotSettingData whose ConsistencyLevel 1 (application consistent, a
    production checkpoint: disks quiesced by the guest's VSS, no memory) or 2 (crash
    consistent, a standard checkpoint: a running VM's memory saved with it).  The new
    checkpoint hangs under the current one and becomes current; it is named as Hyper-V names
    one ("<VM> - (date - time)") and renamed by ModifySystemSettings of its settings.
  ApplySnapshot(Snapshot, Job): the VM must be Off or Saved (Invalid State otherwise); the VM
    takes the checkpoint's settings and devices back, Saved when the checkpoint holds memory,
    Off otherwise, and the checkpoint becomes current.
  DestroySnapshot(AffectedSnapshot, Job): its children move up to its parent.
  DestroySnapshotTree(SnapshotSettingData, Job): it and everything under it.
The service's methods answer the generic CIM codes (1 Not Supported, 4 Invalid Parameter,
5 Invalid State), as Msvm_VirtualSystemManagementService's do (methods.invoke).
What is not simulated: disk contents (no AVHDX differencing files are made), a guest whose VSS
writers could fail a production checkpoint, and the checkpoints' own resource settings.
"""

import copy
import time
import uuid

import model
from methods import (INVALID_PARAMETER, INVALID_STATE, IN_USE, NOT_SUPPORTED, STARTED, Output,
                     _Ret, _embedded, _epr, _job, _uint, _vm_from_epr)
from model import OFF, PAUSED, RUNNING, SAVED

_CONFIG = ("vcpus", "memory_mb", "dynamic_memory", "notes", "devices", "generation")


def _snapshot_from_epr(host, params, name):
    refs = _epr(params, name)
    if not refs or refs[0][0] != "Msvm_VirtualSystemSettingData":
        raise _Ret(INVALID_PARAMETER)
    iid = refs[0][1].get("InstanceID", "")
    sid = iid.split(":", 1)[-1].upper()
    for vm in host.vms.values():
        for sn in vm.snapshots:
            if sn["id"] == sid:
                return vm, sn
    raise _Ret(INVALID_PARAMETER)


def _name(vm, when):
    t = time.localtime(when)
    return "%s - (%d/%d/%d - %d:%02d:%02d %s)" % (
        vm.name, t.tm_mon, t.tm_mday, t.tm_year, (t.tm_hour % 12) or 12, t.tm_min, t.tm_sec,
        "AM" if t.tm_hour < 12 else "PM")


def _busy_job(world, host, vm, kind, description, change):
    """A job that holds the VM busy until it ends and makes `change` when it completes."""
    vm.busy = kind

    def apply():
        vm.busy = None
        change()

    def on_fail():
        vm.busy = None

    job = _job(world, host, kind, description, apply, affected=vm.guid, on_fail=on_fail)
    return STARTED, [Output("Job", "ref", model.job_ref(job))]


def create_snapshot(world, host, inst, params):
    vm = _vm_from_epr(host, params, "AffectedSystem")
    if _uint(params, "SnapshotType") != 2:
        return NOT_SUPPORTED, []
    level = 2
    settings = _embedded(params, "SnapshotSettings")
    if settings is not None:
        if settings[0] not in ("Msvm_VirtualSystemSnapshotSettingData", "CIM_SettingData"):
            return INVALID_PARAMETER, []
        try:
            level = int(settings[1].get("ConsistencyLevel") or 2)
        except ValueError:
            return INVALID_PARAMETER, []
        if level not in (0, 1, 2):
            return INVALID_PARAMETER, []
    if vm.busy:
        return IN_USE, []
    if vm.state not in (RUNNING, PAUSED, OFF, SAVED):
        return INVALID_STATE, []
    now = time.time()
    sn = {"id": str(uuid.uuid4()).upper(), "name": _name(vm, now),
          "parent": vm.current_snapshot, "created": now,
          "saved": vm.state == SAVED or (vm.state in (RUNNING, PAUSED) and level != 1),
          "state": vm.state, "config": copy.deepcopy({k: getattr(vm, k) for k in _CONFIG})}

    def change():
        vm.snapshots.append(sn)
        vm.current_snapshot = sn["id"]

    return _busy_job(world, host, vm, "snapshot", "Creating checkpoint", change)


def apply_snapshot(world, host, inst, params):
    vm, sn = _snapshot_from_epr(host, params, "Snapshot")
    if vm.busy:
        return IN_USE, []
    if vm.state not in (OFF, SAVED):
        return INVALID_STATE, []

    def change():
        for k, v in copy.deepcopy(sn["config"]).items():
            setattr(vm, k, v)
        vm.last_config_change = time.time()
        vm.state = SAVED if sn["saved"] else OFF
        vm.last_state_change = time.time()
        vm.started_at = None
        vm.current_snapshot = sn["id"]

    return _busy_job(world, host, vm, "apply", "Applying checkpoint", change)


def _destroy(world, host, params, name, tree):
    vm, sn = _snapshot_from_epr(host, params, name)
    if vm.busy:
        return IN_USE, []

    def change():
        gone = {sn["id"]}
        if tree:
            grew = True
            while grew:
                more = {s["id"] for s in vm.snapshots if s["parent"] in gone}
                grew = not more <= gone
                gone |= more
        vm.snapshots = [s for s in vm.snapshots if s["id"] not in gone]
        for s in vm.snapshots:
            if s["parent"] == sn["id"]:
                s["parent"] = sn["parent"]
        if vm.current_snapshot in gone:
            vm.current_snapshot = sn["parent"]

    return _busy_job(world, host, vm, "destroy snapshot",
                     "Deleting checkpoint subtree" if tree else "Deleting checkpoint", change)


def destroy_snapshot(world, host, inst, params):
    return _destroy(world, host, params, "AffectedSnapshot", False)


def destroy_snapshot_tree(world, host, inst, params):
    return _destroy(world, host, params, "SnapshotSettingData", True)


def rename_snapshot(world, host, props):
    """ModifySystemSettings of a checkpoint's settings: its ElementName (and Notes)."""
    sid = str(props.get("InstanceID") or "").split(":", 1)[-1].upper()
    for vm in host.vms.values():
        for sn in vm.snapshots:
            if sn["id"] == sid:
                name = props.get("ElementName")
                if not name:
                    return INVALID_PARAMETER, []

                def apply():
                    sn["name"] = name

                job = _job(world, host, "modify", "Modifying checkpoint settings", apply,
                           affected=vm.guid)
                return STARTED, [Output("Job", "ref", model.job_ref(job))]
    return None


HANDLERS = {
    ("Msvm_VirtualSystemSnapshotService", "CreateSnapshot"): create_snapshot,
    ("Msvm_VirtualSystemSnapshotService", "ApplySnapshot"): apply_snapshot,
    ("Msvm_VirtualSystemSnapshotService", "DestroySnapshot"): destroy_snapshot,
    ("Msvm_VirtualSystemSnapshotService", "DestroySnapshotTree"): destroy_snapshot_tree,
}
