package golden

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests of the VM's NIC with real clients and servers we did not write:
// nc, curl, tshark and Python's http.server on the host, guest programs
// from examples/ on the other side. Host traffic stays on 127.0.0.1, or
// inside a network namespace the test makes.

// example returns the path of a built example program.
func example(t *testing.T, name string) string {
	t.Helper()
	engines(t)
	p := filepath.Join("..", "examples", "build", name+".elf")
	if _, err := os.Stat(p); err != nil {
		cmd := exec.Command("make", "-s", "-C", filepath.Join("..", "examples"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the examples: %v\n%s", err, out)
		}
	}
	return p
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// need skips the test when a host tool is missing (CI installs them all).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test: %v", tool, err)
		}
	}
}

// vmProcess is aurora-vm running in the background.
type vmProcess struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr bytes.Buffer
	done   chan error
}

// startVM runs aurora-vm with args and waits for its program's first line
// of output (a server saying it listens), or gives it a moment when it
// prints nothing.
func startVM(t *testing.T, waitLine bool, args ...string) *vmProcess {
	t.Helper()
	return startVMIn(t, nil, waitLine, args...)
}

// startVMIn is startVM with a command prefix (ip netns exec NS).
func startVMIn(t *testing.T, prefix []string, waitLine bool, args ...string) *vmProcess {
	t.Helper()
	argv := append(append(prefix, vmBinary), args...)
	v := &vmProcess{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	v.stdout = bufio.NewReader(out)
	v.cmd.Stderr = &v.stderr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.done <- v.cmd.Wait() }()
	t.Cleanup(func() { v.stop() })
	if waitLine {
		line := make(chan string, 1)
		go func() { l, _ := v.stdout.ReadString('\n'); line <- l }()
		select {
		case l := <-line:
			if !strings.Contains(l, "listening") {
				t.Fatalf("the guest server said %q (stderr %q)", l, v.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the guest server did not start (stderr %q)", v.stderr.String())
		}
	} else {
		time.Sleep(500 * time.Millisecond)
	}
	return v
}

// stop ends the run with SIGTERM, which process 1 does not handle.
func (v *vmProcess) stop() {
	if v.cmd.ProcessState != nil {
		return
	}
	v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.done:
	case <-time.After(10 * time.Second):
		v.cmd.Process.Kill()
		<-v.done
	}
}

func TestNcTalksToTheDocsEchoServer(t *testing.T) {
	need(t, "nc")
	port := freePort(t)
	startVM(t, false, "run", "-p", fmt.Sprintf("%d:9999", port), example(t, "echo"))
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("hello %d from the host\n", i)
		// -N: shut the connection down at the end of input, as the
		// server waits for the whole message before echoing.
		nc := exec.Command("nc", "-N", "-w", "10", "127.0.0.1", fmt.Sprint(port))
		nc.Stdin = strings.NewReader(msg)
		out, err := nc.Output()
		if err != nil || string(out) != msg {
			t.Fatalf("nc got %q (%v), want %q", out, err, msg)
		}
	}
}

func TestCurlAgainstAGuestHTTPServerWithACapture(t *testing.T) {
	need(t, "curl", "tshark")
	port := freePort(t)
	capture := filepath.Join(t.TempDir(), "nic.pcap")
	v := startVM(t, true, "run", "-p", fmt.Sprintf("%d:8080", port), "--pcap", capture, example(t, "httpd"))
	for _, path := range []string{"/", "/hello", "/a/b?c=d"} {
		out, err := exec.Command("curl", "-sS", "--max-time", "10", fmt.Sprintf("http://127.0.0.1:%d%s", port, path)).Output()
		if want := "Hello from Aurora! You asked for " + path + "\n"; err != nil || string(out) != want {
			t.Fatalf("curl %s: %q (%v), want %q", path, out, err, want)
		}
	}
	v.stop()
	// The capture holds the guest side of the first connection's handshake.
	out, err := exec.Command("tshark", "-r", capture, "-Y", "tcp.flags.syn == 1", "-T", "fields",
		"-e", "ip.src", "-e", "ip.dst", "-e", "tcp.flags.ack").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	// tshark writes the ACK flag as 0/1 or False/True, by version.
	syn := strings.Contains(string(out), "10.0.2.2\t10.0.2.15\t0") || strings.Contains(string(out), "10.0.2.2\t10.0.2.15\tFalse")
	synAck := strings.Contains(string(out), "10.0.2.15\t10.0.2.2\t1") || strings.Contains(string(out), "10.0.2.15\t10.0.2.2\tTrue")
	if !syn || !synAck {
		t.Errorf("no SYN and SYN-ACK between 10.0.2.2 and 10.0.2.15 in the capture:\n%s", out)
	}
}

