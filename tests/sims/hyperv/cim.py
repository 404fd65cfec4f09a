"""CIM classes of the simulator and how WinRM's WMI plugin writes and reads their instances.

A class is a `CimClass`: its WMI namespace, its keys, and an ordered list of typed properties
(the subset of the MOF that Hyper-V management software reads).  An instance is a plain dict
of property name -> Python value, produced from the simulator's state by model.py.

On the wire (MS-WSMV 3.1.4.1.x, as a Hyper-V host answers):
  * an instance is an element named after the class in the namespace
    http://schemas.microsoft.com/wbem/wsman/1/wmi/<namespace>/<Class>, with xsi:type
    "<prefix>:<Class>_Type"; each property is a child element in the same namespace;
  * null is <p:Prop xsi:nil="true"/>; an array is the element repeated (an empty array is
    written like null); booleans are true/false;
  * datetime is <p:Prop><cim:Datetime>2024-01-31T10:00:00.000000Z</cim:Datetime></p:Prop>,
    an interval <cim:Interval>P0DT0H0M1.500000S</cim:Interval>;
  * a reference is an endpoint reference: <a:Address> plus <a:ReferenceParameters> holding
    <w:ResourceURI> and <w:SelectorSet> (with the __cimnamespace selector WinRM adds).
Method inputs carry embedded instances as CIM-XML <INSTANCE> text (DSP0201), parsed here.
"""

import datetime as _dt
import xml.etree.ElementTree as ET

from wsman import (ANONYMOUS, NS_A, NS_CIM, NS_W, NS_XSI, WMI_BASE, local_name, ns_of, q,
                   safe_fromstring, sub)

NS_VIRT = "root/virtualization/v2"
NS_CIMV2 = "root/cimv2"


class CimClass:
    def __init__(self, name, namespace, keys, props, parent=None, methods=()):
        self.name = name
        self.namespace = namespace
        self.keys = keys                     # ordered key names
        self.props = props                   # [(name, type, is_array)]
        self.parent = parent                 # CIM superclass chain for ISA matching
        self.methods = set(methods)
        self.schema = {p[0].lower(): p for p in props}

    @property
    def uri(self):
        return WMI_BASE + self.namespace + "/" + self.name

    def lineage(self):
        out, c = [self.name.lower()], self.parent
        while c:
            out.append(c.lower())
            c = _PARENTS.get(c)
        return out


_PARENTS = {
    "CIM_ComputerSystem": "CIM_System", "CIM_System": "CIM_EnabledLogicalElement",
    "CIM_EnabledLogicalElement": "CIM_LogicalElement", "CIM_LogicalElement": "CIM_ManagedSystemElement",
    "CIM_VirtualSystemSettingData": "CIM_SettingData", "CIM_SettingData": "CIM_ManagedElement",
    "CIM_ResourceAllocationSettingData": "CIM_SettingData",
    "CIM_ConcreteJob": "CIM_Job", "CIM_Job": "CIM_LogicalElement",
    "CIM_VirtualSystemManagementService": "CIM_Service", "CIM_Service": "CIM_EnabledLogicalElement",
    "CIM_VirtualSystemMigrationService": "CIM_Service",
    "CIM_LogicalDevice": "CIM_EnabledLogicalElement",
    "CIM_Processor": "CIM_LogicalDevice", "Win32_Processor": "CIM_Processor",
    "CIM_OperatingSystem": "CIM_EnabledLogicalElement",
    "CIM_UnitaryComputerSystem": "CIM_ComputerSystem",
    "CIM_StorageVolume": "CIM_StorageExtent", "CIM_StorageExtent": "CIM_LogicalDevice",
    "CIM_StorageAllocationSettingData": "CIM_ResourceAllocationSettingData",
    "CIM_EthernetPortAllocationSettingData": "CIM_ResourceAllocationSettingData",
    "Msvm_ImageManagementService": "CIM_Service",
    "CIM_DataFile": "CIM_LogicalFile", "CIM_LogicalFile": "CIM_LogicalElement",
}


def P(name, t="string", arr=False):
    return (name, t, arr)


_MANAGED = [P("Caption"), P("Description"), P("ElementName")]

CLASSES = {}


def _reg(c):
    CLASSES[c.name.lower()] = c
    return c


