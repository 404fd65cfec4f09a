// Command vcq is the integration tests' independent view of a vCenter: a
// small client over VMware's own govmomi library (not Polyvisor's code) that
// prints what vCenter says as JSON, and changes things "behind Polyvisor's
// back" the way another vSphere client would.
//
//	vcq -url URL -username U -password P [-cert PEM] vms
//	vcq ... hosts
//	vcq ... datastores             with capacity, free space and the hosts that mount each
//	vcq ... networks               standard and distributed port groups, with their hosts
//	vcq ... add-dvpg NAME VLAN     a distributed port group with that VLAN on the first switch
//	vcq ... add-datastore NAME DIR HOST
//	                               a local datastore over directory DIR on that host
//	                               (HostDatastoreSystem.CreateLocalDatastore)
//	vcq ... attach-disk NAME|MOREF FILE CONTROLLER_KEY UNIT
//	                               attach an existing VMDK ("[ds] dir/f.vmdk") to a VM
//	                               on that controller and unit, as another client would
//	vcq ... vm NAME|MOREF          one VM (exit 3 when it does not exist)
//	vcq ... host NAME|MOREF        one host
//	vcq ... devices NAME|MOREF     one VM's disks, NICs and controllers with their
//	                               keys, units, capacity and backings (file and
//	                               datastore; port group by name, Network or switch
//	                               uuid and port group key), and its vmPathName
//	vcq ... poweroff|poweron|suspend NAME|MOREF
//	vcq ... mark-template NAME|MOREF
//	                               turn a (powered-off) VM into a template
//	vcq ... tools-running NAME|MOREF
//	                               mark the guest's tools as running (vcsim's
//	                               "SET.<property>" extraConfig hook), so a
//	                               guest shutdown can be tried
//
// With -cert the server's certificate is pinned; without it TLS is not
// verified (this is a test tool talking to a loopback simulator).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type vmOut struct {
	MoRef       string   `json:"moref"`
	Template    bool     `json:"template"`
	Name        string   `json:"name"`
	PowerState  string   `json:"power_state"`
	NumCPU      int32    `json:"num_cpu"`
	MemoryMB    int32    `json:"memory_mb"`
	Host        string   `json:"host"`
	ToolsStatus string   `json:"tools_running_status"`
	Devices     []string `json:"devices"`
}

type devOut struct {
	Key            int32  `json:"key"`
	Type           string `json:"type"`
	ControllerKey  int32  `json:"controller_key"`
	UnitNumber     *int32 `json:"unit_number"`
	BusNumber      *int32 `json:"bus_number,omitempty"`
	CapacityKB     int64  `json:"capacity_kb,omitempty"`
	CapacityBytes  int64  `json:"capacity_bytes,omitempty"`
	File           string `json:"file,omitempty"`
	Datastore      string `json:"datastore,omitempty"`
	DiskMode       string `json:"disk_mode,omitempty"`
	Thin           *bool  `json:"thin,omitempty"`
	Backing        string `json:"backing,omitempty"`
	DeviceName     string `json:"device_name,omitempty"`
	Network        string `json:"network,omitempty"`
	SwitchUUID     string `json:"switch_uuid,omitempty"`
	PortgroupKey   string `json:"portgroup_key,omitempty"`
	MAC            string `json:"mac,omitempty"`
	Connected      *bool  `json:"connected,omitempty"`
	StartConnected *bool  `json:"start_connected,omitempty"`
}

type devicesOut struct {
	VmPathName string   `json:"vm_path_name"`
	Devices    []devOut `json:"devices"`
}

func devicesOf(v mo.VirtualMachine) devicesOut {
	o := devicesOut{Devices: []devOut{}}
	if v.Config == nil {
		return o
	}
	o.VmPathName = v.Config.Files.VmPathName
	for _, bd := range v.Config.Hardware.Device {
		d := bd.GetVirtualDevice()
		x := devOut{Key: d.Key, Type: fmt.Sprintf("%T", bd)[len("*types."):], ControllerKey: d.ControllerKey,
			UnitNumber: d.UnitNumber}
		if c := d.Connectable; c != nil {
			x.Connected, x.StartConnected = &c.Connected, &c.StartConnected
		}
		if ctl, ok := bd.(types.BaseVirtualController); ok {
			bus := ctl.GetVirtualController().BusNumber
			x.BusNumber = &bus
		}
		if d.Backing != nil {
			x.Backing = fmt.Sprintf("%T", d.Backing)[len("*types."):]
		}
		switch b := d.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			x.DiskMode, x.Thin = b.DiskMode, b.ThinProvisioned
		case *types.VirtualEthernetCardNetworkBackingInfo:
			x.DeviceName = b.DeviceName
			if b.Network != nil {
				x.Network = b.Network.Value
			}
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			x.SwitchUUID, x.PortgroupKey = b.Port.SwitchUuid, b.Port.PortgroupKey
		}
		if fb, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			f := fb.GetVirtualDeviceFileBackingInfo()
			x.File = f.FileName
			if f.Datastore != nil {
				x.Datastore = f.Datastore.Value
			}
		}
		if disk, ok := bd.(*types.VirtualDisk); ok {
			x.CapacityKB, x.CapacityBytes = disk.CapacityInKB, disk.CapacityInBytes
		}
		if nic, ok := bd.(types.BaseVirtualEthernetCard); ok {
			x.MAC = nic.GetVirtualEthernetCard().MacAddress
		}
		o.Devices = append(o.Devices, x)
	}
	return o
}

