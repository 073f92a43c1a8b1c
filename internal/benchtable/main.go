// Command benchtable measures aurora-vm against its performance targets and
// prints one table. Every ratio compares two measurements taken side by side
// in the same run, because the machines it runs on are shared and noisy:
//
//   - one trapped syscall (a getpid loop in the guest, through the whole
//     kernel path) against a bare VM exit taken from ring 3, where programs
//     run (the cpu/kvm benchmark guests), and that exit against one taken
//     from ring 0, which shows what the host charges for leaving ring 3;
//   - wall time and peak RSS of `aurora-vm run hello.elf` against
//     qemu-x86_64 running the same program built as a static Linux binary;
//   - the sieve and heap test images under KVM against the same C code built
//     natively, and sieve and a trapped getpid on the interpreter
//     (--accel interp) against native and KVM;
//   - process creation: fork+exit+waitpid round trips (fork_loop), and fork
//     of a process with a 64 MiB touched heap whose child writes 1% or 100%
//     of it (fork_heap), against the same sources built natively with a
//     shim header (native/aurora.h) mapping the Aurora calls to POSIX. Each
//     side's cost per fork is the difference between a run with N forks
//     and one with none, divided by N, so start-up and filling the heap
//     cancel out;
//   - sockets: a guest server process and a guest client process in one
//     VM talking TCP over 127.0.0.1 (net_bench): 64-byte round trips, and
//     a bulk stream received through 256 B, 4 KiB and 64 KiB buffers,
//     against the same source built natively with the shim, over Linux's
//     loopback. Each side's cost per round trip (or per MiB) is again the
//     difference between a run that does the work and one that only
//     connects, divided by the amount.
//
// Each ratio is the median of the ratios of the pairs, each side's figure
// the median of its own samples.
//
// Run it from the repository root after `make` (`make bench` does both).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const vm = "bin/aurora-vm"

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-nic-client" {
		// A measuring client run inside a network namespace (see tapRows).
		nicClient(os.Args[2], os.Args[3])
		return
	}
	tmp, err := os.MkdirTemp("", "benchtable")
	check(err)
	defer os.RemoveAll(tmp)

	rows := [][]string{{"measurement", "aurora-vm", "reference", "ratio", "target"}}

	// 1. Trap cost. The guest loop and the bare-exit guests take turns, and
	// each ratio is the median of the rounds' ratios, so that load from
	// elsewhere on the machine hits both sides of a ratio alike.
	kvmBench := filepath.Join(tmp, "kvm.test")
	goTool("test", "-c", "-o", kvmBench, "./cpu/kvm")
	var call, ring3 samples
	for round := 0; round < 5; round++ {
		const loops = 40000
		c := (runVM("testimages/build/getpid_loop.elf", strconv.Itoa(loops)) -
			runVM("testimages/build/getpid_loop.elf", "0")) / loops
		r3 := benchmark(kvmBench, "BenchmarkBareExitRing3")
		r0 := benchmark(kvmBench, "BenchmarkBareExit")
		call.add(c, r3)
		ring3.add(r3, r0)
	}
	rows = append(rows, call.row("getpid syscall vs bare exit from ring 3", us, "<= 1.2x"))
	rows = append(rows, ring3.row("bare exit: ring 3 vs ring 0 (host's cost)", us, "-"))

	// 2. Start-up: hello under aurora-vm and under qemu-x86_64.
	hostHello := filepath.Join(tmp, "hello-linux")
	gcc("-static", "-O2", "-o", hostHello, "testimages/hello.c")
	vmTime, vmRSS := timeAndRSS(20, vm, "run", "testimages/build/hello.elf")
	if _, err := exec.LookPath("qemu-x86_64"); err == nil {
		qTime, qRSS := timeAndRSS(20, "qemu-x86_64", hostHello)
		rows = append(rows, []string{"hello: wall time vs qemu-x86_64", ms(vmTime), ms(qTime), ratio(vmTime, qTime), "< 0.5x"})
		rows = append(rows, []string{"hello: peak RSS (qemu-x86_64 beside)", mib(vmRSS), mib(qRSS), "", "< 30 MiB"})
	} else {
		rows = append(rows, []string{"hello: wall time (qemu-x86_64 missing)", ms(vmTime), "-", "", "< 0.5x qemu"})
		rows = append(rows, []string{"hello: peak RSS", mib(vmRSS), "-", "", "< 30 MiB"})
	}

	// 3. CPU-bound code: sieve under KVM against native, interleaved.
	native := filepath.Join(tmp, "sieve-native")
	gcc("-O2", "-o", native, "testimages/sieve.c")
	args := []string{"20000000", "5"}
	var sieve samples
	for i := 0; i < 9; i++ {
		sieve.add(wall(vm, append([]string{"run", "testimages/build/sieve.elf"}, args...)...), wall(native, args...))
	}
	rows = append(rows, sieve.row("sieve 2e7 x5: KVM vs native", ms, "<= 1.05x"))

	// 3b. The same CPU-bound image on the interpreter (a smaller sieve,
	// which the interpreter takes seconds over), against native and KVM.
	interpArgs := []string{"5000000", "5"}
	var interpNative, interpKVM samples
	for i := 0; i < 3; i++ {
		it := wall(vm, append([]string{"run", "--accel", "interp", "testimages/build/sieve.elf"}, interpArgs...)...)
		interpNative.add(it, wall(native, interpArgs...))
		interpKVM.add(it, wall(vm, append([]string{"run", "--accel", "kvm", "testimages/build/sieve.elf"}, interpArgs...)...))
	}
	rows = append(rows, interpNative.row("sieve 5e6 x5: interpreter vs native", ms, "<= 30x"))
	rows = append(rows, interpKVM.row("sieve 5e6 x5: interpreter vs KVM", ms, "-"))
	// qemu-x86_64, a JIT, on the same C built as a static Linux binary:
	// the yardstick for an emulator's speed.
	if _, err := exec.LookPath("qemu-x86_64"); err == nil {
		staticSieve := filepath.Join(tmp, "sieve-static")
		gcc("-static", "-O2", "-o", staticSieve, "testimages/sieve.c")
		var qemuNative, interpQemu samples
		for i := 0; i < 3; i++ {
			q := wall("qemu-x86_64", append([]string{staticSieve}, interpArgs...)...)
			qemuNative.add(q, wall(native, interpArgs...))
			interpQemu.add(wall(vm, append([]string{"run", "--accel", "interp", "testimages/build/sieve.elf"}, interpArgs...)...), q)
		}
		rows = append(rows, qemuNative.row("sieve 5e6 x5: qemu-x86_64 vs native", ms, "-"))
		rows = append(rows, interpQemu.row("sieve 5e6 x5: interpreter vs qemu-x86_64", ms, "-"))
	}

	// 3c. A trapped getpid on the interpreter, through the whole kernel
	// path, against the same on KVM.
	var interpCall samples
	for round := 0; round < 3; round++ {
		const loops = 200000
		perCall := func(accel string, n int) time.Duration {
			return (runVM("--accel", accel, "testimages/build/getpid_loop.elf", strconv.Itoa(n)) -
				runVM("--accel", accel, "testimages/build/getpid_loop.elf", "0")) / time.Duration(n)
		}
		interpCall.add(perCall("interp", loops), perCall("kvm", loops/5))
	}
	rows = append(rows, interpCall.row("getpid syscall: interpreter vs KVM", us, "< 1 µs"))

	// 4. Memory-bound code: 100000 heap blocks (~100 MB touched for the
	// first time), where every new page costs a fault in KVM.
	heapNative := filepath.Join(tmp, "heap-native")
	gcc("-O2", "-o", heapNative, "testimages/heap.c")
	var heap samples
	for i := 0; i < 9; i++ {
		heap.add(wall(vm, "run", "testimages/build/heap.elf", "100000"), wall(heapNative, "100000"))
	}
	rows = append(rows, heap.row("heap 1e5 blocks: KVM vs native", ms, "-"))

	// 5. Process creation. The native side makes more forks per run since
	// each costs less there; the figures are per fork.
	forkLoop := nativeTwin(tmp, "fork_loop")
	var forks samples
	for i := 0; i < 9; i++ {
		forks.add(
			perOp(200, func(n string) time.Duration { return runVM("testimages/build/fork_loop.elf", n) }),
			perOp(2000, func(n string) time.Duration { return wall(forkLoop, n) }))
	}
	rows = append(rows, forks.row("fork+exit+waitpid: KVM vs native", perSecond, "-"))

	// 6. fork of a 64 MiB touched heap; the child writes one word in 1% or
	// in every one of its pages, and the parent reaps it.
	forkHeap := nativeTwin(tmp, "fork_heap")
	for _, c := range []struct {
		percent      string
		vmN, nativeN int
	}{{"1", 20, 50}, {"100", 5, 10}} {
		var fh samples
		for i := 0; i < 5; i++ {
			fh.add(
				perOp(c.vmN, func(n string) time.Duration {
					return runVM("testimages/build/fork_heap.elf", n, c.percent, "64")
				}),
				perOp(c.nativeN, func(n string) time.Duration { return wall(forkHeap, n, c.percent, "64") }))
		}
		rows = append(rows, fh.row("fork 64 MiB heap, child writes "+c.percent+"%: KVM vs native", ms, "-"))
	}

	// 7. Sockets: net_bench's server and client processes in one VM,
	// against the native build over Linux's loopback. Round trips of 64
	// bytes, then a bulk stream through three sizes of recv buffer, each
	// side's figure per MiB received.
	netBench := nativeTwin(tmp, "net_bench")
	const netVM = "testimages/build/net_bench.elf"
	var rr samples
	for i := 0; i < 5; i++ {
		rr.add(
			perOp(2000, func(n string) time.Duration { return runVM(netVM, "rr", "64", n) }),
			perOp(20000, func(n string) time.Duration { return wall(netBench, "rr", "64", n) }))
	}
	rows = append(rows, rr.row("TCP 64 B round trips: KVM vs native", perSecond, "-"))
	for _, c := range []struct {
		buf, name        string
		vmMiB, nativeMiB int
	}{{"256", "256 B", 4, 128}, {"4096", "4 KiB", 64, 2048}, {"65536", "64 KiB", 256, 1024}} {
		var bulk samples
		for i := 0; i < 5; i++ {
			bulk.add(
				perOp(c.vmMiB, func(n string) time.Duration { return runVM(netVM, "bulk", c.buf, mibToBytes(n)) }),
				perOp(c.nativeMiB, func(n string) time.Duration { return wall(netBench, "bulk", c.buf, mibToBytes(n)) }))
		}
		rows = append(rows, bulk.row("TCP bulk, "+c.name+" recv buffer: KVM vs native", mibPerSecond, "-"))
	}

	rows = append(rows, pipeRows(tmp)...) // pipes between two processes (pipe.go)

	// 8. Through the VM's NIC: a host client and the guest echo server
	// (examples/echod) behind a port forward (--net user), next to the same
	// client and a Go echo server on the host's loopback.
	rows = append(rows, nicRows()...)

	printTable(rows)
}

