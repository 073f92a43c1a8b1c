// Command aurora-vm runs programs built for Aurora OS on Linux.
//
//	aurora-vm run [flags] PROGRAM.elf [ARGS...]
//
// Its exit status is the program's; 128+N when the program was killed by
// signal N; 124 when --timeout fired; 125 when aurora-vm itself could not run
// the program, with one line on stderr saying why.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/aurora-vm/aurora-vm/cpu"
	"github.com/aurora-vm/aurora-vm/cpu/interp"
	"github.com/aurora-vm/aurora-vm/cpu/kvm"
	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/net"
	sig "github.com/aurora-vm/aurora-vm/kernel/signal"
	"github.com/aurora-vm/aurora-vm/mmu"
	"github.com/aurora-vm/aurora-vm/syscall"
)

// Exit statuses of aurora-vm itself, as timeout(1) and env(1) use them.
const (
	exitTimeout   = 124
	exitCannotRun = 125
)

// version is set by the linker (-X main.version=...) in release builds.
var version = ""

// exitError carries an exit status and an optional one-line message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func cannotRun(format string, args ...any) error {
	return &exitError{code: exitCannotRun, msg: fmt.Sprintf(format, args...)}
}

func main() {
	app := &cli.App{
		Name:            "aurora-vm",
		Usage:           "run Aurora OS programs under KVM or an x86-64 interpreter",
		HideHelpCommand: true,
		Commands: []*cli.Command{
			runCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, "aurora-vm", versionString())
					return nil
				},
			},
		},
		// Errors are printed once, by main, in one line.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError,
		CommandNotFound: func(_ *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "aurora-vm: %s: no such command (commands: run, version)\n", name)
			os.Exit(exitCannotRun)
		},
	}
	err := app.Run(os.Args)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "aurora-vm:", ee.msg)
		}
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "aurora-vm:", err)
		os.Exit(exitCannotRun)
	}
}

// usageError reports a bad flag in one line, without the help text that
// would bury it; `aurora-vm run --help` shows that.
func usageError(c *cli.Context, err error, _ bool) error {
	help := "aurora-vm --help"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		help = "aurora-vm " + c.Command.Name + " --help"
	}
	return cannotRun("%v (see %s)", err, help)
}

func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a program",
		ArgsUsage: "PROGRAM.elf [ARGS...]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "accel", Value: "auto", Usage: "execution engine: auto, kvm or interp"},
			&cli.StringFlag{Name: "memory", Value: "256M", Usage: "guest RAM size (K, M or G suffix)"},
			&cli.DurationFlag{Name: "timeout", Usage: "kill the program after this long (e.g. 10s); exit status 124"},
			&cli.BoolFlag{Name: "trace", Usage: "print one line per syscall on stderr"},
			&cli.IntFlag{Name: "max-procs", Value: kernel.DefaultMaxProcs, Usage: "most processes at once, zombies included; fork fails beyond"},
			&cli.StringFlag{Name: "net", Value: "user", Usage: "the VM's NIC: user (no privileges; add ,outbound to allow any destination), tun[:NAME] (a host TAP device), or none (loopback only)"},
			&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "forward a host port to the guest: [HOSTADDR:]HOSTPORT:GUESTPORT[/udp] (--net user)"},
			&cli.StringSliceFlag{Name: "map", Usage: "redirect the guest's connections to GUESTIP:PORT to HOST:PORT on the host (--net user)"},
			&cli.StringFlag{Name: "pcap", Usage: "write every frame through the NIC to this file (pcap, for tshark or Wireshark)"},
			&cli.StringFlag{Name: "net-faults", Usage: "inject faults at the NIC, e.g. loss=5%,dup=1%,reorder=5%"},
		}, volumeFlags()...),
		Action:       run,
		OnUsageError: usageError,
	}
}