type hostOut struct {
	MoRef    string `json:"moref"`
	Name     string `json:"name"`
	Parent   string `json:"parent"`
	Cores    int16  `json:"cpu_cores"`
	MHz      int32  `json:"cpu_mhz"`
	MemoryMB int64  `json:"memory_mb"`
	State    string `json:"connection_state"`
	Maint    bool   `json:"in_maintenance_mode"`
	VMs      int    `json:"vms"`
	// what the host mounts and reaches (HostSystem.datastore, .network)
	Datastores []string `json:"datastores"`
	Networks   []string `json:"networks"`
}

type dsOut struct {
	MoRef      string   `json:"moref"`
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	CapacityMB int64    `json:"capacity_mb"`
	FreeMB     int64    `json:"free_mb"`
	MultiHost  *bool    `json:"multiple_host_access"`
	Hosts      []string `json:"hosts"`
	URL        string   `json:"url"` // vcsim: the local directory behind it
}

type netOut struct {
	MoRef string   `json:"moref"`
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	VLAN  *int32   `json:"vlan"`
	Hosts []string `json:"hosts"`
}

func refs(list []types.ManagedObjectReference) []string {
	out := []string{}
	for _, r := range list {
		out = append(out, r.Value)
	}
	return out
}

func die(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vcq: "+format+"\n", args...)
	os.Exit(code)
}

func vmOf(v mo.VirtualMachine) vmOut {
	o := vmOut{MoRef: v.Self.Value, Name: v.Name, PowerState: string(v.Runtime.PowerState)}
	if v.Config != nil {
		o.Template = v.Config.Template
		o.NumCPU = v.Config.Hardware.NumCPU
		o.MemoryMB = v.Config.Hardware.MemoryMB
		for _, d := range v.Config.Hardware.Device {
			o.Devices = append(o.Devices, fmt.Sprintf("%T", d)[len("*types."):])
		}
	}
	if v.Runtime.Host != nil {
		o.Host = v.Runtime.Host.Value
	}
	if v.Guest != nil {
		o.ToolsStatus = v.Guest.ToolsRunningStatus
	}
	return o
}

func hostOf(h mo.HostSystem) hostOut {
	o := hostOut{MoRef: h.Self.Value, Name: h.Name, VMs: len(h.Vm),
		State: string(h.Runtime.ConnectionState), Maint: h.Runtime.InMaintenanceMode,
		Datastores: refs(h.Datastore), Networks: refs(h.Network)}
	if h.Parent != nil {
		o.Parent = h.Parent.Type + ":" + h.Parent.Value
	}
	if hw := h.Summary.Hardware; hw != nil {
		o.Cores = hw.NumCpuCores
		o.MHz = hw.CpuMhz
		o.MemoryMB = hw.MemorySize / (1024 * 1024)
	}
	return o
}

