package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/storage/wal"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type upOptions struct {
	dir           string
	exitOnEOF     bool
	timeout       time.Duration
	verbose       bool
	removeDir     bool
	verbosity     int
	apiserverArgs multiFlag
	kcmArgs       multiFlag
}

// plane is one running control plane.
type plane struct {
	opts       upOptions
	dir        string
	pki        *pki
	kubeconfig string
	logw       io.Writer

	etcd       *embed.Etcd
	etcdURL    string
	apiPort    int
	server     string
	apiserver  *child
	kcmPort    int
	kcm        *child
	httpClient *http.Client

	stopOnce sync.Once
}

// child is a re-exec of this binary as one upstream component.
type child struct {
	name   string
	cmd    *exec.Cmd
	log    string
	stdinW *os.File
	done   chan struct{}
	err    error
}

func runUp(args []string) int {
	// Children get Pdeathsig=SIGTERM, which fires when the *thread* that
	// forked them exits; pin this goroutine (which starts them) to the main
	// thread so that only process exit triggers it.
	runtime.LockOSThread()
	// etcd preallocates each WAL segment; 64 MiB a control plane is a lot of
	// disk for throw-away test data.
	wal.SegmentSizeBytes = 4 << 20

	var o upOptions
	fs := flag.NewFlagSet("testplane up", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "", "working directory for certificates, kubeconfig, etcd data and logs (required; created if missing)")
	fs.BoolVar(&o.exitOnEOF, "exit-on-stdin-eof", true, "shut down when stdin reaches EOF (use a pipe; pass false when running by hand in the background)")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "give up if the control plane is not ready within this time")
	fs.BoolVar(&o.removeDir, "remove-dir-on-exit", false, "delete DIR after a clean shutdown of a control plane that became ready (DIR is kept when startup fails, for its logs)")
	fs.BoolVar(&o.verbose, "verbose", false, "also echo progress messages to stderr (they always go to DIR/up.log)")
	fs.IntVar(&o.verbosity, "v", 1, "klog verbosity of kube-apiserver and kube-controller-manager")
	fs.Var(&o.apiserverArgs, "apiserver-arg", "extra kube-apiserver flag, e.g. --apiserver-arg=--feature-gates=Foo=true (repeatable)")
	fs.Var(&o.kcmArgs, "kcm-arg", "extra kube-controller-manager flag (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.dir == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "testplane up: --dir DIR is required and no positional arguments are accepted")
		fs.Usage()
		return 2
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testplane up: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "testplane up: %v\n", err)
		return 1
	}
	upLog, err := os.OpenFile(filepath.Join(dir, "up.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testplane up: %v\n", err)
		return 1
	}
	defer upLog.Close()
	p := &plane{opts: o, dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig"), logw: upLog}
	if o.verbose {
		p.logw = io.MultiWriter(upLog, os.Stderr)
	}

	// Stop requests: a signal, or EOF on stdin. A second *signal* while
	// shutting down (e.g. ^C twice) kills the children and exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type stopReq struct {
		reason string
		signal bool
	}
	reqs := make(chan stopReq, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			reqs <- stopReq{"received " + s.String(), true}
		}
	}()
	if o.exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			reqs <- stopReq{"stdin reached EOF", false}
		}()
	}
	apiserverCtl := make(chan os.Signal, 4)
	signal.Notify(apiserverCtl, syscall.SIGUSR1, syscall.SIGUSR2)
	var stopReason string
	var reasonMu sync.Mutex
	go func() {
		r := <-reqs
		reasonMu.Lock()
		stopReason = r.reason
		reasonMu.Unlock()
		p.logf("stop requested: %s", r.reason)
		cancel()
		for r := range reqs {
			if r.signal {
				p.logf("second stop signal (%s): killing children and exiting", r.reason)
				p.killAll()
				os.Exit(1)
			}
		}
	}()

	start := time.Now()
	err = p.start(ctx)
	if err != nil {
		p.shutdown()
		if ctx.Err() != nil {
			reasonMu.Lock()
			defer reasonMu.Unlock()
			hint := ""
			if strings.Contains(stopReason, "EOF") {
				hint = "; stdin must stay open while the control plane runs (pass --exit-on-stdin-eof=false if it is not a pipe)"
			}
			fmt.Fprintf(os.Stderr, "testplane up: startup interrupted (%s%s)\n", stopReason, hint)
			return 1
		}
		fmt.Fprintf(os.Stderr, "testplane up: startup failed: %v\n(logs are in %s)\n", err, dir)
		return 1
	}
	line := fmt.Sprintf("READY %s %s\n", p.server, p.kubeconfig)
	_ = os.WriteFile(filepath.Join(dir, "ready"), []byte(line), 0o644)
	p.logf("ready after %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stdout.WriteString(line); err != nil {
		p.logf("writing READY line: %v", err)
	}

	// Run until asked to stop or a component dies. SIGUSR1 stops the apiserver and SIGUSR2
	// starts it again on the same port, over the same etcd (which keeps running, so nothing is
	// lost): tests use this to check that clients survive an apiserver restart.
	code := 0
