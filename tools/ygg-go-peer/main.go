// Command ygg-go-peer is a test harness around the yggdrasil-go v0.5.12 library: a real yggdrasil-go
// node (same core, admin, TUN and ipv6rwc packages as cmd/yggdrasil) without multicast and without
// pledge/unveil, used as an interop peer by the TypeScript tests. See README.md for flags and output.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gologme/log"

	"github.com/yggdrasil-network/yggdrasil-go/src/admin"
	"github.com/yggdrasil-network/yggdrasil-go/src/config"
	"github.com/yggdrasil-network/yggdrasil-go/src/core"
	"github.com/yggdrasil-network/yggdrasil-go/src/ipv6rwc"
	"github.com/yggdrasil-network/yggdrasil-go/src/tun"
)

const yggModule = "github.com/yggdrasil-network/yggdrasil-go"

// readyLine is the single JSON line printed on stdout once the node is up.
type readyLine struct {
	Ready       bool     `json:"ready"`
	PublicKey   string   `json:"public_key"`
	Address     string   `json:"address"`
	Subnet      string   `json:"subnet"`
	Listen      []string `json:"listen"`
	Admin       string   `json:"admin"`
	Tun         string   `json:"tun"`
	Echo        bool     `json:"echo"`
	YggdrasilGo string   `json:"yggdrasil_go"`
}

func main() {
	confPath := flag.String("config", "", "run a node from this HJSON/JSON yggdrasil NodeConfig file")
	genconf := flag.Bool("genconf", false, "print a new config (JSON, fresh key) to stdout and exit")
	ctl := flag.String("ctl", "", "admin endpoint (unix:///path or tcp://host:port): send `<request> [key=value ...]` and print the reply")
	echo := flag.Bool("echo", false, "with -config and IfName \"none\": send every session datagram back to its sender")
	loglevel := flag.String("loglevel", "info", "error, warn, info, debug or trace")
	stdinEOF := flag.Bool("stdin-eof", false, "with -config: also shut down cleanly when stdin reaches EOF (the parent process is gone)")
	showVersion := flag.Bool("version", false, "print the yggdrasil-go library version and exit")
	flag.Parse()

	switch {
	case *showVersion:
		fmt.Println(yggVersion())
	case *genconf:
		os.Exit(runGenconf())
	case *ctl != "":
		os.Exit(runCtl(*ctl, flag.Args()))
	case *confPath != "":
		os.Exit(runNode(*confPath, *loglevel, *echo, *stdinEOF))
	default:
		fmt.Fprintln(os.Stderr, "usage: ygg-go-peer -config <file> [-echo] [-stdin-eof] [-loglevel info] | -genconf | -ctl <endpoint> <request> [key=value ...] | -version")
		flag.PrintDefaults()
		os.Exit(2)
	}
}

// yggVersion reports the version of the yggdrasil-go module compiled in (from the build info).
func yggVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == yggModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

// runGenconf prints a fresh NodeConfig as JSON, as `yggdrasil -genconf -json` does.
func runGenconf() int {
	cfg := config.GenerateConfig()
	cfg.AdminListen = ""
	bs, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "genconf:", err)
		return 1
	}
	fmt.Println(string(bs))
	return 0
}

// runCtl is a minimal yggdrasilctl: one request, one JSON reply envelope printed on one stdout line.
func runCtl(endpoint string, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "ctl: missing request name (e.g. getPeers)")
		return 2
	}
	arguments := map[string]json.RawMessage{}
	for _, a := range args[1:] {
		if k, v, ok := strings.Cut(a, ":="); ok && !strings.Contains(k, "=") {
			// key:=<raw JSON>, for the rare non-string argument.
			if !json.Valid([]byte(v)) {
				fmt.Fprintf(os.Stderr, "ctl: argument %q is not valid JSON\n", a)
				return 2
			}
			arguments[k] = json.RawMessage(v)
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "ctl: argument %q is not key=value\n", a)
			return 2
		}
		s, _ := json.Marshal(v)
		arguments[k] = s
	}
	rawArgs, err := json.Marshal(arguments)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctl:", err)
		return 1
	}
	network, address := "tcp", endpoint
	if u, err := url.Parse(endpoint); err == nil {
		switch strings.ToLower(u.Scheme) {
		case "unix":
			network, address = "unix", u.Path // as the admin socket itself reads it
		case "tcp":
			address = u.Host
		}
	}
	conn, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctl: dial:", err)
		return 1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := admin.AdminSocketRequest{Name: args[0], Arguments: rawArgs, KeepAlive: false}
	if err := json.NewEncoder(conn).Encode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "ctl: send:", err)
		return 1
	}
	var resp admin.AdminSocketResponse
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		fmt.Fprintln(os.Stderr, "ctl: reply:", err)
		return 1
	}
	out, err := json.Marshal(&resp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctl:", err)
		return 1
	}
	fmt.Println(string(out))
	if resp.Status != "success" {
		fmt.Fprintln(os.Stderr, "ctl: admin socket returned an error:", resp.Error)
		return 1
	}
	return 0
}

