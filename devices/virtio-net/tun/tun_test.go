package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// Every test here works inside a network namespace it creates and deletes
// itself: the TAP device never exists in the host's own namespace, and no
// frame reaches any other network.

var guestMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

func needTAP(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: creating TAP devices and network namespaces needs root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("skipped: /dev/net/tun is missing: %v", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip(8) from iproute2 is needed to create the test's network namespace: %v", err)
	}
}

var nsSeq atomic.Int32

// newNetns creates a network namespace that is deleted when the test ends.
func newNetns(t testing.TB) string {
	t.Helper()
	ns := fmt.Sprintf("aurora-tun-%d-%d", os.Getpid(), nsSeq.Add(1))
	ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	ip(t, "-n", ns, "link", "set", "lo", "up")
	return ns
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread switched into the namespace ns. The
// thread is never switched back: its goroutine ends still locked to it, so
// the runtime retires the thread instead of reusing it elsewhere.
func inNetns(t testing.TB, ns string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %v", ns, err)
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// openIn opens a TAP device inside ns and brings it up with HostAddr on the
// namespace's side.
func openIn(t testing.TB, ns, name string) *Backend {
	t.Helper()
	var b *Backend
	var err error
	inNetns(t, ns, func() { b, err = Open(name) })
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	ip(t, "-n", ns, "addr", "add", HostAddr.String()+"/24", "dev", b.Name())
	ip(t, "-n", ns, "link", "set", b.Name(), "up")
	return b
}

// frames reads frames from b until it is closed.
func frames(b *Backend) <-chan []byte {
	c := make(chan []byte, 64)
	go func() {
		defer close(c)
		buf := make([]byte, 65536)
		for {
			hdr, n, err := b.Receive(buf)
			if err != nil {
				return
			}
			if hdr != (virtionet.NetHdr{}) {
				panic(fmt.Sprintf("frame from a TAP with offload state %+v", hdr))
			}
			c <- append([]byte(nil), buf[:n]...)
		}
	}()
	return c
}

// await returns the first frame for which match is true.
func await(t *testing.T, c <-chan []byte, what string, match func([]byte) bool) []byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c:
			if !ok {
				t.Fatalf("backend closed while waiting for %s", what)
			}
			if match(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("no %s within 10s", what)
		}
	}
}

func TestARPAndICMPAndUDP(t *testing.T) {
	needTAP(t)
	ns := newNetns(t)
	b := openIn(t, ns, "")
	if b.Features() != 0 {
		t.Fatalf("Features = %#x, want 0", b.Features())
	}
	if !strings.HasPrefix(b.Name(), "tap") {
		t.Errorf("kernel-chosen name %q, want tapN", b.Name())
	}
	rx := frames(b)
	guest := GuestAddr.As4()
	host := HostAddr.As4()

	// ARP: who has the host address? The namespace's kernel answers with
	// the TAP's MAC.
	if err := b.Send(virtionet.NetHdr{}, arpRequest(guestMAC, guest, host)); err != nil {
		t.Fatal(err)
	}
	reply := await(t, rx, "ARP reply", func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0806 &&
			binary.BigEndian.Uint16(f[20:]) == 2 && bytes.Equal(f[28:32], host[:])
	})
	if !bytes.Equal(reply[0:6], guestMAC) || !bytes.Equal(reply[32:38], guestMAC) || !bytes.Equal(reply[38:42], guest[:]) {
		t.Fatalf("ARP reply not addressed to the guest: % x", reply[:42])
	}
	hostMAC := net.HardwareAddr(append([]byte(nil), reply[22:28]...))
	if ifi := ifaceIn(t, ns, b.Name()); !bytes.Equal(ifi.HardwareAddr, hostMAC) {
		t.Fatalf("ARP reply names MAC %v, the TAP has %v", hostMAC, ifi.HardwareAddr)
	}

	// ICMP echo: the payload comes back intact, with a good checksum.
	payload := []byte("aurora over tap")
	if err := b.Send(virtionet.NetHdr{}, ipv4Frame(guestMAC, hostMAC, guest, host, 1, icmpEcho(0x1234, 7, payload))); err != nil {
		t.Fatal(err)
	}
	echo := await(t, rx, "ICMP echo reply", func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && f[23] == 1 && f[34] == 0
	})
	ihl := int(echo[14]&0xf) * 4
	icmp := echo[14+ihl : 14+int(binary.BigEndian.Uint16(echo[16:]))]
	if checksum(echo[14:14+ihl], 0) != 0xffff || checksum(icmp, 0) != 0xffff {
		t.Fatalf("echo reply has a bad checksum")
	}
	if binary.BigEndian.Uint16(icmp[4:]) != 0x1234 || binary.BigEndian.Uint16(icmp[6:]) != 7 || !bytes.Equal(icmp[8:], payload) {
		t.Fatalf("echo reply does not match the request: % x", icmp)
	}

	// UDP: a socket of the namespace's stack receives the guest's datagram
	// from the guest's address.
	var pc net.PacketConn
	var err error
	inNetns(t, ns, func() { pc, err = net.ListenPacket("udp4", HostAddr.String()+":0") })
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	msg := []byte("datagram through the TAP")
	if err := b.Send(virtionet.NetHdr{}, ipv4Frame(guestMAC, hostMAC, guest, host, 17, udpDatagram(guest, host, 40000, port, msg))); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("UDP datagram did not arrive: %v", err)
	}
	if !bytes.Equal(buf[:n], msg) || from.String() != fmt.Sprintf("%v:40000", GuestAddr) {
		t.Fatalf("got %q from %v", buf[:n], from)
	}

	// Close: Receive returns, and the device created for the run is gone.
	name := b.Name()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-rx:
		for ok {
			_, ok = <-rx
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive did not return after Close")
	}
	if err := b.Send(virtionet.NetHdr{}, msg); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if out, err := exec.Command("ip", "-n", ns, "link", "show", name).CombinedOutput(); err == nil {
		t.Fatalf("%s still exists after Close: %s", name, out)
	}
}