loop:
	for {
		var apiserverDone <-chan struct{}
		if p.apiserver != nil {
			apiserverDone = p.apiserver.done
		}
		select {
		case <-ctx.Done():
			break loop
		case s := <-apiserverCtl:
			if s == syscall.SIGUSR1 {
				p.stopAPIServer()
			} else if err := p.restartAPIServer(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "testplane up: restarting kube-apiserver: %v\n", err)
				code = 1
				break loop
			}
		case <-apiserverDone:
			fmt.Fprintf(os.Stderr, "testplane up: kube-apiserver exited unexpectedly: %v\n%s", p.apiserver.err, tail(p.apiserver.log, 20))
			code = 1
			break loop
		case <-p.kcm.done:
			fmt.Fprintf(os.Stderr, "testplane up: kube-controller-manager exited unexpectedly: %v\n%s", p.kcm.err, tail(p.kcm.log, 20))
			code = 1
			break loop
		case err := <-p.etcd.Err():
			fmt.Fprintf(os.Stderr, "testplane up: etcd failed: %v\n", err)
			code = 1
			break loop
		}
	}
	p.shutdown()
	if o.removeDir {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "testplane up: removing %s: %v\n", dir, err)
		}
	}
	return code
}

func (p *plane) logf(format string, args ...any) {
	fmt.Fprintf(p.logw, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (p *plane) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.timeout)
	defer cancel()

	var err error
	t := time.Now()
	if p.pki, err = generatePKI(filepath.Join(p.dir, "pki")); err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	p.logf("certificates generated in %s", time.Since(t).Round(time.Millisecond))
	if err := p.initHTTPClient(); err != nil {
		return err
	}

	t = time.Now()
	if err := p.startEtcd(ctx); err != nil {
		return err
	}
	p.logf("etcd ready at %s in %s", p.etcdURL, time.Since(t).Round(time.Millisecond))

	t = time.Now()
	if err := p.startAPIServer(ctx); err != nil {
		return err
	}
	p.logf("kube-apiserver ready at %s in %s", p.server, time.Since(t).Round(time.Millisecond))
	if err := os.WriteFile(p.apiserverPidFile(), []byte(strconv.Itoa(p.apiserver.cmd.Process.Pid)), 0o644); err != nil {
		return err
	}

	t = time.Now()
	if err := p.startKCM(ctx); err != nil {
		return err
	}
	p.logf("kube-controller-manager healthy on port %d, default ServiceAccount present, in %s", p.kcmPort, time.Since(t).Round(time.Millisecond))
	return nil
}

func (p *plane) initHTTPClient() error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.pki.caPEM) {
		return errors.New("parsing generated CA certificate")
	}
	pair, err := tls.X509KeyPair(p.pki.adminPEM, p.pki.adminKPEM)
	if err != nil {
		return fmt.Errorf("loading admin certificate: %w", err)
	}
	p.httpClient = &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
			Proxy:           nil, // never go through an HTTP(S)_PROXY for loopback
		},
	}
	return nil
}

// freePorts reserves n distinct loopback ports by binding them at once, then
// releases them for the components to bind.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

const maxPortAttempts = 4

func isAddrInUse(s string) bool {
	return strings.Contains(s, "address already in use")
}

func (p *plane) startEtcd(ctx context.Context) error {
	var lastErr error
	for attempt := 1; attempt <= maxPortAttempts; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		dataDir := filepath.Join(p.dir, "etcd")
		_ = os.RemoveAll(dataDir)
		cfg := embed.NewConfig()
		cfg.Name = "testplane"
		cfg.Dir = dataDir
		cu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
		pu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
		cfg.ListenClientUrls = []url.URL{cu}
		cfg.AdvertiseClientUrls = []url.URL{cu}
		cfg.ListenPeerUrls = []url.URL{pu}
		cfg.AdvertisePeerUrls = []url.URL{pu}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.Logger = "zap"
		cfg.LogLevel = "info"
		cfg.LogOutputs = []string{filepath.Join(p.dir, "etcd.log")}
		cfg.UnsafeNoFsync = true // throw-away test data: skip fsync for speed
		cfg.SnapshotCount = 10000
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			if isAddrInUse(err.Error()) {
				p.logf("etcd: %v; retrying with other ports", err)
				continue
			}
			return fmt.Errorf("starting embedded etcd: %w", err)
		}
		select {
		case <-e.Server.ReadyNotify():
			p.etcd = e
			p.etcdURL = cu.String()
			return nil
		case err := <-e.Err():
			e.Close()
			return fmt.Errorf("embedded etcd failed: %w", err)
		case <-ctx.Done():
			e.Close()
			return fmt.Errorf("waiting for embedded etcd: %w", ctx.Err())
		}
	}
	return fmt.Errorf("starting embedded etcd: %w", lastErr)
}