func TestTheDocsHTTPClientFetchesFromTheHostThroughAMap(t *testing.T) {
	need(t, "python3")
	dir := t.TempDir()
	page := "<h1>a page on the host</h1>\n"
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644)
	port := freePort(t)
	server := exec.Command("python3", "-m", "http.server", fmt.Sprint(port), "--bind", "127.0.0.1", "--directory", dir)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	waitListening(t, port)
	got := runVM(t, nil, "run", "--map", fmt.Sprintf("93.184.216.34:80=127.0.0.1:%d", port),
		example(t, "http_get"), "/index.html")
	if got.status != 0 || !strings.Contains(got.stdout, "HTTP/1.0 200 OK") || !strings.HasSuffix(got.stdout, page+"\n") {
		t.Errorf("status %d, stdout %q, stderr %q", got.status, got.stdout, got.stderr)
	}
	// Without the map, the destination is refused at once.
	start := time.Now()
	got = runVM(t, nil, "run", example(t, "http_get"))
	if got.stdout != "connect() failed\n" || time.Since(start) > 10*time.Second {
		t.Errorf("without --map: %q after %v, want connect() failed promptly", got.stdout, time.Since(start))
	}
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on port %d", port)
}

func TestAHostPortInUseIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	got := runVM(t, nil, "run", "-p", fmt.Sprintf("%d:80", port), example(t, "echo"))
	if got.status != 125 || strings.Count(got.stderr, "\n") != 1 || !strings.Contains(got.stderr, "in use") {
		t.Errorf("status %d, stderr %q: want 125 and one line saying the port is in use", got.status, got.stderr)
	}
}

// echoThrough sends data on a new connection to port and checks that the
// same bytes come back.
func echoThrough(port int, data []byte) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	errs := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		errs <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errs; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echoed %d bytes differ from the %d sent", len(got), len(data))
	}
	return nil
}

func pattern(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestAThousandHostConnections opens 1,000 concurrent host connections to
// a guest echo server through a port forward; every one is echoed intact.
func TestAThousandHostConnections(t *testing.T) {
	port := freePort(t)
	startVM(t, true, "run", "--max-procs", "64", "-p", fmt.Sprintf("%d:7000", port), example(t, "echod"), "7000", "40")
	const conns = 1000
	var wg sync.WaitGroup
	failures := make(chan error, conns)
	start := make(chan struct{})
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := echoThrough(port, pattern(i, 16<<10)); err != nil {
				failures <- fmt.Errorf("connection %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
}

// TestFaultsAtTheNICLoseNothing echoes 50 MB through the guest while the
// device drops 5% of the frames, duplicates 1% and reorders 5%: TCP
// repairs it all.
//
// Both ends of the connection are gVisor netstacks (the guest kernel's and
// the user-mode backend's), and the echo server stops reading whenever its
// sends block, so this is where the netstack's window flaws show: a
// reordered old acknowledgement widens the sender's window past what the
// receiver offered, and a receiver with a zero (or rounded-down) window
// drops the segments that carry the acknowledgements it waits for. Each
// NIC's link normalises what its stack receives (devices/virtio-net/
// tcpnorm) so that neither can stall the transfer; without that, about
// half the runs deadlocked.
func TestFaultsAtTheNICLoseNothing(t *testing.T) {
	port := freePort(t)
	startVM(t, true, "run", "--net-faults", "loss=5%,dup=1%,reorder=5%", "-p", fmt.Sprintf("%d:7000", port),
		example(t, "echod"), "7000", "1")
	if err := echoThrough(port, pattern(7, 50<<20)); err != nil {
		t.Fatal(err)
	}
}

// TestTapInANetworkNamespace runs the guest on a TAP device inside a
// network namespace made for the test, and curl reaches the guest's web
// server at its static address from there.
func TestTapInANetworkNamespace(t *testing.T) {
	need(t, "ip", "curl")
	if os.Geteuid() != 0 {
		t.Skip("skipping: network namespaces need root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("skipping: %v", err)
	}
	ns := fmt.Sprintf("aurora-test-%d", os.Getpid())
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	in := []string{"ip", "netns", "exec", ns}
	sh(append(in, "ip", "link", "set", "lo", "up")...)
	sh(append(in, "ip", "tuntap", "add", "dev", "aurora0", "mode", "tap")...)
	sh(append(in, "ip", "addr", "add", "10.76.0.1/24", "dev", "aurora0")...)
	sh(append(in, "ip", "link", "set", "aurora0", "up")...)
	startVMIn(t, in, true, "run", "--net", "tun:aurora0", example(t, "httpd"))
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "20", "http://10.76.0.2:8080/tap").CombinedOutput()
	if want := "Hello from Aurora! You asked for /tap\n"; err != nil || string(out) != want {
		t.Errorf("curl in the namespace: %q (%v), want %q", out, err, want)
	}
}