_reg(CimClass("Msvm_ComputerSystem", NS_VIRT, ["CreationClassName", "Name"], _MANAGED + [
    P("InstallDate", "datetime"), P("OperationalStatus", "uint16", True),
    P("StatusDescriptions", "string", True), P("Status"), P("HealthState", "uint16"),
    P("EnabledState", "uint16"), P("OtherEnabledState"), P("RequestedState", "uint16"),
    P("EnabledDefault", "uint16"), P("TimeOfLastStateChange", "datetime"),
    P("AvailableRequestedStates", "uint16", True), P("CreationClassName"), P("Name"),
    P("PrimaryOwnerName"), P("PrimaryOwnerContact"), P("Roles", "string", True),
    P("NameFormat"), P("OtherIdentifyingInfo", "string", True),
    P("IdentifyingDescriptions", "string", True), P("Dedicated", "uint16", True),
    P("ResetCapability", "uint16"), P("PowerManagementCapabilities", "uint16", True),
    P("OnTimeInMilliseconds", "uint64"), P("TimeOfLastConfigurationChange", "datetime"),
    P("ProcessID", "uint32"), P("ReplicationState", "uint16"), P("ReplicationHealth", "uint16"),
    P("EnhancedSessionModeState", "uint16"), P("NumberOfNumaNodes", "uint16"),
], parent="CIM_ComputerSystem", methods=["RequestStateChange"]))

_reg(CimClass("Msvm_VirtualSystemSettingData", NS_VIRT, ["InstanceID"], [
    P("InstanceID")] + _MANAGED + [
    P("VirtualSystemIdentifier"), P("VirtualSystemType"), P("VirtualSystemSubType"),
    P("Version"), P("ConfigurationID"), P("Notes", "string", True), P("CreationTime", "datetime"),
    P("ConfigurationDataRoot"), P("ConfigurationFile"), P("SnapshotDataRoot"),
    P("SwapFileDataRoot"), P("LogDataRoot"), P("AutomaticStartupAction", "uint16"),
    P("AutomaticStartupActionDelay", "interval"), P("AutomaticShutdownAction", "uint16"),
    P("AutomaticRecoveryAction", "uint16"), P("BootOrder", "uint16", True),
    P("BootSourceOrder", "string", True), P("SecureBootEnabled", "boolean"),
    P("IsSaved", "boolean"), P("Parent"), P("BIOSGUID"), P("BIOSSerialNumber"),
    P("BaseBoardSerialNumber"), P("ChassisSerialNumber"), P("ChassisAssetTag"),
    P("VirtualNumaEnabled", "boolean"), P("EnhancedSessionTransportType", "uint16"),
], parent="CIM_VirtualSystemSettingData"))

_RASD = [P("InstanceID")] + _MANAGED + [
    P("ResourceType", "uint16"), P("OtherResourceType"), P("ResourceSubType"), P("PoolID"),
    P("ConsumerVisibility", "uint16"), P("HostResource", "string", True),
    P("AllocationUnits"), P("VirtualQuantity", "uint64"), P("Reservation", "uint64"),
    P("Limit", "uint64"), P("Weight", "uint32"), P("AutomaticAllocation", "boolean"),
    P("AutomaticDeallocation", "boolean"), P("Parent"), P("Connection", "string", True),
    P("Address"), P("MappingBehavior", "uint16"), P("AddressOnParent"),
    P("VirtualQuantityUnits"),
]

_reg(CimClass("Msvm_ProcessorSettingData", NS_VIRT, ["InstanceID"], _RASD + [
    P("LimitCPUID", "boolean"), P("LimitProcessorFeatures", "boolean"),
    P("HwThreadsPerCore", "uint64"), P("ExposeVirtualizationExtensions", "boolean"),
    P("MaxProcessorsPerNumaNode", "uint64"), P("MaxNumaNodesPerSocket", "uint64"),
], parent="CIM_ResourceAllocationSettingData"))

_reg(CimClass("Msvm_MemorySettingData", NS_VIRT, ["InstanceID"], _RASD + [
    P("DynamicMemoryEnabled", "boolean"), P("TargetMemoryBuffer", "uint32"),
    P("IsVirtualized", "boolean"), P("SwapFilesInUse", "boolean"),
    P("MaxMemoryBlocksPerNumaNode", "uint64"),
], parent="CIM_ResourceAllocationSettingData"))

