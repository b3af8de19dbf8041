// Command testplane is a busybox-style binary holding a Kubernetes v1.37
// control plane for Converge's integration tests:
//
//	testplane up --dir DIR           launcher: embedded etcd + kube-apiserver + kube-controller-manager
//	testplane kube-apiserver ARGS    the real kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver)
//	testplane kube-controller-manager ARGS
//	testplane kubectl ARGS           the real kubectl
//
// The applet is chosen from the basename of argv[0] (so a symlink named
// kubectl works) or, when that is "testplane", from the first argument.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/component-base/version"

	_ "time/tzdata" // CronJob time zones, as upstream's mains do

	_ "k8s.io/client-go/plugin/pkg/client/auth"           // kubectl auth plugins
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric

	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// watchParentEnv, when set to 1 in a child's environment, makes the child
// treat EOF on its stdin (a pipe from the launcher) as a request to stop, so
// it cannot outlive the launcher even if the launcher is SIGKILLed.
const watchParentEnv = "TESTPLANE_WATCH_STDIN"

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if !isApplet(name) {
		if len(args) == 0 {
			usage(os.Stderr)
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	// Upstream mains read os.Args (cobra, kubectl plugin handling, klog
	// verbosity), so make it look as if the applet was invoked directly.
	os.Args = append([]string{name}, args...)

	switch name {
	case "up":
		os.Exit(runUp(args))
	case "kube-apiserver":
		watchParent()
		os.Exit(cli.Run(apiserverapp.NewAPIServerCommand()))
	case "kube-controller-manager":
		watchParent()
		os.Exit(cli.Run(kcmapp.NewControllerManagerCommand()))
	case "kubectl":
		runKubectl()
	case "version", "--version", "-version":
		fmt.Println(version.Get().GitVersion)
	case "help", "--help", "-h":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "testplane: unknown applet %q\n", name)
		usage(os.Stderr)
		os.Exit(2)
	}
}

func isApplet(name string) bool {
	switch name {
	case "up", "kube-apiserver", "kube-controller-manager", "kubectl":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintf(w, strings.TrimLeft(`
usage: testplane APPLET [ARGS...]   (or invoke through a symlink named after the applet)

applets:
  up --dir DIR [flags]        start etcd + kube-apiserver + kube-controller-manager;
                              prints "READY <server-url> <kubeconfig>" once usable
                              (testplane up --help for its flags)
  kube-apiserver ARGS         upstream kube-apiserver %[1]s
  kube-controller-manager ARGS
                              upstream kube-controller-manager %[1]s
  kubectl ARGS                upstream kubectl %[1]s
  version                     print the Kubernetes version
`, "\n"), version.Get().GitVersion)
}

func runKubectl() {
	// Mirrors k8s.io/kubernetes/cmd/kubectl/kubectl.go.
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
}

// watchParent makes a child started by `up` stop when the launcher's end of
// its stdin pipe closes: it sends itself SIGTERM (the graceful path of the
// upstream command) and hard-exits if that has not finished in time.
func watchParent() {
	if os.Getenv(watchParentEnv) != "1" {
		return
	}
	os.Unsetenv(watchParentEnv)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(20 * time.Second)
		os.Exit(3)
	}()
}
