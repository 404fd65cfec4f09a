"""The simulated world: Hyper-V hosts, their VMs and jobs, and the WMI instances they show.

One `World` holds every simulated host so that a VM can migrate between them; one lock
(`World.lock`) guards all of it (hosts, VMs, jobs, enumeration contexts, injected faults).
Instances are computed from this state each time they are asked for, so Msvm_ComputerSystem,
Msvm_SummaryInformation and GetSummaryInformation always agree on EnabledState.

EnabledState (Msvm_ComputerSystem, v2 namespace): 2 Enabled (running), 3 Disabled (off),
4 Shutting Down, 6 Enabled but Offline (saved), 9 Quiesce (paused), 10 Starting.
"""

import json
import os
import random
import threading
import time
import uuid

import cim
from jobs import JobEngine

RUNNING, OFF, SHUTTING_DOWN, SAVED, PAUSED, STARTING = 2, 3, 4, 6, 9, 10

PROCESSOR_RASD = "B637F346-6A0E-4DEC-AF52-BD70CB80A21D"
MEMORY_RASD = "4764334D-E001-4176-82EE-5594EC9B530E"
SHUTDOWN_IC = "9F8233AC-BE49-4C79-8EE3-E7E1985B2077"

_VM_NAMES = ["web-frontend", "sql-prod", "dc", "exchange", "file-server", "build-agent",
             "jump-host", "print-server", "sharepoint", "rds-session", "wsus", "monitoring",
             "k8s-worker", "app-tier", "cache", "backup-proxy"]
_GUEST_OS = ["Windows Server 2022 Datacenter", "Windows Server 2019 Standard",
             "Ubuntu 22.04.3 LTS", "Windows 11 Enterprise", "Red Hat Enterprise Linux 9.2"]


class VM:
    def __init__(self, guid, name, generation=2, vcpus=2, memory_mb=4096, state=OFF,
                 dynamic_memory=False, created=None, notes="", guest_os=None):
        now = time.time()
        self.guid = guid
        self.name = name
        self.generation = generation
        self.vcpus = vcpus
        self.memory_mb = memory_mb
        self.dynamic_memory = dynamic_memory
        self.state = state
        self.requested_state = 5          # No Change
        self.created = created or now
        self.last_state_change = now
        self.last_config_change = now
        self.started_at = now if state in (RUNNING, PAUSED) else None
        self.notes = notes
        self.guest_os = guest_os
        self.busy = None                   # kind of job under way, if any
        self.config_id = str(uuid.uuid4()).upper()
        # devices added with AddResourceSettings: [{"class": name, "props": {...}}], in the
        # order they were added (a gen-1 VM's two IDE controllers are implicit)
        self.devices = []
        self.started_once = False          # dynamic MACs are given at the first start
        # checkpoints (snapshots.py): [{"id", "name", "parent", "created", "saved",
        # "config": the VM's settings and devices as they were}], oldest first
        self.snapshots = []
        self.current_snapshot = None       # id of Msvm_MostCurrentSnapshotInBranch's snapshot

    def to_dict(self):
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d):
        vm = cls.__new__(cls)
        vm.__dict__.update(d)
        vm.busy = None
        vm.__dict__.setdefault("devices", [])
        vm.__dict__.setdefault("started_once", vm.state in (RUNNING, PAUSED, SAVED))
        vm.__dict__.setdefault("snapshots", [])
        vm.__dict__.setdefault("current_snapshot", None)
        if vm.state in (STARTING, SHUTTING_DOWN):   # a job that died with the process
            vm.state = OFF
        return vm


class Host:
    def __init__(self, index, name, port, domain="contoso.local"):
        self.index = index
        self.name = name
        self.port = port
        self.domain = domain
        self.ip = "192.0.2.%d" % (10 + index)
        self.sockets = 2
        self.cores = 8 + 4 * (index % 3)            # per socket
        self.logical = self.sockets * self.cores * 2
        self.memory_mb = 131072 * (1 + index % 2)
        self.os_caption = "Microsoft Windows Server 2022 Datacenter"
        self.os_version = "10.0.20348"
        self.os_build = "20348"
        self.cpu_name = "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"
        self.cpu_mhz = 2993
        self.boot_time = time.time() - 86400 * (3 + index)
        self.install_time = time.time() - 86400 * 400
        self.vms = {}                      # GUID -> VM
        gib = 1024 ** 3
        # (drive, label, file system, capacity, bytes used besides VM disks); the
        # system-reserved partition has no drive letter
        self.volumes = [("C:", "System", "NTFS", 200 * gib, 61 * gib),
                        ("D:", "VMs", "ReFS", (2 + index % 2) * 1024 * gib, 310 * gib),
                        (None, "System Reserved", "NTFS", 500 * 1024 * 1024, 32 * 1024 * 1024)]
        self.switches = ["External vSwitch", "Internal"]
        # VHD files: lower-case path -> {"path", "format", "type", "max_size", "file_size",
        # "block_size", "disk_id"}; a file's size counts against its volume's free space
        self.files = {}
        self.mac_next = 0
        self.jobs = {}                     # InstanceID -> Job
        self.enums = {}                    # context id -> Enumeration
        self.reachable = True
        self.requests = 0
        self.faults = {"delay_ms": 0, "delay_count": None, "drop_count": 0,
                       "fail_jobs": [], "access_denied_count": 0}

    @property
    def fqdn(self):
        return "%s.%s" % (self.name.lower(), self.domain)

    def to_dict(self):
        return {"name": self.name, "vms": [vm.to_dict() for vm in self.vms.values()],
                "files": self.files, "mac_next": self.mac_next}