_reg(CimClass("Msvm_VirtualSystemManagementService", NS_VIRT,
              ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"],
              _MANAGED + [P("InstallDate", "datetime"), P("OperationalStatus", "uint16", True),
                          P("StatusDescriptions", "string", True), P("Status"),
                          P("HealthState", "uint16"), P("EnabledState", "uint16"),
                          P("RequestedState", "uint16"), P("EnabledDefault", "uint16"),
                          P("SystemCreationClassName"), P("SystemName"),
                          P("CreationClassName"), P("Name"), P("PrimaryOwnerName"),
                          P("Started", "boolean"), P("StartMode")],
              parent="CIM_VirtualSystemManagementService",
              methods=["DefineSystem", "DestroySystem", "ModifyResourceSettings",
                       "ModifySystemSettings", "GetSummaryInformation",
                       "AddResourceSettings", "RemoveResourceSettings"]))

_reg(CimClass("Msvm_VirtualSystemSnapshotService", NS_VIRT,
              ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"],
              _MANAGED + [P("OperationalStatus", "uint16", True), P("HealthState", "uint16"),
                          P("EnabledState", "uint16"), P("RequestedState", "uint16"),
                          P("SystemCreationClassName"), P("SystemName"),
                          P("CreationClassName"), P("Name"), P("Started", "boolean")],
              parent="CIM_VirtualSystemSnapshotService",
              methods=["CreateSnapshot", "ApplySnapshot", "DestroySnapshot",
                       "DestroySnapshotTree"]))

_reg(CimClass("Msvm_VirtualSystemMigrationService", NS_VIRT,
              ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"],
              _MANAGED + [P("OperationalStatus", "uint16", True), P("HealthState", "uint16"),
                          P("EnabledState", "uint16"), P("RequestedState", "uint16"),
                          P("SystemCreationClassName"), P("SystemName"),
                          P("CreationClassName"), P("Name"), P("Started", "boolean"),
                          P("MigrationServiceListenerIPAddressList", "string", True)],
              parent="CIM_VirtualSystemMigrationService",
              methods=["MigrateVirtualSystemToHost", "CheckVirtualSystemIsMigratable"]))

_reg(CimClass("Msvm_VirtualSystemMigrationSettingData", NS_VIRT, ["InstanceID"], [
    P("InstanceID")] + _MANAGED + [
    P("MigrationType", "uint16"), P("TransportType", "uint16"), P("Bandwidth", "uint16"),
    P("DestinationIPAddressList", "string", True), P("DestinationPlannedVirtualSystemId"),
    P("RetainVhdCopiesOnSource", "boolean"), P("EnableCompression", "boolean"),
    P("Priority", "uint16"),
], parent="CIM_SettingData"))

_reg(CimClass("Msvm_ShutdownComponent", NS_VIRT,
              ["CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName"],
              _MANAGED + [P("OperationalStatus", "uint16", True),
                          P("StatusDescriptions", "string", True), P("HealthState", "uint16"),
                          P("EnabledState", "uint16"), P("RequestedState", "uint16"),
                          P("EnabledDefault", "uint16"), P("SystemCreationClassName"),
                          P("SystemName"), P("CreationClassName"), P("DeviceID")],
              parent="CIM_LogicalDevice", methods=["InitiateShutdown", "InitiateReboot",
                                                   "InitiateHibernate"]))

_reg(CimClass("Msvm_ConcreteJob", NS_VIRT, ["InstanceID"], [
    P("InstanceID")] + _MANAGED + [
    P("InstallDate", "datetime"), P("OperationalStatus", "uint16", True),
    P("StatusDescriptions", "string", True), P("Status"), P("HealthState", "uint16"),
    P("JobStatus"), P("TimeSubmitted", "datetime"), P("ScheduledStartTime", "datetime"),
    P("StartTime", "datetime"), P("ElapsedTime", "interval"), P("JobRunTimes", "uint32"),
    P("RunMonth", "uint8"), P("Priority", "uint32"), P("PercentComplete", "uint16"),
    P("DeleteOnCompletion", "boolean"), P("ErrorCode", "uint16"), P("ErrorDescription"),
    P("ErrorSummaryDescription"), P("RecoveryAction", "uint16"), P("Owner"), P("Name"),
    P("JobState", "uint16"), P("TimeOfLastStateChange", "datetime"),
    P("TimeBeforeRemoval", "interval"), P("Cancellable", "boolean"), P("JobType", "uint16"),
    P("LocalOrUtcTime", "uint16"),
], parent="CIM_ConcreteJob", methods=["RequestStateChange", "GetError"]))