// nicRows measures 64-byte round trips and bulk echo between a host
// client and a guest echo server through --net user's port forward, and
// the same against an echo server on the host's loopback.
func nicRows() [][]string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	native := l.Addr().String()
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	vmCmd := exec.Command(vm, "run", "-p", fmt.Sprintf("%d:7000", port), "examples/build/echod.elf", "7000", "2")
	out, err := vmCmd.StdoutPipe()
	check(err)
	check(vmCmd.Start())
	defer func() { vmCmd.Process.Signal(os.Interrupt); vmCmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.Contains(line, "listening") {
		fail("the guest echo server said %q", line)
	}
	guest := fmt.Sprintf("127.0.0.1:%d", port)

	var rr, bulk samples
	for i := 0; i < 5; i++ {
		rr.add(roundTrip(guest, 2000), roundTrip(native, 2000))
		bulk.add(echoBulk(guest, 32), echoBulk(native, 32))
	}
	rows := [][]string{
		rr.row("host-guest 64 B round trips (--net user) vs host loopback", perSecond, "-"),
		bulk.row("host-guest echo, 32 MiB each way (--net user) vs host loopback", mibPerSecond, "-"),
	}
	return append(rows, tapRows(native)...)
}

// tapRows measures the same through --net tun: a TAP device in a network
// namespace made for the purpose, the client running in it too. It needs
// root and /dev/net/tun, and says so in the table where they are missing.
func tapRows(native string) [][]string {
	if _, err := os.Stat("/dev/net/tun"); err != nil || os.Geteuid() != 0 {
		return [][]string{{"host-guest through --net tun", "(needs root and /dev/net/tun)", "", "", "-"}}
	}
	ns := fmt.Sprintf("aurora-bench-%d", os.Getpid())
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			fail("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	in := func(args ...string) { ip(append([]string{"netns", "exec", ns, "ip"}, args...)...) }
	in("link", "set", "lo", "up")
	in("tuntap", "add", "dev", "aurora0", "mode", "tap")
	in("addr", "add", "10.76.0.1/24", "dev", "aurora0")
	in("link", "set", "aurora0", "up")
	vmCmd := exec.Command("ip", "netns", "exec", ns, vm, "run", "--net", "tun:aurora0", "examples/build/echod.elf", "7000", "2")
	out, err := vmCmd.StdoutPipe()
	check(err)
	check(vmCmd.Start())
	defer func() { vmCmd.Process.Signal(os.Interrupt); vmCmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.Contains(line, "listening") {
		fail("the guest echo server said %q", line)
	}
	self, err := os.Executable()
	check(err)
	measure := func(what string) time.Duration {
		out, err := exec.Command("ip", "netns", "exec", ns, self, "-nic-client", what, "10.76.0.2:7000").Output()
		if err != nil {
			fail("the client in the namespace: %v", err)
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(out)))
		check(err)
		return d
	}
	var rr, bulk samples
	for i := 0; i < 5; i++ {
		rr.add(measure("rr"), roundTrip(native, 2000))
		bulk.add(measure("bulk"), echoBulk(native, 32))
	}
	return [][]string{
		rr.row("host-guest 64 B round trips (--net tun) vs host loopback", perSecond, "-"),
		bulk.row("host-guest echo, 32 MiB each way (--net tun) vs host loopback", mibPerSecond, "-"),
	}
}

// nicClient prints the time of one round trip ("rr") or of one MiB echoed
// ("bulk") against the echo server at addr.
func nicClient(what, addr string) {
	switch what {
	case "rr":
		fmt.Println(roundTrip(addr, 2000))
	case "bulk":
		fmt.Println(echoBulk(addr, 32))
	default:
		fail("-nic-client %s: want rr or bulk", what)
	}
}

// roundTrip returns the time of one 64-byte echo on a connection to addr.
func roundTrip(addr string, n int) time.Duration {
	c, err := net.Dial("tcp", addr)
	check(err)
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	buf := make([]byte, 64)
	start := time.Now()
	for i := 0; i < n; i++ {
		_, err := c.Write(buf)
		check(err)
		_, err = io.ReadFull(c, buf)
		check(err)
	}
	return time.Since(start) / time.Duration(n)
}

// echoBulk sends mib MiB to the echo server at addr while reading them
// back, and returns the time per MiB.
func echoBulk(addr string, mib int) time.Duration {
	c, err := net.Dial("tcp", addr)
	check(err)
	defer c.Close()
	data := make([]byte, mib<<20)
	start := time.Now()
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	n, err := io.Copy(io.Discard, c)
	check(err)
	if n != int64(len(data)) {
		fail("echoed %d bytes of %d", n, len(data))
	}
	return time.Since(start) / time.Duration(mib)
}

// samples pairs measurements taken side by side: a[i] and b[i] ran one
// right after the other.
type samples struct{ a, b []time.Duration }

func (s *samples) add(a, b time.Duration) {
	s.a = append(s.a, a)
	s.b = append(s.b, b)
}

// row reports the median of each side and the median of the pairs' ratios.
func (s *samples) row(name string, unit func(time.Duration) string, target string) []string {
	var ratios []float64
	for i := range s.a {
		ratios = append(ratios, float64(s.a[i])/float64(s.b[i]))
	}
	slices.Sort(ratios)
	return []string{name, unit(med(s.a)), unit(med(s.b)), fmt.Sprintf("%.2fx", ratios[len(ratios)/2]), target}
}

// benchmark runs one benchmark of a compiled cpu/kvm test binary and
// returns its time per operation.
func benchmark(testBinary, name string) time.Duration {
	out, err := exec.Command(testBinary, "-test.run", "^$", "-test.bench", "^"+name+"$", "-test.benchtime", "20000x").CombinedOutput()
	if err != nil {
		fail("%s -test.bench %s: %v\n%s", testBinary, name, err, out)
	}
	m := regexp.MustCompile(name + `(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`).FindSubmatch(out)
	if m == nil {
		fail("no result for %s in:\n%s", name, out)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return time.Duration(f)
}

func goTool(args ...string) {
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fail("go %v: %v\n%s", args, err, out)
	}
}

func runVM(args ...string) time.Duration {
	return wall(vm, append([]string{"run"}, args...)...)
}

// nativeTwin builds testimages/NAME.c for the host, its Aurora calls
// mapped to POSIX by native/aurora.h.
func nativeTwin(tmp, name string) string {
	out := filepath.Join(tmp, name+"-native")
	gcc("-O2", "-static", "-I", "internal/benchtable/native", "-o", out, "testimages/"+name+".c")
	return out
}

// perOp returns the cost of one operation (a fork, a round trip, a MiB
// received): a run with n operations less a run with none (start-up,
// filling memory, connecting), divided by n. run takes the number of
// operations as its argument.
func perOp(n int, run func(ops string) time.Duration) time.Duration {
	d := (run(strconv.Itoa(n)) - run("0")) / time.Duration(n)
	return max(d, time.Nanosecond) // noise can make the difference negative
}

// mibToBytes turns perOp's count of MiB into net_bench's count of bytes.
func mibToBytes(n string) string {
	m, err := strconv.Atoi(n)
	check(err)
	return strconv.Itoa(m << 20)
}

func wall(name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail("%s %v: %v\n%s", name, args, err, errOut.String())
	}
	return time.Since(start)
}