// newLogger logs to stderr with every level up to `level` enabled, like yggdrasil's -loglevel.
func newLogger(level string) *log.Logger {
	logger := log.New(os.Stderr, "", log.Flags())
	levels := []string{"error", "warn", "info", "debug", "trace"}
	level = strings.ToLower(level)
	known := false
	for _, l := range levels {
		known = known || l == level
	}
	if !known {
		logger.EnableLevel("warn")
		logger.Warnf("unknown loglevel %q, using info", level)
		level = "info"
	}
	for _, l := range levels {
		logger.EnableLevel(l)
		if l == level {
			break
		}
	}
	return logger
}

// boundURI is the configured listen URI with its host replaced by the address actually bound (port 0 resolved).
func boundURI(u *url.URL, addr net.Addr) string {
	b := *u
	if strings.ToLower(u.Scheme) == "unix" {
		return b.String()
	}
	b.Host = addr.String()
	return b.String()
}

// runNode runs a node from the config file until SIGINT/SIGTERM.
func runNode(confPath, loglevel string, echo, stdinEOF bool) int {
	logger := newLogger(loglevel)
	fail := func(format string, a ...any) int {
		logger.Errorf(format, a...)
		return 1
	}

	cfg := config.GenerateConfig()
	f, err := os.Open(confPath)
	if err != nil {
		return fail("config: %v", err)
	}
	_, err = cfg.ReadFrom(f)
	_ = f.Close()
	if err != nil {
		return fail("config %s: %v", confPath, err)
	}
	// ReadFrom already derives the certificate; regenerate it explicitly so it always matches PrivateKey.
	if err := cfg.GenerateSelfSignedCertificate(); err != nil {
		return fail("certificate: %v", err)
	}
	if echo && cfg.IfName != "none" {
		return fail("-echo reads the node's session datagrams itself and needs IfName \"none\" (got %q)", cfg.IfName)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if stdinEOF {
		// A test runner killed with SIGKILL cannot signal us, but its end of our stdin pipe closes. Its ends
		// of stdout/stderr close too: ignore SIGPIPE so logging then fails quietly instead of killing us
		// before the shutdown below has closed the listeners and removed the socket files.
		signal.Ignore(syscall.SIGPIPE)
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			logger.Infof("stdin closed, shutting down")
			stop()
		}()
	}

	// The core, configured like cmd/yggdrasil (minus multicast); listeners are started below.
	yggRange := net.IPNet{IP: net.ParseIP("200::"), Mask: net.CIDRMask(7, 128)}
	options := []core.SetupOption{
		core.NodeInfo(cfg.NodeInfo),
		core.NodeInfoPrivacy(cfg.NodeInfoPrivacy),
		core.PeerFilter(func(ip net.IP) bool { return !yggRange.Contains(ip) }),
	}
	for _, p := range cfg.Peers {
		options = append(options, core.Peer{URI: p})
	}
	for intf, peers := range cfg.InterfacePeers {
		for _, p := range peers {
			options = append(options, core.Peer{URI: p, SourceInterface: intf})
		}
	}
	for _, k := range cfg.AllowedPublicKeys {
		key, err := hex.DecodeString(k)
		if err != nil {
			return fail("AllowedPublicKeys: %q: %v", k, err)
		}
		options = append(options, core.AllowedPublicKey(key))
	}
	n, err := core.New(cfg.Certificate, logger, options...)
	if err != nil {
		return fail("core: %v", err)
	}
	shutdown := func(a *admin.AdminSocket, t *tun.TunAdapter) {
		if a != nil {
			if err := a.Stop(); err != nil {
				logger.Warnf("admin stop: %v", err)
			}
		}
		if t != nil {
			if err := t.Stop(); err != nil {
				logger.Warnf("tun stop: %v", err)
			}
		}
		n.Stop()
	}
	logger.Infof("Your public key is %s", hex.EncodeToString(n.PublicKey()))
	logger.Infof("Your IPv6 address is %s", n.Address().String())
	subnet := n.Subnet()
	logger.Infof("Your IPv6 subnet is %s", subnet.String())

	listen := []string{}
	for _, l := range cfg.Listen {
		u, err := url.Parse(l)
		if err != nil {
			shutdown(nil, nil)
			return fail("listen %q: %v", l, err)
		}
		li, err := n.Listen(u, "")
		if err != nil {
			shutdown(nil, nil)
			return fail("listen %q: %v", l, err)
		}
		listen = append(listen, boundURI(u, li.Addr()))
	}

	// Admin socket: admin.New returns nil for "" and "none"; it also registers the core's handlers.
	var adm *admin.AdminSocket
	adminListen := ""
	if cfg.AdminListen != "" && cfg.AdminListen != "none" {
		if adm, err = admin.New(n, logger, admin.ListenAddress(cfg.AdminListen)); err != nil {
			shutdown(adm, nil)
			return fail("admin: %v", err)
		}
		adm.SetupAdminHandlers()
		adminListen = cfg.AdminListen
	}

	// TUN. With IfName "none" the adapter opens no device but still drains the core's datagrams (as
	// cmd/yggdrasil does); -echo reads them itself instead, so then there is no adapter at all.
	var tunAdapter *tun.TunAdapter
	tunName := ""
	if !echo {
		tunAdapter, err = tun.New(ipv6rwc.NewReadWriteCloser(n), logger,
			tun.InterfaceName(cfg.IfName), tun.InterfaceMTU(cfg.IfMTU))
		if err != nil {
			shutdown(adm, nil)
			return fail("tun %q: %v (a TUN device needs CAP_NET_ADMIN and /dev/net/tun)", cfg.IfName, err)
		}
		if adm != nil {
			tunAdapter.SetupAdminHandlers(adm)
		}
		if cfg.IfName != "none" && cfg.IfName != "dummy" {
			tunName = tunAdapter.Name()
		}
	} else {
		go echoLoop(n, logger)
	}

	ready, err := json.Marshal(readyLine{
		Ready:       true,
		PublicKey:   hex.EncodeToString(n.PublicKey()),
		Address:     n.Address().String(),
		Subnet:      subnet.String(),
		Listen:      listen,
		Admin:       adminListen,
		Tun:         tunName,
		Echo:        echo,
		YggdrasilGo: yggVersion(),
	})
	if err != nil {
		shutdown(adm, tunAdapter)
		return fail("ready line: %v", err)
	}
	fmt.Println(string(ready))

	<-ctx.Done()
	logger.Infof("shutting down")
	shutdown(adm, tunAdapter)
	return 0
}