_reg(CimClass("Msvm_SummaryInformation", NS_VIRT, ["Name"], _MANAGED + [
    P("InstanceID"), P("CreationTime", "datetime"), P("EnabledState", "uint16"),
    P("OtherEnabledState"), P("HealthState", "uint16"), P("Name"), P("Notes"), P("Version"),
    P("NumberOfProcessors", "uint16"), P("OperationalStatus", "uint16", True),
    P("StatusDescriptions", "string", True), P("UpTime", "uint64"),
    P("VirtualSystemSubType"), P("HostComputerSystemName"), P("ProcessorLoad", "uint16"),
    P("ProcessorLoadHistory", "uint16", True), P("MemoryUsage", "uint64"),
    P("MemoryAvailable", "sint32"), P("AvailableMemoryBuffer", "sint32"),
    P("Heartbeat", "uint16"), P("GuestOperatingSystem"), P("MemorySpansPhysicalNumaNodes", "boolean"),
    P("ReplicationState", "uint16"), P("ReplicationHealth", "uint16"),
    P("EnhancedSessionModeState", "uint16"), P("Shielded", "boolean"),
    P("AsynchronousTasks", "string", True), P("Snapshots", "string", True),
    P("IntegrationServicesVersionState", "uint16"),
]))

_reg(CimClass("Win32_ComputerSystem", NS_CIMV2, ["Name"], _MANAGED + [
    P("Name"), P("DNSHostName"), P("Domain"), P("PartOfDomain", "boolean"), P("Manufacturer"),
    P("Model"), P("SystemType"), P("NumberOfProcessors", "uint32"),
    P("NumberOfLogicalProcessors", "uint32"), P("TotalPhysicalMemory", "uint64"),
    P("Status"), P("PrimaryOwnerName"), P("HypervisorPresent", "boolean"),
    P("CreationClassName"), P("Workgroup"), P("UserName"),
], parent="CIM_UnitaryComputerSystem"))

_reg(CimClass("Win32_OperatingSystem", NS_CIMV2, ["Name"], _MANAGED + [
    P("Name"), P("Version"), P("BuildNumber"), P("CSName"), P("Manufacturer"),
    P("OSArchitecture"), P("OSType", "uint16"), P("ProductType", "uint32"),
    P("ServicePackMajorVersion", "uint16"), P("SerialNumber"), P("SystemDirectory"),
    P("WindowsDirectory"), P("InstallDate", "datetime"), P("LastBootUpTime", "datetime"),
    P("LocalDateTime", "datetime"), P("FreePhysicalMemory", "uint64"),
    P("TotalVisibleMemorySize", "uint64"), P("FreeVirtualMemory", "uint64"),
    P("TotalVirtualMemorySize", "uint64"), P("NumberOfProcesses", "uint32"), P("Status"),
    P("CreationClassName"), P("CSCreationClassName"),
], parent="CIM_OperatingSystem"))

_reg(CimClass("Win32_Processor", NS_CIMV2, ["DeviceID"], _MANAGED + [
    P("DeviceID"), P("Name"), P("Manufacturer"), P("NumberOfCores", "uint32"),
    P("NumberOfEnabledCore", "uint32"), P("NumberOfLogicalProcessors", "uint32"),
    P("ThreadCount", "uint32"), P("MaxClockSpeed", "uint32"), P("CurrentClockSpeed", "uint32"),
    P("LoadPercentage", "uint16"), P("SocketDesignation"), P("Architecture", "uint16"),
    P("AddressWidth", "uint16"), P("ProcessorId"), P("Status"),
    P("VirtualizationFirmwareEnabled", "boolean"), P("SystemName"),
    P("CreationClassName"), P("SystemCreationClassName"),
], parent="Win32_Processor"))