// timeAndRSS runs a command n times and returns the median wall time and
// the largest peak resident set size.
func timeAndRSS(n int, name string, args ...string) (time.Duration, int64) {
	var ts []time.Duration
	var rss int64
	for i := 0; i < n; i++ {
		cmd := exec.Command(name, args...)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fail("%s: %v", name, err)
		}
		ts = append(ts, time.Since(start))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss*1024)
		}
	}
	return med(ts), rss
}

func med(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func gcc(args ...string) {
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		fail("gcc %v: %v\n%s", args, err, out)
	}
}

func us(d time.Duration) string        { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func ms(d time.Duration) string        { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
func perSecond(d time.Duration) string { return fmt.Sprintf("%.0f/s", float64(time.Second)/float64(d)) }
func mib(b int64) string               { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func ratio(a, b time.Duration) string  { return fmt.Sprintf("%.2fx", float64(a)/float64(b)) }

// mibPerSecond shows a time per MiB as a throughput.
func mibPerSecond(d time.Duration) string {
	return fmt.Sprintf("%.0f MiB/s", float64(time.Second)/float64(d))
}

func printTable(rows [][]string) {
	w := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			w[i] = max(w[i], len([]rune(c)))
		}
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for j, r := range rows {
		fmt.Fprint(out, "|")
		for i, c := range r {
			fmt.Fprintf(out, " %s%*s |", c, w[i]-len([]rune(c)), "")
		}
		fmt.Fprintln(out)
		if j == 0 {
			fmt.Fprint(out, "|")
			for i := range r {
				fmt.Fprintf(out, "%s|", bytes.Repeat([]byte("-"), w[i]+2))
			}
			fmt.Fprintln(out)
		}
	}
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchtable: "+format+"\n", args...)
	os.Exit(1)
}