// echoLoop sends every session datagram back to its sender until the core is stopped.
//
// Reads and writes run in separate goroutines joined by a bounded queue (datagrams beyond it are dropped
// and counted, as a router would): ironwood's actors apply backpressure to a session whose reader is busy,
// so a loop that reads and then blocks in WriteTo on the same goroutine deadlocks the node's session
// manager as soon as a burst of three or more datagrams arrives while it is writing (seen under load:
// WriteTo waits on the session manager, which waits on the session, which waits on the unread reader).
func echoLoop(n *core.Core, logger *log.Logger) {
	type datagram struct {
		data []byte
		from net.Addr
	}
	queue := make(chan datagram, 256)
	go func() {
		for d := range queue {
			if _, err := n.WriteTo(d.data, d.from); err != nil {
				logger.Debugf("echo: write to %s: %v", d.from, err)
			}
		}
	}()
	defer close(queue)
	dropped := 0
	buf := make([]byte, 65535)
	for {
		m, from, err := n.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				logger.Debugf("echo: read stopped: %v", err)
			}
			return
		}
		select {
		case queue <- datagram{data: append([]byte(nil), buf[:m]...), from: from}:
		default:
			dropped++
			logger.Debugf("echo: queue full, %d datagrams dropped so far", dropped)
		}
	}
}