func (p *plane) apiserverFlags(port int) []string {
	k := p.pki
	f := []string{
		"--etcd-servers=" + p.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(p.dir, "apiserver-certs"),
		"--tls-cert-file=" + k.servingCert,
		"--tls-private-key-file=" + k.servingKey,
		"--client-ca-file=" + k.caCert,
		// Aggregation layer (APIServices) and delegated authn of the controller-manager.
		"--requestheader-client-ca-file=" + k.frontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + k.frontProxyCert,
		"--proxy-client-key-file=" + k.frontProxyKey,
		"--service-account-key-file=" + k.saKey,
		"--service-account-signing-key-file=" + k.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// The "kubernetes" Endpoints object may not hold a loopback address.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=" + strconv.Itoa(p.opts.verbosity),
	}
	return append(f, p.opts.apiserverArgs...)
}

func (p *plane) kcmFlags(port int) []string {
	k := p.pki
	f := []string{
		"--kubeconfig=" + p.kubeconfig,
		"--authentication-kubeconfig=" + p.kubeconfig,
		"--authorization-kubeconfig=" + p.kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(p.dir, "kcm-certs"),
		"--service-account-private-key-file=" + k.saKey,
		"--root-ca-file=" + k.caCert,
		"--cluster-signing-cert-file=" + k.caCert,
		"--cluster-signing-key-file=" + k.caKey,
		"--controllers=*",
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--profiling=false",
		"--v=" + strconv.Itoa(p.opts.verbosity),
	}
	return append(f, p.opts.kcmArgs...)
}

func (p *plane) startChild(name string, args []string, logPath string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fmt.Fprintf(logf, "=== testplane: %s %s\n", name, strings.Join(args, " "))
	cmd := &exec.Cmd{
		Path:   exe,
		Args:   append([]string{name}, args...),
		Dir:    p.dir,
		Env:    append(os.Environ(), watchParentEnv+"=1"),
		Stdin:  r,
		Stdout: logf,
		Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,            // terminal ^C goes to the launcher only, which stops things in order
			Pdeathsig: syscall.SIGTERM, // never outlive the launcher
		},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, stdinW: w, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	p.logf("started %s (pid %d), log %s", name, cmd.Process.Pid, logPath)
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) stop(grace time.Duration) {
	if c == nil {
		return
	}
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	c.stdinW.Close()
}

func (c *child) kill() {
	if c != nil && !c.exited() {
		_ = c.cmd.Process.Kill()
	}
}