class World:
    def __init__(self, hosts, job_time=(0.5, 1.5), enum_timeout=240.0, state_file=None,
                 seed=None):
        self.lock = threading.RLock()
        self.hosts = {h.name: h for h in hosts}
        self.job_time = job_time
        self.enum_timeout = enum_timeout
        self.state_file = state_file
        self.rng = random.Random(seed)
        self.jobs = JobEngine(self)
        self._dirty = False

    # ---- persistence ----
    def changed(self):
        self._dirty = True

    def save(self):
        if not self.state_file:
            return
        with self.lock:
            if not self._dirty and os.path.exists(self.state_file):
                return
            data = {"hosts": [h.to_dict() for h in self.hosts.values()]}
            self._dirty = False
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.state_file)

    def load(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return False
        with open(self.state_file) as f:
            data = json.load(f)
        for hd in data.get("hosts", []):
            h = self.hosts.get(hd["name"])
            if h is None:
                continue
            h.vms = {}
            h.files = hd.get("files", {})
            h.mac_next = hd.get("mac_next", 0)
            for vd in hd.get("vms", []):
                vm = VM.from_dict(vd)
                h.vms[vm.guid] = vm
        return True

    def job_duration(self):
        lo, hi = self.job_time
        return self.rng.uniform(lo, hi) if hi > lo else lo

    def find_host(self, text):
        """A simulated host by name, FQDN or its synthetic IP address (case-insensitive)."""
        t = (text or "").strip().lower()
        for h in self.hosts.values():
            if t in (h.name.lower(), h.fqdn, h.ip):
                return h
        return None

    def find_vm(self, guid):
        for h in self.hosts.values():
            if guid in h.vms:
                return h, h.vms[guid]
        return None, None


def seed_inventory(world, per_host):
    rng = world.rng
    pattern = [RUNNING, OFF, RUNNING, SAVED, PAUSED, RUNNING, OFF]
    n = 0
    for h in world.hosts.values():
        for i in range(per_host):
            base = _VM_NAMES[n % len(_VM_NAMES)]
            name = "%s-%02d" % (base, n // len(_VM_NAMES) + 1 + h.index * 10)
            guid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
            vm = VM(guid, name, generation=2 if i % 2 == 0 else 1,
                    vcpus=rng.choice([1, 2, 2, 4, 4, 8]),
                    memory_mb=rng.choice([1024, 2048, 4096, 4096, 8192, 16384]),
                    state=pattern[i % len(pattern)], dynamic_memory=(i % 3 == 1),
                    created=time.time() - rng.randint(2, 300) * 86400,
                    guest_os=rng.choice(_GUEST_OS))
            if vm.state in (RUNNING, PAUSED):
                vm.started_at = time.time() - rng.randint(600, 30 * 86400)
            vm.last_state_change = vm.started_at or (time.time() - rng.randint(600, 86400))
            vm.started_once = True
            seed_devices(h, vm, rng)
            h.vms[guid] = vm
            n += 1
    world.changed()


# ---- instances --------------------------------------------------------------------------

def _vm_cs(host, vm):
    running = vm.state in (RUNNING, PAUSED)
    return {
        "Caption": "Virtual Machine", "Description": "Microsoft Virtual Machine",
        "ElementName": vm.name, "InstallDate": vm.created, "OperationalStatus": [2],
        "StatusDescriptions": ["Operating normally"], "Status": "OK", "HealthState": 5,
        "EnabledState": vm.state, "OtherEnabledState": None,
        "RequestedState": vm.requested_state, "EnabledDefault": 2,
        "TimeOfLastStateChange": vm.last_state_change,
        "AvailableRequestedStates": [],
        "CreationClassName": "Msvm_ComputerSystem", "Name": vm.guid,
        "PrimaryOwnerName": "CONTOSO\\hvadmin", "PrimaryOwnerContact": None, "Roles": [],
        "NameFormat": None, "OtherIdentifyingInfo": [], "IdentifyingDescriptions": [],
        "Dedicated": [0], "ResetCapability": 1, "PowerManagementCapabilities": [],
        "OnTimeInMilliseconds": int((time.time() - vm.started_at) * 1000) if running and vm.started_at else 0,
        "TimeOfLastConfigurationChange": vm.last_config_change,
        "ProcessID": (4000 + int(vm.guid[:4], 16) % 4000) if running else None,
        "ReplicationState": 0, "ReplicationHealth": 0, "EnhancedSessionModeState": 3,
        "NumberOfNumaNodes": 1,
    }


def _host_cs(host):
    return {
        "Caption": "Hosting Computer System", "Description": "Microsoft Hosting Computer System",
        "ElementName": host.name, "InstallDate": None, "OperationalStatus": [2],
        "StatusDescriptions": ["OK"], "Status": "OK", "HealthState": 5, "EnabledState": 2,
        "OtherEnabledState": None, "RequestedState": 12, "EnabledDefault": 2,
        "TimeOfLastStateChange": host.boot_time, "AvailableRequestedStates": [],
        "CreationClassName": "Msvm_ComputerSystem", "Name": host.name,
        "PrimaryOwnerName": "CONTOSO\\hvadmin", "PrimaryOwnerContact": None,
        "Roles": ["Hyper-V"], "NameFormat": None, "OtherIdentifyingInfo": [],
        "IdentifyingDescriptions": [], "Dedicated": [0], "ResetCapability": 1,
        "PowerManagementCapabilities": [], "OnTimeInMilliseconds": None,
        "TimeOfLastConfigurationChange": None, "ProcessID": None, "ReplicationState": None,
        "ReplicationHealth": None, "EnhancedSessionModeState": None, "NumberOfNumaNodes": 2,
    }


def _vssd(host, vm):
    return {
        "InstanceID": "Microsoft:" + vm.guid, "Caption": "Virtual Machine Settings",
        "Description": "Active settings for the virtual machine.", "ElementName": vm.name,
        "VirtualSystemIdentifier": vm.guid, "VirtualSystemType": "Microsoft:Hyper-V:System:Realized",
        "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:%d" % vm.generation,
        "Version": "10.0", "ConfigurationID": vm.config_id,
        "Notes": [vm.notes] if vm.notes is not None else [], "CreationTime": vm.created,
        "ConfigurationDataRoot": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "ConfigurationFile": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V\\Virtual Machines\\%s.vmcx" % vm.guid,
        "SnapshotDataRoot": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "SwapFileDataRoot": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "LogDataRoot": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "AutomaticStartupAction": 2, "AutomaticStartupActionDelay": 0.0,
        "AutomaticShutdownAction": 3, "AutomaticRecoveryAction": 3,
        "BootOrder": [1, 2, 3, 0] if vm.generation == 1 else [],
        "BootSourceOrder": [], "SecureBootEnabled": vm.generation == 2,
        "IsSaved": vm.state == SAVED, "Parent": None, "BIOSGUID": "{%s}" % vm.config_id,
        "BIOSSerialNumber": "%04d-%04d-%04d" % (host.index, len(vm.name), int(vm.guid[:4], 16) % 10000),
        "BaseBoardSerialNumber": None, "ChassisSerialNumber": None, "ChassisAssetTag": None,
        "VirtualNumaEnabled": True, "EnhancedSessionTransportType": 0,
    }


def snapshot_vssd(host, vm, snap):
    """A checkpoint's settings: a Msvm_VirtualSystemSettingData of type
    Microsoft:Hyper-V:Snapshot:Realized, its Parent the WMI path of the checkpoint it was
    taken after (null for a first one), IsSaved when it holds the VM's memory."""
    d = _vssd(host, vm)
    d.update({"InstanceID": "Microsoft:" + snap["id"], "Caption": "Virtual Machine Settings",
              "Description": "Snapshot settings for the virtual machine.",
              "ElementName": snap["name"], "VirtualSystemType": "Microsoft:Hyper-V:Snapshot:Realized",
              "ConfigurationID": snap["id"], "CreationTime": snap["created"],
              "IsSaved": snap["saved"], "Notes": [snap["config"].get("notes") or ""],
              "Parent": (wmi_path(host, "Msvm_VirtualSystemSettingData",
                                  {"InstanceID": "Microsoft:" + snap["parent"]})
                         if snap["parent"] else None)})
    return d


def processor_settings(host, vm):
    return {
        "InstanceID": "Microsoft:%s\\%s\\0" % (vm.guid, PROCESSOR_RASD), "Caption": "Processor",
        "Description": "Settings for Microsoft Virtual Processor.", "ElementName": "Processor",
        "ResourceType": 3, "OtherResourceType": None, "ResourceSubType": "Microsoft:Hyper-V:Processor",
        "PoolID": "", "ConsumerVisibility": 3, "HostResource": [],
        "AllocationUnits": "percent / 1000", "VirtualQuantity": vm.vcpus, "Reservation": 0,
        "Limit": 100000, "Weight": 100, "AutomaticAllocation": True,
        "AutomaticDeallocation": True, "Parent": None, "Connection": [], "Address": None,
        "MappingBehavior": None, "AddressOnParent": None, "VirtualQuantityUnits": "count",
        "LimitCPUID": False, "LimitProcessorFeatures": False, "HwThreadsPerCore": 0,
        "ExposeVirtualizationExtensions": False, "MaxProcessorsPerNumaNode": host.cores * 2,
        "MaxNumaNodesPerSocket": 1,
    }


def memory_settings(host, vm):
    return {
        "InstanceID": "Microsoft:%s\\%s" % (vm.guid, MEMORY_RASD), "Caption": "Memory",
        "Description": "Settings for Microsoft Virtual Machine Memory.", "ElementName": "Memory",
        "ResourceType": 4, "OtherResourceType": None, "ResourceSubType": "Microsoft:Hyper-V:Memory",
        "PoolID": "", "ConsumerVisibility": 2, "HostResource": [],
        "AllocationUnits": "byte * 2^20", "VirtualQuantity": vm.memory_mb,
        "Reservation": 512 if vm.dynamic_memory else vm.memory_mb,
        "Limit": 1048576 if vm.dynamic_memory else vm.memory_mb, "Weight": 5000,
        "AutomaticAllocation": True, "AutomaticDeallocation": True, "Parent": None,
        "Connection": [], "Address": None, "MappingBehavior": None, "AddressOnParent": None,
        "VirtualQuantityUnits": "byte * 2^20", "DynamicMemoryEnabled": vm.dynamic_memory,
        "TargetMemoryBuffer": 20, "IsVirtualized": True, "SwapFilesInUse": False,
        "MaxMemoryBlocksPerNumaNode": host.memory_mb // 2,
    }


def _shutdown(host, vm):
    return {
        "Caption": "Shutdown", "Description": "Microsoft Virtual Machine Shutdown Integration Component",
        "ElementName": "Shutdown", "OperationalStatus": [2], "StatusDescriptions": ["OK"],
        "HealthState": 5, "EnabledState": 2, "RequestedState": 12, "EnabledDefault": 2,
        "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": vm.guid,
        "CreationClassName": "Msvm_ShutdownComponent",
        "DeviceID": "Microsoft:%s\\%s" % (vm.guid, SHUTDOWN_IC),
    }


def vm_load(vm):
    if vm.state != RUNNING:
        return 0
    return 3 + int(vm.guid[:2], 16) % 40


def vm_memory_usage(vm):
    if vm.state not in (RUNNING, PAUSED):
        return 0
    return vm.memory_mb * (55 + int(vm.guid[2:4], 16) % 30) // 100


def summary(host, vm, requested=None):
    running = vm.state in (RUNNING, PAUSED)
    full = {
        "Caption": None, "Description": None, "ElementName": vm.name,
        "InstanceID": "Microsoft:" + vm.guid, "CreationTime": vm.created,
        "EnabledState": vm.state, "OtherEnabledState": None, "HealthState": 5,
        "Name": vm.guid, "Notes": vm.notes, "Version": "10.0",
        "NumberOfProcessors": vm.vcpus, "OperationalStatus": [2],
        "StatusDescriptions": ["Operating normally"],
        "UpTime": int((time.time() - vm.started_at) * 1000) if running and vm.started_at else 0,
        "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:%d" % vm.generation,
        "HostComputerSystemName": host.name, "ProcessorLoad": vm_load(vm),
        "ProcessorLoadHistory": [vm_load(vm)] * 10 if running else [],
        "MemoryUsage": vm_memory_usage(vm),
        "MemoryAvailable": (100 - vm_memory_usage(vm) * 100 // vm.memory_mb) if running else None,
        "AvailableMemoryBuffer": 20 if running and vm.dynamic_memory else None,
        "Heartbeat": 2 if vm.state == RUNNING else None,
        "GuestOperatingSystem": vm.guest_os if vm.state == RUNNING else None,
        "MemorySpansPhysicalNumaNodes": False, "ReplicationState": 0, "ReplicationHealth": 0,
        "EnhancedSessionModeState": 3, "Shielded": False, "AsynchronousTasks": [],
        "Snapshots": [], "IntegrationServicesVersionState": 1,
    }
    if requested is None:
        return full
    codes = {0: "Name", 1: "ElementName", 2: "CreationTime", 3: "Notes",
             4: "NumberOfProcessors", 10: "Version", 11: "Shielded", 100: "EnabledState",
             101: "ProcessorLoad", 102: "ProcessorLoadHistory", 103: "MemoryUsage",
             104: "Heartbeat", 105: "UpTime", 106: "GuestOperatingSystem", 107: "Snapshots",
             108: "AsynchronousTasks", 109: "HealthState", 110: "OperationalStatus",
             111: "StatusDescriptions", 112: "MemoryAvailable", 113: "AvailableMemoryBuffer",
             132: "IntegrationServicesVersionState", 135: "ReplicationState",
             136: "ReplicationHealth", 137: "EnhancedSessionModeState",
             138: "MemorySpansPhysicalNumaNodes", 4000: "VirtualSystemSubType",
             4001: "HostComputerSystemName"}
    keep = {"InstanceID"} | {codes[c] for c in requested if c in codes}
    return {k: (v if k in keep else None) for k, v in full.items()}


def _job(host, job):
    elapsed = (job.finished_at or time.time()) - job.submitted
    done = job.finished_at is not None
    return {
        "InstanceID": job.id, "Caption": job.description, "Description": job.description,
        "ElementName": job.description, "InstallDate": None, "OperationalStatus":
        [2] if job.state != 10 else [6], "StatusDescriptions":
        ["Job is running" if not done else "Job completed" if job.state == 7 else "Job failed"],
        "Status": "OK" if job.state != 10 else "Error", "HealthState": 5 if job.state != 10 else 20,
        "JobStatus": "Job is running" if not done else ("Job completed successfully"
                                                         if job.state == 7 else "Job failed"),
        "TimeSubmitted": job.submitted, "ScheduledStartTime": job.submitted,
        "StartTime": job.submitted, "ElapsedTime": elapsed, "JobRunTimes": 1, "RunMonth": None,
        "Priority": 0, "PercentComplete": job.percent, "DeleteOnCompletion": False,
        "ErrorCode": job.error_code, "ErrorDescription": job.error_description,
        "ErrorSummaryDescription": job.error_description, "RecoveryAction": 1,
        "Owner": "CONTOSO\\hvadmin", "Name": job.description, "JobState": job.state,
        "TimeOfLastStateChange": job.finished_at or job.submitted, "TimeBeforeRemoval": 300.0,
        "Cancellable": False, "JobType": _JOB_TYPES.get(job.kind, 0), "LocalOrUtcTime": 2,
    }


_JOB_TYPES = {"start": 1, "off": 1, "pause": 1, "resume": 1, "save": 1, "reboot": 1,
              "define": 2, "destroy": 3, "modify": 6, "migrate": 40}


def _service(host, cls, name, caption):
    d = {"Caption": caption, "Description": caption, "ElementName": caption,
         "OperationalStatus": [2], "HealthState": 5, "EnabledState": 2, "RequestedState": 12,
         "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host.name,
         "CreationClassName": cls, "Name": name, "Started": True}
    if cls == "Msvm_VirtualSystemManagementService":
        d.update({"InstallDate": None, "StatusDescriptions": ["OK"], "Status": "OK",
                  "EnabledDefault": 2, "PrimaryOwnerName": None, "StartMode": "Automatic"})
    elif cls == "Msvm_VirtualSystemMigrationService":
        d["MigrationServiceListenerIPAddressList"] = [host.ip]
    return d


def _win32_cs(host):
    return {
        "Caption": host.name, "Description": "AT/AT COMPATIBLE", "ElementName": None,
        "Name": host.name, "DNSHostName": host.name.lower(), "Domain": host.domain,
        "PartOfDomain": True, "Manufacturer": "Contoso Hardware", "Model": "HV-2U-R740",
        "SystemType": "x64-based PC", "NumberOfProcessors": host.sockets,
        "NumberOfLogicalProcessors": host.logical,
        "TotalPhysicalMemory": host.memory_mb * 1024 * 1024, "Status": "OK",
        "PrimaryOwnerName": "Contoso IT", "HypervisorPresent": True,
        "CreationClassName": "Win32_ComputerSystem", "Workgroup": None, "UserName": None,
    }


def host_used_mb(host):
    return 4096 + sum(vm.memory_mb for vm in host.vms.values() if vm.state in (RUNNING, PAUSED, STARTING))


def _win32_os(host):
    total_kb = host.memory_mb * 1024
    free_kb = max(0, total_kb - host_used_mb(host) * 1024)
    return {
        "Caption": host.os_caption, "Description": "", "ElementName": None,
        "Name": "%s|C:\\Windows|\\Device\\Harddisk0\\Partition2" % host.os_caption,
        "Version": host.os_version, "BuildNumber": host.os_build, "CSName": host.name,
        "Manufacturer": "Microsoft Corporation", "OSArchitecture": "64-bit", "OSType": 18,
        "ProductType": 3, "ServicePackMajorVersion": 0,
        "SerialNumber": "00454-60000-00001-AA%03d" % host.index,
        "SystemDirectory": "C:\\Windows\\system32", "WindowsDirectory": "C:\\Windows",
        "InstallDate": host.install_time, "LastBootUpTime": host.boot_time,
        "LocalDateTime": time.time(), "FreePhysicalMemory": free_kb,
        "TotalVisibleMemorySize": total_kb, "FreeVirtualMemory": free_kb + 8 * 1024 * 1024,
        "TotalVirtualMemorySize": total_kb + 8 * 1024 * 1024, "NumberOfProcesses": 120,
        "Status": "OK", "CreationClassName": "Win32_OperatingSystem",
        "CSCreationClassName": "Win32_ComputerSystem",
    }


def _win32_cpu(host, socket):
    load = sum(vm_load(vm) * vm.vcpus for vm in host.vms.values()) // max(1, host.logical)
    return {
        "Caption": "Intel64 Family 6 Model 85 Stepping 7",
        "Description": "Intel64 Family 6 Model 85 Stepping 7", "ElementName": None,
        "DeviceID": "CPU%d" % socket, "Name": host.cpu_name, "Manufacturer": "GenuineIntel",
        "NumberOfCores": host.cores, "NumberOfEnabledCore": host.cores,
        "NumberOfLogicalProcessors": host.cores * 2, "ThreadCount": host.cores * 2,
        "MaxClockSpeed": host.cpu_mhz, "CurrentClockSpeed": host.cpu_mhz,
        "LoadPercentage": min(100, load), "SocketDesignation": "CPU%d" % (socket + 1),
        "Architecture": 9, "AddressWidth": 64, "ProcessorId": "BFEBFBFF00050657",
        "Status": "OK", "VirtualizationFirmwareEnabled": False, "SystemName": host.name,
        "CreationClassName": "Win32_Processor", "SystemCreationClassName": "Win32_ComputerSystem",
    }


def volume_of(host, path):
    """The volume (tuple of host.volumes) whose drive letter starts `path`, or None."""
    for v in host.volumes:
        if v[0] and path[:3].upper() == v[0].upper() + "\\":
            return v
    return None


def volume_free(host, vol):
    drive, _, _, capacity, used = vol
    files = sum(f["file_size"] for f in host.files.values()
                if drive and f["path"][:2].upper() == drive.upper())
    return max(0, capacity - used - files)


def _volume(host, i, vol):
    drive, label, fs, capacity, used = vol
    device = "\\\\?\\Volume{%08x-0000-4000-8000-%012x}\\" % (0x5f000000 + host.index, i)
    return {"Caption": drive + "\\" if drive else device, "Description": None, "ElementName": None,
            "DeviceID": device, "Name": drive + "\\" if drive else device, "Label": label,
            "DriveLetter": drive, "DriveType": 3, "FileSystem": fs, "Capacity": capacity,
            "FreeSpace": volume_free(host, vol), "BlockSize": 4096,
            "SerialNumber": 0x1000 * (host.index + 1) + i, "BootVolume": drive == "C:",
            "SystemVolume": drive is None, "Automount": True, "Compressed": False,
            "PageFilePresent": drive == "C:", "Status": None, "SystemName": host.name,
            "CreationClassName": "Win32_Volume", "SystemCreationClassName": "Win32_ComputerSystem"}


def _switch(host, i, name):
    return {"InstanceID": None, "Caption": "Virtual Switch", "Description": "Microsoft Virtual Switch",
            "ElementName": name, "InstallDate": None, "OperationalStatus": [2],
            "StatusDescriptions": ["OK"], "Status": "OK", "HealthState": 5, "EnabledState": 2,
            "OtherEnabledState": None, "RequestedState": 12, "EnabledDefault": 2,
            "TimeOfLastStateChange": None, "CreationClassName": "Msvm_VirtualEthernetSwitch",
            "Name": "%08X-5A17-4C00-8000-%012X" % (0x5a000000 + host.index, i),
            "PrimaryOwnerName": None, "Roles": [], "NameFormat": None, "Dedicated": [],
            "ResetCapability": 5, "MaxVMQOffloads": 0, "MaxIOVOffloads": 0}


# ---- devices: controllers, drives, VHDs, network adapters ---------------------------------
#
# A WMI object path as Hyper-V writes one into Parent and HostResource:
#   \\HOST\root\virtualization\v2:Msvm_VirtualEthernetSwitch.CreationClassName="Msvm_Virtual
#   EthernetSwitch",Name="GUID"
# key values in double quotes with \ and " escaped by a backslash.

IDE_CONTROLLER = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"
DYNAMIC_VHDX_BYTES = 4 * 1024 * 1024        # a new dynamic VHDX file is 4 MiB on disk
DEVICE_CLASSES = ("Msvm_ResourceAllocationSettingData", "Msvm_StorageAllocationSettingData",
                  "Msvm_SyntheticEthernetPortSettingData", "Msvm_EmulatedEthernetPortSettingData",
                  "Msvm_EthernetPortAllocationSettingData")


def wmi_path(host, cls_name, inst):
    c = cim.find_class(cls_name)
    keys = ",".join('%s="%s"' % (k, str(inst.get(k, "")).replace("\\", "\\\\").replace('"', '\\"'))
                    for k in c.keys)
    return "\\\\%s\\root\\virtualization\\v2:%s.%s" % (host.name, cls_name, keys)


def parse_wmi_path(text):
    """(class name, {key: value}) of a WMI object path (absolute or relative), or None."""
    t = (text or "").strip()
    if ":" in t and t.startswith("\\\\"):
        t = t.split(":", 1)[1]
    if "." not in t:
        return None
    cls, rest = t.split(".", 1)
    keys, i = {}, 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0 or eq + 1 >= len(rest) or rest[eq + 1] != '"':
            return None
        name, j, val = rest[i:eq].strip(), eq + 2, []
        while j < len(rest) and rest[j] != '"':
            if rest[j] == "\\" and j + 1 < len(rest):
                j += 1
            val.append(rest[j])
            j += 1
        if j >= len(rest):
            return None
        keys[name] = "".join(val)
        i = j + 1
        if i < len(rest):
            if rest[i] != ",":
                return None
            i += 1
    return cls, keys


def _rasd_base(vm, iid, rtype, subtype, name):
    return {"InstanceID": iid, "Caption": name, "Description": "Settings for " + name,
            "ElementName": name, "ResourceType": rtype, "OtherResourceType": None,
            "ResourceSubType": subtype, "PoolID": "", "ConsumerVisibility": 3,
            "HostResource": [], "AllocationUnits": "count", "VirtualQuantity": 1,
            "Reservation": 1, "Limit": 1, "Weight": 0, "AutomaticAllocation": True,
            "AutomaticDeallocation": True, "Parent": None, "Connection": [], "Address": None,
            "MappingBehavior": None, "AddressOnParent": None, "VirtualQuantityUnits": "count"}


def ide_controllers(vm):
    """A generation 1 VM always has two emulated IDE controllers (Address 0 and 1)."""
    if vm.generation != 1:
        return []
    out = []
    for n in (0, 1):
        d = _rasd_base(vm, "Microsoft:%s\\%s\\%d" % (vm.guid, IDE_CONTROLLER, n), 5,
                       "Microsoft:Hyper-V:Emulated IDE Controller", "IDE Controller %d" % n)
        d["Address"] = str(n)
        out.append(d)
    return out


def vm_devices(vm, cls_name=None):
    """[(class name, instance)] of a VM's devices, the implicit IDE controllers first."""
    out = [("Msvm_ResourceAllocationSettingData", d) for d in ide_controllers(vm)]
    out += [(d["class"], d["props"]) for d in vm.devices]
    return [(c, i) for c, i in out if cls_name is None or c == cls_name]


def device_by_path(host, path):
    """(vm, class name, instance) named by a WMI object path, or (None, None, None)."""
    parsed = parse_wmi_path(path)
    if not parsed:
        return None, None, None
    cls, keys = parsed
    iid = keys.get("InstanceID", "")
    guid = iid.split(":", 1)[-1].split("\\")[0].upper()
    vm = host.vms.get(guid)
    if vm is None:
        return None, None, None
    for c, inst in vm_devices(vm):
        if c.lower() == cls.lower() and inst["InstanceID"].lower() == iid.lower():
            return vm, c, inst
    return None, None, None


def switch_by_path(host, path):
    parsed = parse_wmi_path(path)
    if not parsed or parsed[0].lower() != "msvm_virtualethernetswitch":
        return None
    want = parsed[1].get("Name", "").upper()
    for i, name in enumerate(host.switches):
        sw = _switch(host, i, name)
        if sw["Name"].upper() == want:
            return sw
    return None


def file_instance(host, f):
    path = f["path"]
    base = path.rsplit("\\", 1)[-1]
    return {"Caption": path.lower(), "Description": path.lower(), "ElementName": None,
            "Name": path.lower(), "FileSize": f["file_size"],
            "Extension": base.rsplit(".", 1)[-1].lower() if "." in base else "",
            "FileName": base.rsplit(".", 1)[0].lower(),
            "Path": path[2:].rsplit("\\", 1)[0].lower() + "\\", "Drive": path[:2].lower(),
            "CreationDate": f.get("created"), "LastModified": f.get("created"),
            "CreationClassName": "CIM_LogicalFile"}


def vhd_setting_data(f):
    return {"InstanceID": "Microsoft:" + f["disk_id"], "Caption": "Virtual Hard Disk Setting Data",
            "Description": "Setting Data for a Virtual Hard Disk", "ElementName": None,
            "Type": f["type"], "Format": f["format"], "Path": f["path"], "ParentPath": None,
            "MaxInternalSize": f["max_size"], "BlockSize": f["block_size"],
            "LogicalSectorSize": 512, "PhysicalSectorSize": 4096, "VirtualDiskId": f["disk_id"]}


def port_class(port):
    return ("Msvm_SyntheticEthernetPortSettingData"
            if port["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic Ethernet Port"
            else "Msvm_EmulatedEthernetPortSettingData")


# Device settings as AddResourceSettings leaves them (and the seed gives its VMs).
def new_scsi_controller(vm, n):
    d = _rasd_base(vm, "Microsoft:%s\\%s\\0" % (vm.guid, str(uuid.uuid4()).upper()), 6,
                   "Microsoft:Hyper-V:Synthetic SCSI Controller", "SCSI Controller")
    d["Address"] = str(n)
    return d


def new_drive(host, vm, ctrl, addr):
    d = _rasd_base(vm, "%s\\%d\\D" % (ctrl["InstanceID"], addr), 17,
                   "Microsoft:Hyper-V:Synthetic Disk Drive", "Hard Drive")
    d["Parent"] = wmi_path(host, "Msvm_ResourceAllocationSettingData", ctrl)
    d["AddressOnParent"] = str(addr)
    return d


def new_vhd(host, vm, drive, path):
    d = _rasd_base(vm, drive["InstanceID"][:-1] + "L", 31, "Microsoft:Hyper-V:Virtual Hard Disk",
                   "Hard Disk Image")
    d.update({"Parent": wmi_path(host, "Msvm_ResourceAllocationSettingData", drive),
              "HostResource": [path], "Caption": "Hard Disk Image",
              "VirtualQuantityUnits": "count(fixed size block)", "Access": 3, "SnapshotId": ""})
    return d


def new_port(host, vm, subtype, name, mac, static):
    """A network adapter; mac None: dynamic (000000000000 until the VM first starts)."""
    d = _rasd_base(vm, "Microsoft:%s\\%s" % (vm.guid, str(uuid.uuid4()).upper()), 10, subtype,
                   name or "Network Adapter")
    d["StaticMacAddress"] = static
    d["Address"] = mac or (next_mac(host) if vm.started_once else "000000000000")
    if subtype == "Microsoft:Hyper-V:Synthetic Ethernet Port":
        d["VirtualSystemIdentifiers"] = ["{%s}" % str(uuid.uuid4()).upper()]
    d["ClusterMonitored"] = True
    return d


def new_connection(host, vm, port, switch_path):
    d = _rasd_base(vm, port["InstanceID"] + "\\C", 33, "Microsoft:Hyper-V:Ethernet Connection",
                   "Ethernet Connection")
    d.update({"Parent": wmi_path(host, port_class(port), port), "HostResource": [switch_path],
              "EnabledState": 2})
    sw = switch_by_path(host, switch_path)
    d["LastKnownSwitchName"] = sw["ElementName"] if sw else None
    return d


def seed_devices(host, vm, rng):
    """What a VM made in Hyper-V Manager has: a dynamic VHDX on D: (generation 2 on a SCSI
    controller, generation 1 on IDE 0:0) and a synthetic adapter on the external switch."""
    path = "D:\\Hyper-V\\%s\\Virtual Hard Disks\\%s.vhdx" % (vm.name, vm.name)
    size = rng.choice([40, 60, 127]) << 30
    host.files[path.lower()] = {"path": path, "format": 3, "type": 3, "max_size": size,
                                "file_size": rng.randint(2, 12) << 30, "block_size": 32 << 20,
                                "disk_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
                                "created": vm.created}
    devs = []
    if vm.generation == 2:
        ctrl = new_scsi_controller(vm, 0)
        devs.append(("Msvm_ResourceAllocationSettingData", ctrl))
    else:
        ctrl = ide_controllers(vm)[0]
    drive = new_drive(host, vm, ctrl, 0)
    port = new_port(host, vm, "Microsoft:Hyper-V:Synthetic Ethernet Port", None, None, False)
    sw = _switch(host, 0, host.switches[0])
    devs += [("Msvm_ResourceAllocationSettingData", drive),
             ("Msvm_StorageAllocationSettingData", new_vhd(host, vm, drive, path)),
             ("Msvm_SyntheticEthernetPortSettingData", port),
             ("Msvm_EthernetPortAllocationSettingData",
              new_connection(host, vm, port, wmi_path(host, "Msvm_VirtualEthernetSwitch", sw)))]
    vm.devices = [{"class": c, "props": d} for c, d in devs]


def next_mac(host):
    """A dynamic MAC from Hyper-V's range (00-15-5D) as Address writes it (12 hex digits)."""
    host.mac_next += 1
    return "00155D%02X%04X" % (0x40 + host.index, host.mac_next)


def instances(host, cls):
    """Every instance of `cls` (a CimClass) on `host`, as dicts."""
    n = cls.name
    vms = sorted(host.vms.values(), key=lambda v: v.name.lower())
    if n == "Msvm_ComputerSystem":
        return [_host_cs(host)] + [_vm_cs(host, vm) for vm in vms]
    if n == "Msvm_VirtualSystemSettingData":
        return [_vssd(host, vm) for vm in vms] + [snapshot_vssd(host, vm, sn) for vm in vms
                                                  for sn in vm.snapshots]
    if n == "Msvm_ProcessorSettingData":
        return [processor_settings(host, vm) for vm in vms]
    if n == "Msvm_MemorySettingData":
        return [memory_settings(host, vm) for vm in vms]
    if n == "Msvm_ShutdownComponent":
        return [_shutdown(host, vm) for vm in vms if vm.state == RUNNING]
    if n == "Msvm_SummaryInformation":
        return [summary(host, vm) for vm in vms]
    if n == "Msvm_ConcreteJob":
        return [_job(host, j) for j in sorted(host.jobs.values(), key=lambda j: j.submitted)
                if not j.hidden]
    if n == "Msvm_VirtualSystemManagementService":
        return [_service(host, n, "vmms", "Virtual Machine Management Service")]
    if n == "Msvm_VirtualSystemMigrationService":
        return [_service(host, n, "vsmigrationservice", "Virtual System Migration Service")]
    if n == "Msvm_VirtualSystemSnapshotService":
        return [_service(host, n, "vssnapsvc", "Hyper-V Virtual System Snapshot Service")]
    if n == "Msvm_VirtualSystemMigrationSettingData":
        return [{"InstanceID": "Microsoft:Definition\\%s\\Default" % host.name,
                 "Caption": "Virtual System Migration Setting Data",
                 "Description": "Default migration settings", "ElementName": "Default",
                 "MigrationType": 32768, "TransportType": 5, "Bandwidth": None,
                 "DestinationIPAddressList": [], "DestinationPlannedVirtualSystemId": None,
                 "RetainVhdCopiesOnSource": False, "EnableCompression": True, "Priority": 0}]
    if n == "Win32_ComputerSystem":
        return [_win32_cs(host)]
    if n == "Win32_OperatingSystem":
        return [_win32_os(host)]
    if n == "Win32_Processor":
        return [_win32_cpu(host, s) for s in range(host.sockets)]
    if n == "Win32_Volume":
        return [_volume(host, i, v) for i, v in enumerate(host.volumes)]
    if n == "Msvm_VirtualEthernetSwitch":
        return [_switch(host, i, name) for i, name in enumerate(host.switches)]
    if n in DEVICE_CLASSES:
        return [inst for vm in vms for _, inst in vm_devices(vm, n)]
    if n == "Msvm_ImageManagementService":
        return [{"Caption": "Hyper-V Image Management Service",
                 "Description": "Provides Image Management servicing for Hyper-V",
                 "ElementName": "Hyper-V Image Management Service", "OperationalStatus": [2],
                 "HealthState": 5, "EnabledState": 2, "RequestedState": 12,
                 "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host.name,
                 "CreationClassName": n, "Name": "vhdsvc", "Started": True}]
    if n == "CIM_DataFile":
        return [file_instance(host, f) for f in sorted(host.files.values(), key=lambda f: f["path"])]
    return []


def key_of(cls, inst):
    return tuple(str(inst.get(k, "")).lower() for k in cls.keys)


def lookup(host, cls, keys):
    """The instance of `cls` whose key properties equal `keys` (case-insensitive), or None."""
    want = tuple(str(keys.get(k, "")).lower() for k in cls.keys)
    for inst in instances(host, cls):
        if key_of(cls, inst) == want:
            return inst
    return None


def ref(cls_name, inst):
    c = cim.find_class(cls_name)
    return cim.Ref(cls_name, {k: str(inst.get(k, "")) for k in c.keys})


def vm_ref(vm):
    return cim.Ref("Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem",
                                           "Name": vm.guid})


def job_ref(job):
    return cim.Ref("Msvm_ConcreteJob", {"InstanceID": job.id})


# Associations: (source class, association class) -> function(host, source inst) -> [(cls, inst)]
def associations(host, src_cls, src):
    """[(association class name, result CimClass, result instance)] for instance `src`."""
    out = []
    n = src_cls.name
    C = cim.find_class
    if n == "Msvm_ComputerSystem":
        vm = host.vms.get(src.get("Name", "").upper())
        if vm is not None:
            out.append(("Msvm_SettingsDefineState", C("Msvm_VirtualSystemSettingData"), _vssd(host, vm)))
            for sn in vm.snapshots:
                out.append(("Msvm_SnapshotOfVirtualSystem", C("Msvm_VirtualSystemSettingData"),
                            snapshot_vssd(host, vm, sn)))
                if sn["id"] == vm.current_snapshot:
                    out.append(("Msvm_MostCurrentSnapshotInBranch",
                                C("Msvm_VirtualSystemSettingData"), snapshot_vssd(host, vm, sn)))
            if vm.state == RUNNING:
                out.append(("Msvm_SystemDevice", C("Msvm_ShutdownComponent"), _shutdown(host, vm)))
            for j in host.jobs.values():
                if j.affected == vm.guid and not j.hidden:
                    out.append(("Msvm_AffectedJobElement", C("Msvm_ConcreteJob"), _job(host, j)))
        elif src.get("Name", "").lower() == host.name.lower():
            for svc in ("Msvm_VirtualSystemManagementService", "Msvm_VirtualSystemMigrationService",
                        "Msvm_VirtualSystemSnapshotService"):
                out.append(("Msvm_HostedService", C(svc), instances(host, C(svc))[0]))
    elif n == "Msvm_VirtualSystemSettingData":
        guid = src.get("InstanceID", "").split(":", 1)[-1].upper()
        vm = host.vms.get(guid)
        if vm is not None:
            out.append(("Msvm_VirtualSystemSettingDataComponent", C("Msvm_ProcessorSettingData"), processor_settings(host, vm)))
            out.append(("Msvm_VirtualSystemSettingDataComponent", C("Msvm_MemorySettingData"), memory_settings(host, vm)))
            for dc, inst in vm_devices(vm):
                out.append(("Msvm_VirtualSystemSettingDataComponent", C(dc), inst))
            out.append(("Msvm_SettingsDefineState", C("Msvm_ComputerSystem"), _vm_cs(host, vm)))
    elif n in ("Msvm_ProcessorSettingData", "Msvm_MemorySettingData") + DEVICE_CLASSES:
        guid = src.get("InstanceID", "").split(":", 1)[-1].split("\\")[0].upper()
        vm = host.vms.get(guid)
        if vm is not None:
            out.append(("Msvm_VirtualSystemSettingDataComponent", C("Msvm_VirtualSystemSettingData"), _vssd(host, vm)))
    elif n == "Msvm_ShutdownComponent":
        vm = host.vms.get(src.get("SystemName", "").upper())
        if vm is not None:
            out.append(("Msvm_SystemDevice", C("Msvm_ComputerSystem"), _vm_cs(host, vm)))
    elif n == "Msvm_ConcreteJob":
        j = host.jobs.get(src.get("InstanceID", "").upper())
        if j is not None and j.affected in host.vms:
            out.append(("Msvm_AffectedJobElement", C("Msvm_ComputerSystem"), _vm_cs(host, host.vms[j.affected])))
    elif n == "Win32_ComputerSystem":
        for cpu in instances(host, C("Win32_Processor")):
            out.append(("Win32_ComputerSystemProcessor", C("Win32_Processor"), cpu))
        out.append(("Win32_SystemOperatingSystem", C("Win32_OperatingSystem"), _win32_os(host)))
    elif n == "Win32_Processor":
        out.append(("Win32_ComputerSystemProcessor", C("Win32_ComputerSystem"), _win32_cs(host)))
    elif n == "Win32_OperatingSystem":
        out.append(("Win32_SystemOperatingSystem", C("Win32_ComputerSystem"), _win32_cs(host)))
    return out