func run(c *cli.Context) error {
	if c.NArg() < 1 {
		return cannotRun("run: missing PROGRAM.elf (usage: aurora-vm run [flags] PROGRAM.elf [ARGS...])")
	}
	path := c.Args().First()
	memSize, err := parseSize(c.String("memory"))
	if err != nil {
		return cannotRun("--memory: %v", err)
	}
	if c.Duration("timeout") < 0 {
		return cannotRun("--timeout: %v is negative", c.Duration("timeout"))
	}
	mounts, tmpfsSize, err := fsConfig(c, memSize)
	if err != nil {
		return cannotRun("%v", err)
	}
	img, err := kernel.LoadProgram(path)
	if err != nil {
		return cannotRun("%s: %v", path, unwrapPath(err))
	}

	phys, err := mmu.NewPhysMem(memSize)
	if err != nil {
		return cannotRun("%v", err)
	}
	defer phys.Close()
	engine, err := newEngine(c.String("accel"), phys, c.Bool("trace"))
	if err != nil {
		return cannotRun("%v", err)
	}
	defer engine.Close()

	if c.Int("max-procs") < 1 {
		return cannotRun("--max-procs: %d is not a positive number", c.Int("max-procs"))
	}
	vn, err := openNetwork(netOptions{
		mode:     c.String("net"),
		forwards: c.StringSlice("publish"),
		maps:     c.StringSlice("map"),
		pcap:     c.String("pcap"),
		faults:   c.String("net-faults"),
	})
	if err != nil {
		return cannotRun("%v", err)
	}
	defer vn.close()
	cfg := kernel.Config{Engine: engine, Phys: phys, Syscalls: syscall.Dispatch, MaxProcs: c.Int("max-procs"),
		Mounts: mounts, TmpfsSize: tmpfsSize}
	if vn != nil {
		cfg.Network = func() (*net.Stack, error) { return vn.stack(phys) }
	}
	if c.Bool("trace") {
		cfg.Trace = os.Stderr
	}
	k := kernel.New(cfg)
	if _, err := k.VFS(); err != nil {
		return cannotRun("-v: %v", err)
	}
	noMemory := func() error {
		return cannotRun("%s: the program needs more guest memory than --memory %s gives", path, c.String("memory"))
	}
	if vn != nil && (len(c.StringSlice("publish")) > 0 || c.String("pcap") != "" || !strings.HasPrefix(c.String("net"), "user")) {
		// Traffic may arrive before the program opens a socket: have the
		// NIC up from the start. Otherwise it comes up with the first socket.
		if _, err := k.Net(); err != nil {
			return cannotRun("the VM's network: %v", err)
		}
	}
	proc, err := k.Spawn(img, c.Args().Slice(), os.Environ())
	if errors.Is(err, mmu.ErrNoMemory) {
		return noMemory()
	}
	if err != nil {
		return cannotRun("%s: %v", path, err)
	}
	// Ctrl-C and termination requests go to process 1, as a terminal
	// would deliver them to the foreground program; from before it runs,
	// so that none arriving early kills aurora-vm itself.
	hostSignals := make(chan os.Signal, 4)
	signal.Notify(hostSignals, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(hostSignals)
	if err := k.Start(proc); err != nil {
		if errors.Is(err, mmu.ErrNoMemory) {
			return noMemory()
		}
		return cannotRun("%s: %v", path, err)
	}
	var timeout <-chan time.Time
	if d := c.Duration("timeout"); d > 0 {
		timeout = time.After(d)
	}
	timedOut := false
wait:
	for {
		select {
		case <-proc.Done():
			break wait
		case s := <-hostSignals:
			proc.Kill(int(s.(unix.Signal)))
		case <-timeout:
			timedOut = true
			break wait
		}
	}
	// Every process is killed (when process 1 ended, that has begun
	// already). Every wait in the kernel gives way to a kill, except a
	// host write into a full pipe; a thread stuck in one may outlive the
	// grace period. Guest memory stays mapped for it, and the host
	// process exits regardless.
	k.Shutdown(time.Second)
	if timedOut {
		return &exitError{code: exitTimeout, msg: fmt.Sprintf("%s: timed out after %v", path, c.Duration("timeout"))}
	}
	st := proc.Status()
	if st.Signal != 0 {
		msg := fmt.Sprintf("%s: killed by %s", path, sig.Name(st.Signal))
		if st.Reason != "" {
			msg += ": " + st.Reason
		}
		return &exitError{code: st.WaitStatus(), msg: msg}
	}
	if st.Code != 0 {
		return &exitError{code: st.Code}
	}
	return nil
}

// newEngine picks the execution engine for --accel. auto takes KVM and
// falls back to the interpreter where KVM cannot be used, saying so only
// when tracing.
func newEngine(accel string, phys *mmu.PhysMem, trace bool) (cpu.Engine, error) {
	switch accel {
	case "kvm":
		return kvm.New(phys)
	case "auto":
		err := kvm.Available()
		if err == nil {
			e, kerr := kvm.New(phys)
			if kerr == nil || !errors.Is(kerr, kvm.ErrUnavailable) {
				return e, kerr
			}
			err = kerr
		}
		if trace {
			fmt.Fprintf(os.Stderr, "aurora-vm: %v; using the interpreter\n", err)
		}
		return interp.New(phys), nil
	case "interp":
		return interp.New(phys), nil
	}
	return nil, fmt.Errorf("--accel %q: want auto, kvm or interp", accel)
}

// parseSize reads sizes like 64M, 1G or 1048576.
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch strings.ToUpper(s[len(s)-min(len(s), 1):]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size like 256M", s)
	}
	return n * mult, nil
}

// unwrapPath drops the "open PATH:" prefix Go adds, since the message
// already starts with the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
