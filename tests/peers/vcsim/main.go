// Command vcsim is Polyvisor's VMware vCenter simulator for the integration
// tests: a small main over govmomi's simulator package (Debian ships the
// package but not VMware's vcsim command), as tests/peers/vcsim.sh builds it.
//
// It builds a vCenter inventory from flags (datacenters, clusters per
// datacenter, hosts per cluster, standalone hosts, VMs per resource pool),
// serves the vSphere Web Services API on a loopback address over TLS and
// prints one line of JSON on stdout once it listens:
//
//	{"url": "https://127.0.0.1:PORT/sdk", "cert": "/path/cert.pem", "pid": N}
//
// With -count-calls it also keeps a log of the SOAP requests it serves (the
// method, and the session cookie it came with) and answers GET /pv/calls
// with it as JSON ({"calls": [{"method": M, "session": S}, ...]}; with
// ?reset=1 the log is emptied after the answer), so a benchmark counts each
// client's round trips on the server's side, the same way for every client.
//
// Two decisions: the certificate is ours (generated for 127.0.0.1 and written
// to -cert unless that file already exists with -key), so a client can pin it
// instead of running "insecure"; and the credentials are enforced
// (Service.Listen.User), so a wrong password gets InvalidLogin as from a real
// vCenter.  Only loopback addresses are accepted for -listen.  It ends on
// SIGTERM or SIGINT.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vcsim: "+format+"\n", args...)
	os.Exit(1)
}

// selfSigned writes a fresh ECDSA certificate for 127.0.0.1/localhost.
func selfSigned(certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail("key: %v", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"polyvisor vcsim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		fail("certificate: %v", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		fail("key: %v", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		fail("%v", err)
	}
}

// callLog is the -count-calls log; mu guards calls.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	Method  string `json:"method"`
	Session string `json:"session"`
}

// The first element inside the SOAP Body names the method.
var methodRE = regexp.MustCompile(`<(?:[\w.-]+:)?Body[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z_][\w]*)`)

func (l *callLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pv/calls" {
			l.mu.Lock()
			body, _ := json.Marshal(map[string]interface{}{"calls": append([]call{}, l.calls...)})
			if r.URL.Query().Get("reset") == "1" {
				l.calls = nil
			}
			l.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
			return
		}
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			c := call{Method: "?"}
			if m := methodRE.FindSubmatch(body); m != nil {
				c.Method = string(m[1])
			}
			if ck, err := r.Cookie("vmware_soap_session"); err == nil {
				c.Session = ck.Value
			}
			l.mu.Lock()
			l.calls = append(l.calls, c)
			l.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback HOST:PORT to serve on (port 0: any free port)")
	dc := flag.Int("dc", 1, "datacenters")
	clusters := flag.Int("cluster", 1, "clusters per datacenter")
	hosts := flag.Int("host", 3, "hosts per cluster")
	standalone := flag.Int("standalone-host", 1, "standalone hosts per datacenter")
	vms := flag.Int("vm", 2, "VMs per resource pool (each cluster's and each standalone host's)")
	user := flag.String("username", "user", "the only user name accepted")
	pass := flag.String("password", "pass", "the only password accepted")
	certPath := flag.String("cert", "", "PEM certificate to serve (generated when it does not exist)")
	keyPath := flag.String("key", "", "PEM key beside -cert (default: -cert with .key)")
	countCalls := flag.Bool("count-calls", false, "log every SOAP request and serve the log on GET /pv/calls")
	idle := flag.Duration("session-idle-timeout", 0, "end sessions idle this long, as vCenter does after 30m (0: never)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		fail("-listen must be a loopback address with a port, not %q", *listen)
	}
	if *certPath == "" {
		dir, err := os.MkdirTemp("", "vcsim-cert-")
		if err != nil {
			fail("%v", err)
		}
		*certPath = dir + "/cert.pem"
	}
	if *keyPath == "" {
		*keyPath = *certPath + ".key"
	}
	if _, err := os.Stat(*certPath); err != nil {
		selfSigned(*certPath, *keyPath)
	}
	pair, err := tls.LoadX509KeyPair(*certPath, *keyPath)
	if err != nil {
		fail("certificate: %v", err)
	}

	simulator.SessionIdleTimeout = *idle
	model := simulator.VPX()
	model.Datacenter = *dc
	model.Cluster = *clusters
	model.ClusterHost = *hosts
	model.Host = *standalone
	model.Machine = *vms
	if err := model.Create(); err != nil {
		fail("model: %v", err)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	server := model.Service.NewServer()
	defer server.Close()
	if *countCalls {
		// no client knows the port before the line below: no request races this
		server.Config.Handler = (&callLog{}).wrap(server.Config.Handler)
	}

	u := *server.URL
	u.User = nil
	line, _ := json.Marshal(map[string]interface{}{"url": u.String(), "cert": *certPath, "pid": os.Getpid()})
	fmt.Println(string(line))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