# A volume (MSDN "Win32_Volume class"): where a Hyper-V host keeps VM files.
_reg(CimClass("Win32_Volume", NS_CIMV2, ["DeviceID"], _MANAGED + [
    P("DeviceID"), P("Name"), P("Label"), P("DriveLetter"), P("DriveType", "uint32"),
    P("FileSystem"), P("Capacity", "uint64"), P("FreeSpace", "uint64"), P("BlockSize", "uint64"),
    P("SerialNumber", "uint32"), P("BootVolume", "boolean"), P("SystemVolume", "boolean"),
    P("Automount", "boolean"), P("Compressed", "boolean"), P("PageFilePresent", "boolean"),
    P("Status"), P("SystemName"), P("CreationClassName"), P("SystemCreationClassName"),
], parent="CIM_StorageVolume"))

# A virtual switch (MSDN "Msvm_VirtualEthernetSwitch class"): a CIM_ComputerSystem whose
# Name is a GUID and ElementName what the operator called it.
_reg(CimClass("Msvm_VirtualEthernetSwitch", NS_VIRT, ["CreationClassName", "Name"], [
    P("InstanceID")] + _MANAGED + [
    P("InstallDate", "datetime"), P("OperationalStatus", "uint16", True),
    P("StatusDescriptions", "string", True), P("Status"), P("HealthState", "uint16"),
    P("EnabledState", "uint16"), P("OtherEnabledState"), P("RequestedState", "uint16"),
    P("EnabledDefault", "uint16"), P("TimeOfLastStateChange", "datetime"),
    P("CreationClassName"), P("Name"), P("PrimaryOwnerName"), P("Roles", "string", True),
    P("NameFormat"), P("Dedicated", "uint16", True), P("ResetCapability", "uint16"),
    P("MaxVMQOffloads", "uint32"), P("MaxIOVOffloads", "uint32"),
], parent="CIM_ComputerSystem"))


# Devices of a VM (MSDN "Msvm_ResourceAllocationSettingData class" for controllers and
# drives, "Msvm_StorageAllocationSettingData class" for the VHDX in a drive,
# "Msvm_SyntheticEthernetPortSettingData" / "Msvm_EmulatedEthernetPortSettingData" for
# network adapters and "Msvm_EthernetPortAllocationSettingData" for an adapter's connection
# to a switch).  Parent and HostResource hold WMI object paths as text
# (\\HOST\root\virtualization\v2:Class.Key="value"), not endpoint references.
_reg(CimClass("Msvm_ResourceAllocationSettingData", NS_VIRT, ["InstanceID"], _RASD,
              parent="CIM_ResourceAllocationSettingData"))

_reg(CimClass("Msvm_StorageAllocationSettingData", NS_VIRT, ["InstanceID"], _RASD + [
    P("VirtualResourceBlockSize", "uint64"), P("Access", "uint16"),
    P("HostResourceBlockSize", "uint64"), P("HostExtentStartingAddress", "uint64"),
    P("HostExtentName"), P("IOPSLimit", "uint64"), P("IOPSReservation", "uint64"),
    P("PersistentReservationsSupported", "boolean"), P("CachingMode", "uint16"),
    P("SnapshotId"), P("IgnoreFlushes", "boolean"), P("WriteHardeningMethod", "uint16"),
], parent="CIM_StorageAllocationSettingData"))

_PORT = _RASD + [P("DesiredVLANEndpointMode", "uint16"), P("OtherEndpointMode")]

_reg(CimClass("Msvm_SyntheticEthernetPortSettingData", NS_VIRT, ["InstanceID"], _PORT + [
    P("VirtualSystemIdentifiers", "string", True), P("DeviceNamingEnabled", "boolean"),
    P("AllowPacketDirect", "boolean"), P("StaticMacAddress", "boolean"),
    P("ClusterMonitored", "boolean"),
], parent="CIM_EthernetPortAllocationSettingData"))

_reg(CimClass("Msvm_EmulatedEthernetPortSettingData", NS_VIRT, ["InstanceID"], _PORT + [
    P("StaticMacAddress", "boolean"), P("ClusterMonitored", "boolean"),
], parent="CIM_EthernetPortAllocationSettingData"))

_reg(CimClass("Msvm_EthernetPortAllocationSettingData", NS_VIRT, ["InstanceID"], _PORT + [
    P("EnabledState", "uint16"), P("LastKnownSwitchName"),
    P("RequiredFeatures", "string", True), P("RequiredFeatureHints", "string", True),
], parent="CIM_EthernetPortAllocationSettingData"))