func main() {
	rawURL := flag.String("url", "", "https://127.0.0.1:PORT/sdk")
	user := flag.String("username", "user", "")
	pass := flag.String("password", "pass", "")
	cert := flag.String("cert", "", "PEM certificate to pin")
	flag.Parse()
	args := flag.Args()
	if *rawURL == "" || len(args) < 1 {
		die(2, "usage: vcq -url URL [-username U -password P -cert PEM] vms|hosts|datastores|networks|vm|devices|snapshots|host|poweroff|poweron|suspend|mark-template|tools-running [NAME|MOREF]")
	}
	u, err := url.Parse(*rawURL)
	if err != nil {
		die(2, "bad url: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sc := soap.NewClient(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, *cert == "")
	if *cert != "" {
		if err := sc.SetRootCAs(*cert); err != nil {
			die(1, "cert: %v", err)
		}
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		die(1, "connect: %v", err)
	}
	c := &govmomi.Client{Client: vc, SessionManager: session.NewManager(vc)}
	if err := c.Login(ctx, url.UserPassword(*user, *pass)); err != nil {
		die(1, "login: %v", err)
	}
	defer func() { _ = c.Logout(context.Background()) }()

	m := view.NewManager(c.Client)
	cv, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, nil, true)
	if err != nil {
		die(1, "view: %v", err)
	}
	defer func() { _ = cv.Destroy(context.Background()) }()

	var vms []mo.VirtualMachine
	var hosts []mo.HostSystem
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime", "config.hardware", "config.template", "config.files", "guest.toolsRunningStatus", "snapshot"}, &vms); err != nil {
		die(1, "vms: %v", err)
	}
	if err := cv.Retrieve(ctx, []string{"HostSystem"}, []string{"name", "parent", "summary.hardware", "runtime", "vm", "datastore", "network"}, &hosts); err != nil {
		die(1, "hosts: %v", err)
	}
	findVM := func(key string) *mo.VirtualMachine {
		for i := range vms {
			if vms[i].Self.Value == key || vms[i].Name == key {
				return &vms[i]
			}
		}
		die(3, "no VM %q", key)
		return nil
	}
	out := json.NewEncoder(os.Stdout)
	need := func() string {
		if len(args) < 2 {
			die(2, "%s needs a NAME or MOREF", args[0])
		}
		return args[1]
	}

	switch args[0] {
	case "vms":
		list := []vmOut{}
		for _, v := range vms {
			list = append(list, vmOf(v))
		}
		_ = out.Encode(list)
	case "hosts":
		list := []hostOut{}
		for _, h := range hosts {
			list = append(list, hostOf(h))
		}
		_ = out.Encode(list)
	case "datastores":
		var dss []mo.Datastore
		if err := cv.Retrieve(ctx, []string{"Datastore"}, []string{"name", "summary", "host"}, &dss); err != nil {
			die(1, "datastores: %v", err)
		}
		list := []dsOut{}
		for _, d := range dss {
			o := dsOut{MoRef: d.Self.Value, Name: d.Name, Type: d.Summary.Type,
				CapacityMB: d.Summary.Capacity >> 20, FreeMB: d.Summary.FreeSpace >> 20,
				MultiHost: d.Summary.MultipleHostAccess, Hosts: []string{}, URL: d.Summary.Url}
			for _, m := range d.Host {
				o.Hosts = append(o.Hosts, m.Key.Value)
			}
			list = append(list, o)
		}
		_ = out.Encode(list)
	case "networks":
		var nets []mo.Network
		var pgs []mo.DistributedVirtualPortgroup
		if err := cv.Retrieve(ctx, []string{"Network"}, []string{"name", "host"}, &nets); err != nil {
			die(1, "networks: %v", err)
		}
		if err := cv.Retrieve(ctx, []string{"DistributedVirtualPortgroup"}, []string{"name", "host", "config"}, &pgs); err != nil {
			die(1, "port groups: %v", err)
		}
		list := []netOut{}
		for _, n := range nets {
			if n.Self.Type != "Network" {
				continue // a distributed port group: below
			}
			list = append(list, netOut{MoRef: n.Self.Value, Name: n.Name, Kind: "portgroup", Hosts: refs(n.Host)})
		}
		for _, pg := range pgs {
			o := netOut{MoRef: pg.Self.Value, Name: pg.Name, Kind: "dvportgroup", Hosts: refs(pg.Host)}
			if s, ok := pg.Config.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok && s != nil {
				if v, ok := s.Vlan.(*types.VmwareDistributedVirtualSwitchVlanIdSpec); ok && v.VlanId > 0 {
					id := v.VlanId
					o.VLAN = &id
				}
			}
			list = append(list, o)
		}
		_ = out.Encode(list)
	case "add-dvpg":
		if len(args) < 3 {
			die(2, "add-dvpg needs NAME VLAN")
		}
		var vlan int32
		if _, err := fmt.Sscan(args[2], &vlan); err != nil {
			die(2, "bad VLAN %q", args[2])
		}
		var switches []mo.DistributedVirtualSwitch
		if err := cv.Retrieve(ctx, []string{"DistributedVirtualSwitch"}, []string{"name"}, &switches); err != nil || len(switches) == 0 {
			die(1, "no distributed switch: %v", err)
		}
		dvs := object.NewDistributedVirtualSwitch(c.Client, switches[0].Self)
		task, err := dvs.AddPortgroup(ctx, []types.DVPortgroupConfigSpec{{
			Name: args[1], Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 8,
			DefaultPortConfig: &types.VMwareDVSPortSetting{Vlan: &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: vlan}},
		}})
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			die(1, "add-dvpg: %v", err)
		}
		fmt.Println("{}")
	case "add-datastore":
		if len(args) < 4 {
			die(2, "add-datastore needs NAME DIR HOST")
		}
		var host *mo.HostSystem
		for i := range hosts {
			if hosts[i].Self.Value == args[3] || hosts[i].Name == args[3] {
				host = &hosts[i]
			}
		}
		if host == nil {
			die(3, "no host %q", args[3])
		}
		dss, err := object.NewHostSystem(c.Client, host.Self).ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			die(1, "datastore system: %v", err)
		}
		ds, err := dss.CreateLocalDatastore(ctx, args[1], args[2])
		if err != nil {
			die(1, "add-datastore: %v", err)
		}
		_ = out.Encode(map[string]string{"moref": ds.Reference().Value})
	case "attach-disk":
		if len(args) < 5 {
			die(2, "attach-disk needs NAME|MOREF FILE CONTROLLER_KEY UNIT")
		}
		var ctrl, unit int32
		if _, err := fmt.Sscan(args[3], &ctrl); err != nil {
			die(2, "bad controller key %q", args[3])
		}
		if _, err := fmt.Sscan(args[4], &unit); err != nil {
			die(2, "bad unit %q", args[4])
		}
		vm := object.NewVirtualMachine(c.Client, findVM(args[1]).Self)
		disk := &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: -1, ControllerKey: ctrl, UnitNumber: &unit,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: string(types.VirtualDiskModePersistent),
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: args[2]}}}}
		spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk}}}
		task, err := vm.Reconfigure(ctx, spec)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			die(1, "attach-disk: %v", err)
		}
		fmt.Println("{}")
	case "vm":
		_ = out.Encode(vmOf(*findVM(need())))
	case "devices":
		_ = out.Encode(devicesOf(*findVM(need())))
	case "snapshots":
		// the VM's snapshot tree as govmomi reads it: {"current", "items": [{moref, name, parent, state, quiesced}]}
		type snapOut struct {
			Moref    string `json:"moref"`
			Name     string `json:"name"`
			Parent   string `json:"parent"`
			State    string `json:"state"`
			Quiesced bool   `json:"quiesced"`
		}
		res := struct {
			Current string    `json:"current"`
			Items   []snapOut `json:"items"`
		}{Items: []snapOut{}}
		var walk func(list []types.VirtualMachineSnapshotTree, parent string)
		walk = func(list []types.VirtualMachineSnapshotTree, parent string) {
			for _, t := range list {
				res.Items = append(res.Items, snapOut{t.Snapshot.Value, t.Name, parent, string(t.State), t.Quiesced})
				walk(t.ChildSnapshotList, t.Snapshot.Value)
			}
		}
		if info := findVM(need()).Snapshot; info != nil {
			if info.CurrentSnapshot != nil {
				res.Current = info.CurrentSnapshot.Value
			}
			walk(info.RootSnapshotList, "")
		}
		_ = out.Encode(res)
	case "host":
		key := need()
		for _, h := range hosts {
			if h.Self.Value == key || h.Name == key {
				_ = out.Encode(hostOf(h))
				return
			}
		}
		die(3, "no host %q", key)
	case "poweroff", "poweron", "suspend":
		vm := object.NewVirtualMachine(c.Client, findVM(need()).Self)
		var task *object.Task
		switch args[0] {
		case "poweroff":
			task, err = vm.PowerOff(ctx)
		case "poweron":
			task, err = vm.PowerOn(ctx)
		default:
			task, err = vm.Suspend(ctx)
		}
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			die(1, "%s: %v", args[0], err)
		}
		fmt.Println("{}")
	case "mark-template":
		vm := object.NewVirtualMachine(c.Client, findVM(need()).Self)
		if err := vm.MarkAsTemplate(ctx); err != nil {
			die(1, "mark-template: %v", err)
		}
		fmt.Println("{}")
	case "tools-running":
		vm := object.NewVirtualMachine(c.Client, findVM(need()).Self)
		spec := types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: "SET.guest.toolsRunningStatus", Value: string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)},
		}}
		task, err := vm.Reconfigure(ctx, spec)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			die(1, "tools-running: %v", err)
		}
		fmt.Println("{}")
	default:
		die(2, "unknown command %q (%s)", args[0], strings.Join([]string{"vms", "hosts", "datastores", "networks", "add-dvpg", "add-datastore", "attach-disk", "vm", "devices", "host", "poweroff", "poweron", "suspend", "mark-template", "tools-running"}, ", "))
	}
}
