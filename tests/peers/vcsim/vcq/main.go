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
//	vcq ... vm NAME|MOREF          one VM (exit 3 when it does not exist)
//	vcq ... host NAME|MOREF        one host
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
		die(2, "usage: vcq -url URL [-username U -password P -cert PEM] vms|hosts|datastores|networks|vm|host|poweroff|poweron|suspend|mark-template|tools-running [NAME|MOREF]")
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
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime", "config.hardware", "config.template", "guest.toolsRunningStatus"}, &vms); err != nil {
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
				MultiHost: d.Summary.MultipleHostAccess, Hosts: []string{}}
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
	case "vm":
		_ = out.Encode(vmOf(*findVM(need())))
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
		die(2, "unknown command %q (%s)", args[0], strings.Join([]string{"vms", "hosts", "datastores", "networks", "vm", "host", "poweroff", "poweron", "suspend", "mark-template", "tools-running"}, ", "))
	}
}