# MSDN "Msvm_VirtualHardDiskSettingData class": only ever an embedded instance
# (CreateVirtualHardDisk's input, GetVirtualHardDiskSettingData's output), never enumerated.
_reg(CimClass("Msvm_VirtualHardDiskSettingData", NS_VIRT, ["InstanceID"], [
    P("InstanceID")] + _MANAGED + [
    P("Type", "uint16"), P("Format", "uint16"), P("Path"), P("ParentPath"),
    P("MaxInternalSize", "uint64"), P("BlockSize", "uint32"), P("LogicalSectorSize", "uint32"),
    P("PhysicalSectorSize", "uint32"), P("VirtualDiskId"),
], parent="CIM_SettingData"))

_reg(CimClass("Msvm_ImageManagementService", NS_VIRT,
              ["CreationClassName", "Name", "SystemCreationClassName", "SystemName"],
              _MANAGED + [P("OperationalStatus", "uint16", True), P("HealthState", "uint16"),
                          P("EnabledState", "uint16"), P("RequestedState", "uint16"),
                          P("SystemCreationClassName"), P("SystemName"),
                          P("CreationClassName"), P("Name"), P("Started", "boolean")],
              parent="Msvm_ImageManagementService",
              methods=["CreateVirtualHardDisk", "GetVirtualHardDiskSettingData",
                       "ResizeVirtualHardDisk"]))

# MSDN "CIM_DataFile class" (root\cimv2): the files a host holds; its Delete method is how a
# WMI client removes a VHDX (the image management service has no delete).
_reg(CimClass("CIM_DataFile", NS_CIMV2, ["Name"], _MANAGED + [
    P("Name"), P("FileSize", "uint64"), P("Extension"), P("FileName"), P("Path"), P("Drive"),
    P("CreationDate", "datetime"), P("LastModified", "datetime"), P("CreationClassName"),
], parent="CIM_DataFile", methods=["Delete"]))


def find_class(name):
    return CLASSES.get((name or "").lower())


def class_for_uri(uri):
    """(namespace, class or None for '*', CimClass or None) for a WMI resource URI, or None."""
    if not uri or not uri.startswith(WMI_BASE):
        return None
    rest = uri[len(WMI_BASE):]
    if "/" not in rest:
        return None
    ns, cls = rest.rsplit("/", 1)
    ns = ns.lower()                      # WMI namespaces are case-insensitive
    if cls == "*":
        return ns, None, None
    c = find_class(cls)
    if c is None or c.namespace != ns:
        return ns, cls, None
    return ns, cls, c


# ---- values -------------------------------------------------------------------------------