// get performs an authenticated GET against the apiserver.
func (p *plane) get(ctx context.Context, rawURL string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := p.httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// waitFor polls cond every 100ms until it returns true, the child exits, or
// ctx ends. The last condition error is included on timeout.
func waitFor(ctx context.Context, c *child, what string, cond func() (bool, error)) error {
	var last error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-c.done:
			return &childExited{c: c}
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

type childExited struct{ c *child }

func (e *childExited) Error() string {
	return fmt.Sprintf("%s exited during startup (%v); last lines of %s:\n%s", e.c.name, e.c.err, e.c.log, tail(e.c.log, 30))
}

func (p *plane) startAPIServer(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		p.apiPort = ports[0]
		p.server = fmt.Sprintf("https://127.0.0.1:%d", p.apiPort)
		if err := writeKubeconfig(p.kubeconfig, p.server, p.pki); err != nil {
			return fmt.Errorf("writing kubeconfig: %w", err)
		}
		c, err := p.startChild("kube-apiserver", p.apiserverFlags(p.apiPort), filepath.Join(p.dir, "apiserver.log"))
		if err != nil {
			return err
		}
		p.apiserver = c
		err = waitFor(ctx, c, "kube-apiserver /readyz", func() (bool, error) {
			code, body, err := p.get(ctx, p.server+"/readyz")
			if err != nil {
				return false, err
			}
			if code != http.StatusOK {
				return false, fmt.Errorf("/readyz: HTTP %d: %s", code, body)
			}
			return true, nil
		})
		var ce *childExited
		if errors.As(err, &ce) && attempt < maxPortAttempts && isAddrInUse(tail(c.log, 30)) {
			p.logf("kube-apiserver could not bind port %d; retrying with another", p.apiPort)
			c.stop(time.Second)
			continue
		}
		return err
	}
}

// apiserverPidFile holds the PID of the running kube-apiserver; absent while it is stopped.
func (p *plane) apiserverPidFile() string { return filepath.Join(p.dir, "apiserver.pid") }

// stopAPIServer stops kube-apiserver (SIGTERM, as a rolling restart would) and leaves it down.
func (p *plane) stopAPIServer() {
	if p.apiserver == nil {
		return
	}
	_ = os.Remove(p.apiserverPidFile())
	p.apiserver.stop(15 * time.Second)
	p.logf("kube-apiserver stopped on request (%v)", p.apiserver.err)
	p.apiserver = nil
}

// restartAPIServer starts kube-apiserver again on the port it had, once it is stopped.
func (p *plane) restartAPIServer(ctx context.Context) error {
	if p.apiserver != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.timeout)
	defer cancel()
	t := time.Now()
	c, err := p.startChild("kube-apiserver", p.apiserverFlags(p.apiPort), filepath.Join(p.dir, "apiserver.log"))
	if err != nil {
		return err
	}
	p.apiserver = c
	if err := waitFor(ctx, c, "kube-apiserver /readyz", func() (bool, error) {
		code, body, err := p.get(ctx, p.server+"/readyz")
		if err != nil {
			return false, err
		}
		if code != http.StatusOK {
			return false, fmt.Errorf("/readyz: HTTP %d: %s", code, body)
		}
		return true, nil
	}); err != nil {
		return err
	}
	p.logf("kube-apiserver restarted on port %d in %s", p.apiPort, time.Since(t).Round(time.Millisecond))
	return os.WriteFile(p.apiserverPidFile(), []byte(strconv.Itoa(c.cmd.Process.Pid)), 0o644)
}

func (p *plane) startKCM(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		p.kcmPort = ports[0]
		c, err := p.startChild("kube-controller-manager", p.kcmFlags(p.kcmPort), filepath.Join(p.dir, "kcm.log"))
		if err != nil {
			return err
		}
		p.kcm = c
		kcmHealth := fmt.Sprintf("https://127.0.0.1:%d/healthz", p.kcmPort)
		insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			// The controller-manager serves a self-signed certificate of its own.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
			Proxy:           nil,
		}}
		err = waitFor(ctx, c, "kube-controller-manager /healthz", func() (bool, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, kcmHealth, nil)
			resp, err := insecure.Do(req)
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Errorf("/healthz: HTTP %d: %s", resp.StatusCode, b)
			}
			return true, nil
		})
		var ce *childExited
		if errors.As(err, &ce) && attempt < maxPortAttempts && isAddrInUse(tail(c.log, 30)) {
			p.logf("kube-controller-manager could not bind port %d; retrying with another", p.kcmPort)
			c.stop(time.Second)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	// The default namespace (apiserver) and its default ServiceAccount
	// (KCM's serviceaccount controller) prove the whole chain works.
	for _, path := range []string{
		"/api/v1/namespaces/default",
		"/api/v1/namespaces/default/serviceaccounts/default",
		"/api/v1/namespaces/default/configmaps/kube-root-ca.crt",
	} {
		if err := waitFor(ctx, p.kcm, path, func() (bool, error) {
			code, body, err := p.get(ctx, p.server+path)
			if err != nil {
				return false, err
			}
			if code != http.StatusOK {
				return false, fmt.Errorf("GET %s: HTTP %d: %s", path, code, body)
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// shutdown stops the controller-manager, then the apiserver, then etcd.
func (p *plane) shutdown() {
	p.stopOnce.Do(func() {
		t := time.Now()
		if p.kcm != nil {
			p.kcm.stop(10 * time.Second)
			p.logf("kube-controller-manager stopped (%v) after %s", p.kcm.err, time.Since(t).Round(time.Millisecond))
		}
		if p.apiserver != nil {
			p.apiserver.stop(15 * time.Second)
			p.logf("kube-apiserver stopped (%v) after %s", p.apiserver.err, time.Since(t).Round(time.Millisecond))
		}
		if p.etcd != nil {
			done := make(chan struct{})
			go func() { p.etcd.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.logf("etcd did not close within 10s")
			}
		}
		p.logf("shut down in %s", time.Since(t).Round(time.Millisecond))
	})
}

func (p *plane) killAll() {
	p.kcm.kill()
	p.apiserver.kill()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)\n", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n"))) + "\n"
}