func ifaceIn(t *testing.T, ns, name string) *net.Interface {
	t.Helper()
	var ifi *net.Interface
	var err error
	inNetns(t, ns, func() { ifi, err = net.InterfaceByName(name) })
	if err != nil {
		t.Fatal(err)
	}
	return ifi
}

// A device made with `ip tuntap add` (as the README suggests, so that
// aurora-vm needs no root) is still there after the backend closes; a TUN
// device or a busy one is refused with a line that says so.
func TestNamedDevices(t *testing.T) {
	needTAP(t)
	ns := newNetns(t)
	ip(t, "-n", ns, "tuntap", "add", "dev", "aurtap", "mode", "tap")
	ip(t, "-n", ns, "tuntap", "add", "dev", "aurtun", "mode", "tun")

	b := openIn(t, ns, "aurtap")
	if b.Name() != "aurtap" {
		t.Fatalf("Name = %q", b.Name())
	}
	var err error
	inNetns(t, ns, func() { _, err = Open("aurtap") })
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("second Open of a device in use: %v", err)
	}
	b.Close()
	ip(t, "-n", ns, "link", "show", "aurtap")

	inNetns(t, ns, func() { _, err = Open("aurtun") })
	if err == nil || !strings.Contains(err.Error(), "not a TAP device") {
		t.Errorf("Open of a TUN device: %v", err)
	}
	inNetns(t, ns, func() { _, err = Open("lo") })
	if err == nil || !strings.Contains(err.Error(), "not a TAP device") {
		t.Errorf("Open of lo: %v", err)
	}
	if _, err := Open("a-name-longer-than-ifnamsiz"); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Open of a long name: %v", err)
	}
	inNetns(t, ns, func() { b, err = Open("aurnew") })
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if out, err := exec.Command("ip", "-n", ns, "link", "show", "aurnew").CombinedOutput(); err == nil {
		t.Errorf("a device Open created outlived Close: %s", out)
	}
}

// Without privileges the error is one line that says what is missing.
func TestOpenErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"", syscall.ENOENT, "/dev/net/tun is missing"},
		{"", syscall.EACCES, "no permission to open /dev/net/tun"},
		{"", os.NewSyscallError("ioctl", syscall.EPERM), "needs root or CAP_NET_ADMIN"},
		{"t0", os.NewSyscallError("ioctl", syscall.EPERM), "ip tuntap add dev t0 mode tap user $USER"},
		{"t0", os.NewSyscallError("ioctl", syscall.EBUSY), "already in use"},
		{"t0", os.NewSyscallError("ioctl", syscall.EINVAL), "not a TAP device"},
	} {
		msg := openError(c.name, c.err).Error()
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("openError(%q, %v) = %q, want one line with %q", c.name, c.err, msg, c.want)
		}
	}
}

// The real thing: this test binary run again as nobody.
func TestOpenUnprivileged(t *testing.T) {
	if os.Getenv("AURORA_TUN_UNPRIVILEGED") == "1" {
		_, err := Open("")
		fmt.Printf("ERR:%v\n", err)
		return
	}
	needTAP(t)
	// The build directory is private to root: run a copy nobody can read.
	dir, err := os.MkdirTemp("", "aurora-tun-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := dir + "/tun.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOpenUnprivileged$")
	cmd.Env = append(os.Environ(), "AURORA_TUN_UNPRIVILEGED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("skipped: cannot run the test binary as nobody: %v: %s", err, out)
	}
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "ERR:") {
			line = strings.TrimPrefix(l, "ERR:")
		}
	}
	if !strings.Contains(line, "permission") && !strings.Contains(line, "CAP_NET_ADMIN") {
		t.Fatalf("unprivileged Open: %q (output %s)", line, out)
	}
}

// Frames, built by hand so the test does not lean on the code it checks.

func arpRequest(src net.HardwareAddr, srcIP, dstIP [4]byte) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], src)
	copy(f[28:32], srcIP[:])
	copy(f[38:42], dstIP[:])
	return f
}

func ipv4Frame(src, dst net.HardwareAddr, srcIP, dstIP [4]byte, proto byte, payload []byte) []byte {
	f := make([]byte, 14+20+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	h := f[14:34]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8] = 64
	h[9] = proto
	copy(h[12:16], srcIP[:])
	copy(h[16:20], dstIP[:])
	binary.BigEndian.PutUint16(h[10:], ^checksum(h, 0))
	copy(f[34:], payload)
	return f
}

func icmpEcho(id, seq uint16, data []byte) []byte {
	m := make([]byte, 8+len(data))
	m[0] = 8
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], data)
	binary.BigEndian.PutUint16(m[2:], ^checksum(m, 0))
	return m
}

func udpDatagram(srcIP, dstIP [4]byte, sport, dport uint16, data []byte) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	var pseudo [12]byte
	copy(pseudo[0:4], srcIP[:])
	copy(pseudo[4:8], dstIP[:])
	pseudo[9] = 17
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(u)))
	c := ^checksum(u, checksum(pseudo[:], 0))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return u
}

// checksum is the folded ones' complement sum of b added to initial
// (which is itself a folded sum); a valid header or message sums to
// 0xffff, so ^checksum(...) == 0 for it.
func checksum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