def fmt_datetime(t):
    if t is None:
        return None
    if isinstance(t, (int, float)):
        t = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_interval(seconds):
    s = float(seconds)
    days = int(s // 86400)
    s -= days * 86400
    h = int(s // 3600)
    s -= h * 3600
    m = int(s // 60)
    s -= m * 60
    return "P%dDT%dH%dM%.6fS" % (days, h, m, s)


def fmt_scalar(v, t):
    if isinstance(v, bool) or t == "boolean":
        return "true" if v else "false"
    return str(v)


class Ref:
    """A reference to an instance: class plus key values (a WS-Man endpoint reference)."""

    def __init__(self, cls_name, keys):
        self.cls = find_class(cls_name)
        if self.cls is None:
            raise ValueError("unknown class %s" % cls_name)
        self.keys = keys


def add_epr(parent, ref):
    """Append <a:Address> and <a:ReferenceParameters> for `ref` to `parent`."""
    sub(parent, NS_A, "Address", ANONYMOUS)
    rp = sub(parent, NS_A, "ReferenceParameters")
    sub(rp, NS_W, "ResourceURI", ref.cls.uri)
    ss = sub(rp, NS_W, "SelectorSet")
    for k in ref.cls.keys:
        sub(ss, NS_W, "Selector", ref.keys.get(k, ""), {"Name": k})
    sub(ss, NS_W, "Selector", ref.cls.namespace, {"Name": "__cimnamespace"})


def add_value(parent_el, ns, name, t, is_array, value):
    if value is None or (is_array and len(value) == 0):
        e = sub(parent_el, ns, name)
        e.set(ET.QName(NS_XSI, "nil"), "true")
        return
    values = value if is_array else [value]
    for v in values:
        e = sub(parent_el, ns, name)
        if t == "datetime":
            sub(e, NS_CIM, "Datetime", fmt_datetime(v))
        elif t == "interval":
            sub(e, NS_CIM, "Interval", fmt_interval(v))
        elif t == "ref":
            add_epr(e, v)
        else:
            e.text = fmt_scalar(v, t)


def instance_element(parent, cls, inst, props=None):
    """Append an instance of `cls` as WinRM writes it.  `props` restricts to a projection."""
    ns = cls.uri
    el = sub(parent, ns, cls.name)
    el.set(ET.QName(NS_XSI, "type"), ET.QName(ns, cls.name + "_Type"))
    wanted = None if props is None else {p.lower() for p in props}
    for (name, t, arr) in cls.props:
        if wanted is not None and name.lower() not in wanted:
            continue
        add_value(el, ns, name, t, arr, inst.get(name))
    return el


def embedded_output(parent, out_ns, param, cls, inst):
    """An embedded-object output parameter: the param element typed as the class."""
    el = sub(parent, out_ns, param)
    el.set(ET.QName(NS_XSI, "type"), ET.QName(cls.uri, cls.name + "_Type"))
    for (name, t, arr) in cls.props:
        add_value(el, cls.uri, name, t, arr, inst.get(name))
    return el


# ---- reading method inputs ----------------------------------------------------------------

def parse_epr(el):
    """(class name, {selector: value}) from an element holding an endpoint reference."""
    rp = el.find(q(NS_A, "ReferenceParameters"))
    if rp is None:
        epr = el.find(q(NS_A, "EndpointReference"))
        if epr is not None:
            rp = epr.find(q(NS_A, "ReferenceParameters"))
    if rp is None:
        raise ValueError("parameter %s is not an endpoint reference" % local_name(el.tag))
    uri = (rp.findtext(q(NS_W, "ResourceURI")) or "").strip()
    parsed = class_for_uri(uri)
    if not parsed or not parsed[1]:
        raise ValueError("unknown resource URI %s in reference" % uri)
    sels = {}
    ss = rp.find(q(NS_W, "SelectorSet"))
    if ss is not None:
        for s in ss.findall(q(NS_W, "Selector")):
            sels[s.get("Name", "")] = (s.text or "").strip()
    sels.pop("__cimnamespace", None)
    return parsed[1], sels


def parse_embedded_instance(text):
    """(CLASSNAME, {PROPERTY NAME: value or [values]}) from CIM-XML <INSTANCE> text."""
    if not text or not text.strip():
        raise ValueError("empty embedded instance")
    root = safe_fromstring(text.strip())
    if root.tag != "INSTANCE":
        raise ValueError("embedded instance must be a CIM-XML INSTANCE element")
    cls = root.get("CLASSNAME")
    if not cls:
        raise ValueError("INSTANCE has no CLASSNAME")
    props = {}
    for p in root:
        name = p.get("NAME")
        if not name:
            continue
        if p.tag == "PROPERTY":
            v = p.find("VALUE")
            props[name] = None if v is None else (v.text or "")
        elif p.tag == "PROPERTY.ARRAY":
            va = p.find("VALUE.ARRAY")
            props[name] = [] if va is None else [(v.text or "") for v in va.findall("VALUE")]
    return cls, props


def make_embedded_instance(cls_name, props):
    """CIM-XML INSTANCE text for `props` (used by tests and by migration NewSystemSettingData)."""
    root = ET.Element("INSTANCE", {"CLASSNAME": cls_name})
    for k, v in props.items():
        if isinstance(v, list):
            pa = ET.SubElement(root, "PROPERTY.ARRAY", {"NAME": k, "TYPE": "string"})
            va = ET.SubElement(pa, "VALUE.ARRAY")
            for x in v:
                ET.SubElement(va, "VALUE").text = str(x)
        else:
            p = ET.SubElement(root, "PROPERTY", {"NAME": k, "TYPE": "string"})
            ET.SubElement(p, "VALUE").text = str(v)
    return ET.tostring(root, encoding="unicode")


def children_by_name(el):
    """{local name: [elements]} for a method's _INPUT element."""
    out = {}
    for c in el:
        out.setdefault(local_name(c.tag), []).append(c)
    return out


def is_nil(el):
    return el.get(q(NS_XSI, "nil")) in ("true", "1")


def element_namespace(el):
    return ns_of(el.tag)
