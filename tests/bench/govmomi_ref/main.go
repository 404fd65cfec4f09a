// Command govmomi_ref is the reference client of the vCenter benchmark
// (tests/bench/vcenter_bench.py): a full inventory read done the usual
// govmomi way, with VMware's own library, to set beside polyvisord's sync.
//
//	govmomi_ref -url https://127.0.0.1:PORT/sdk -username U -password P [-cert PEM]
//
// It connects (RetrieveServiceContent), logs in, and for each kind of object
// the vcenter adapter's sync reads -- folders, datacenters, compute resources
// and clusters, datastores, networks, hosts, VMs -- creates a ContainerView
// on the root folder and Retrieves exactly the property paths the adapter
// maps (adapters/vcenter/vc_inventory.c) into govmomi's mo types.  It prints
// one line of JSON: the object counts, the elapsed time (connect + login +
// retrieval, and the retrieval alone, in seconds) and the SOAP round trips,
// counted by an http.RoundTripper around govmomi's own transport.
//
// Built like vcq (tests/peers/vcsim.sh) from Debian's GOPATH, no modules:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o govmomi_ref .
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// counter counts the HTTP round trips (one per SOAP call) it passes on.
type counter struct {
	next http.RoundTripper
	n    int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	atomic.AddInt64(&c.n, 1)
	return c.next.RoundTrip(r)
}

// The adapter's property paths, kind by kind (vc_inventory.c's tables).
var (
	folderProps = []string{"parent"}
	dcProps     = []string{"name", "parent", "vmFolder", "hostFolder"}
	crProps     = []string{"name", "parent", "resourcePool"}
	dsProps     = []string{"name", "summary.type", "summary.capacity", "summary.freeSpace", "summary.accessible"}
	netProps    = []string{"name"}
	hostProps   = []string{"name", "parent", "summary.hardware.numCpuCores", "summary.hardware.cpuMhz",
		"summary.hardware.memorySize", "summary.hardware.cpuModel", "summary.quickStats.overallCpuUsage",
		"summary.quickStats.overallMemoryUsage", "runtime.connectionState", "runtime.inMaintenanceMode",
		"summary.config.product.fullName", "datastore", "network"}
	vmProps = []string{"name", "runtime.powerState", "runtime.host", "config.hardware.numCPU",
		"config.hardware.memoryMB", "config.hardware.device", "config.template", "config.instanceUuid",
		"config.guestId", "guest.toolsRunningStatus", "summary.quickStats.overallCpuUsage",
		"summary.quickStats.guestMemoryUsage", "resourcePool"}
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "govmomi_ref: "+format+"\n", args...)
	os.Exit(1)
}

// retrieve reads one kind through its own ContainerView, as the adapter does.
func retrieve(ctx context.Context, m *view.Manager, root types.ManagedObjectReference, kinds []string,
	props []string, dst interface{}) {
	v, err := m.CreateContainerView(ctx, root, kinds, true)
	if err != nil {
		fail("view %v: %v", kinds, err)
	}
	if err := v.Retrieve(ctx, kinds, props, dst); err != nil {
		fail("retrieve %v: %v", kinds, err)
	}
}

func main() {
	rawURL := flag.String("url", "", "https://127.0.0.1:PORT/sdk")
	user := flag.String("username", "user", "")
	pass := flag.String("password", "pass", "")
	cert := flag.String("cert", "", "PEM certificate to pin (else TLS is not verified)")
	flag.Parse()
	u, err := url.Parse(*rawURL)
	if err != nil || *rawURL == "" {
		fail("-url https://HOST:PORT/sdk is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	start := time.Now()
	sc := soap.NewClient(u, *cert == "")
	if *cert != "" {
		if err := sc.SetRootCAs(*cert); err != nil {
			fail("cert: %v", err)
		}
	}
	rt := &counter{next: sc.Client.Transport}
	sc.Client.Transport = rt
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		fail("connect: %v", err)
	}
	c := &govmomi.Client{Client: vc, SessionManager: session.NewManager(vc)}
	if err := c.Login(ctx, url.UserPassword(*user, *pass)); err != nil {
		fail("login: %v", err)
	}
	connected := time.Now()
	m := view.NewManager(c.Client)
	root := c.ServiceContent.RootFolder

	var folders []mo.Folder
	var dcs []mo.Datacenter
	var crs []mo.ComputeResource
	var dss []mo.Datastore
	var nets []mo.Network
	var hosts []mo.HostSystem
	var vms []mo.VirtualMachine
	retrieve(ctx, m, root, []string{"Folder"}, folderProps, &folders)
	retrieve(ctx, m, root, []string{"Datacenter"}, dcProps, &dcs)
	retrieve(ctx, m, root, []string{"ComputeResource", "ClusterComputeResource"}, crProps, &crs)
	retrieve(ctx, m, root, []string{"Datastore"}, dsProps, &dss)
	retrieve(ctx, m, root, []string{"Network", "DistributedVirtualPortgroup"}, netProps, &nets)
	retrieve(ctx, m, root, []string{"HostSystem"}, hostProps, &hosts)
	retrieve(ctx, m, root, []string{"VirtualMachine"}, vmProps, &vms)
	end := time.Now()
	trips := atomic.LoadInt64(&rt.n)
	_ = c.Logout(context.Background())

	clusters := 0
	for _, cr := range crs {
		if cr.Self.Type == "ClusterComputeResource" {
			clusters++
		}
	}
	out, _ := json.Marshal(map[string]interface{}{
		"folders": len(folders), "datacenters": len(dcs), "compute_resources": len(crs),
		"clusters": clusters, "datastores": len(dss), "networks": len(nets), "hosts": len(hosts),
		"vms": len(vms), "seconds": end.Sub(start).Seconds(),
		"retrieve_seconds": end.Sub(connected).Seconds(), "round_trips": trips,
	})
	fmt.Println(string(out))
}
