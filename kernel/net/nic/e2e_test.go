package nic_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/pcap"
	knet "github.com/aurora-vm/aurora-vm/kernel/net"
	"github.com/aurora-vm/aurora-vm/kernel/net/nic"
	"github.com/aurora-vm/aurora-vm/mmu"
)

var (
	guestAddr   = netip.MustParsePrefix("10.0.2.15/24")
	outsideAddr = netip.MustParseAddr("10.0.2.2")
	outsideMAC  = tcpip.LinkAddress("\x52\x54\x00\x00\x00\x02")
)

const linkQueue = 4096 // packets a channel endpoint holds

// newOutside is a plain gVisor stack on an Ethernet channel endpoint: the
// world beyond the device.
func newOutside(t testing.TB, tso bool) (*stack.Stack, *channel.Endpoint) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	ch := channel.New(linkQueue, 1500+14, outsideMAC)
	if tso {
		ch.SupportedGSOKind = stack.HostGSOSupported
	}
	if err := s.CreateNIC(1, ethernet.New(ch)); err != nil {
		t.Fatal(err)
	}
	s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(outsideAddr.As4()), PrefixLen: 24},
	}, stack.AddressProperties{})
	s.SetRouteTable([]tcpip.Route{{Destination: guestSubnet(), NIC: 1}})
	t.Cleanup(func() {
		ch.Close()
		s.Close()
		s.Wait()
	})
	return s, ch
}

func guestSubnet() tcpip.Subnet {
	sn, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{10, 0, 2, 0}), tcpip.MaskFromBytes([]byte{255, 255, 255, 0}))
	return sn
}

// bridge is a virtio-net backend that joins the device to the outside
// stack's channel endpoint. Like the channel endpoints of the direct
// path, each direction is a queue and a goroutine: frames the device
// sends are queued and injected into the outside stack by a pump, and
// the outside's frames wait in its channel endpoint for Receive.
type bridge struct {
	ch     *channel.Endpoint
	tso    bool // takes and gives checksum offload and large segments
	out    chan *stack.PacketBuffer
	ctx    context.Context
	cancel func()
	wg     sync.WaitGroup
}

func newBridge(ch *channel.Endpoint, tso bool) *bridge {
	ctx, cancel := context.WithCancel(context.Background())
	b := &bridge{ch: ch, tso: tso, out: make(chan *stack.PacketBuffer, linkQueue), ctx: ctx, cancel: cancel}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			select {
			case pkt := <-b.out:
				b.ch.InjectInbound(0, pkt) // the Ethernet layer reads the type
				pkt.DecRef()
			case <-ctx.Done():
				return
			}
		}
	}()
	return b
}

func (b *bridge) Features() uint64 {
	if b.tso {
		return virtionet.FeatureCsum | virtionet.FeatureHostTSO4 | virtionet.FeatureGuestCsum | virtionet.FeatureGuestTSO4
	}
	return 0
}

func (b *bridge) Send(hdr virtionet.NetHdr, frame []byte) error {
	// The outside stack checks checksums: finish a partial one, as the
	// host's kernel does behind a TUN device. A large segment goes in
	// whole.
	if hdr.Flags&virtionet.NetHdrFNeedsCsum != 0 && !virtionet.CompleteChecksum(hdr, frame) {
		return errors.New("checksum offsets outside the frame")
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	select {
	case b.out <- pkt:
		return nil
	default:
		pkt.DecRef() // a full link drops, as a channel endpoint does
		return errors.New("bridge queue full")
	}
}

func (b *bridge) Receive(buf []byte) (virtionet.NetHdr, int, error) {
	pkt := b.ch.ReadContext(b.ctx)
	if pkt == nil {
		return virtionet.NetHdr{}, 0, errors.New("bridge closed")
	}
	n := 0
	views, off := pkt.AsViewList()
	for v := views.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if off >= len(s) {
			off -= len(s)
			continue
		}
		n += copy(buf[n:], s[off:])
		off = 0
	}
	var hdr virtionet.NetHdr
	if g := pkt.GSOOptions; b.tso && g.Type == stack.GSOTCPv4 {
		hdr.Flags = virtionet.NetHdrFNeedsCsum
		hdr.CsumStart = 14 + g.L3HdrLen
		hdr.CsumOffset = g.CsumOffset
		if pkt.Data().Size() > int(g.MSS) {
			hdr.GSOType, hdr.GSOSize, hdr.HdrLen = virtionet.GSOTCPv4, g.MSS, uint16(pkt.HeaderSize())
		}
	}
	pkt.DecRef()
	return hdr, n, nil
}

func (b *bridge) Close() error {
	b.cancel()
	b.wg.Wait()
	return nil
}

// viaDevice joins the kernel's stack to the outside through a real
// virtio-net device on guest RAM, driven by the nic driver.
func viaDevice(t testing.TB, cfg virtionet.Config, tso bool) (*knet.Stack, *stack.Stack, *virtionet.Device) {
	mem, err := mmu.NewPhysMem(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	freeBefore := mem.FreeFrames()
	outside, ch := newOutside(t, tso)
	dev, err := virtionet.New(mem, newBridge(ch, tso), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := nic.New(mem, dev, nic.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kst, err := knet.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kst.AttachNIC(ep, guestAddr, outsideAddr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kst.Close()
		ep.Close()
		dev.Close()
		if got := mem.FreeFrames(); got != freeBefore {
			t.Errorf("the driver leaked %d frames", freeBefore-got)
		}
		mem.Close()
	})
	return kst, outside, dev
}

// direct joins the same two stacks with channel endpoints and nothing
// in between: the baseline the device is measured against.
func direct(t testing.TB) (*knet.Stack, *stack.Stack) {
	outside, out := newOutside(t, false)
	in := channel.New(linkQueue, 1500+14, tcpip.LinkAddress(virtionet.DefaultMAC[:]))
	kst, err := knet.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kst.AttachNIC(ethernet.New(in), guestAddr, outsideAddr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pump := func(from, to *channel.Endpoint) {
		defer wg.Done()
		for {
			pkt := from.ReadContext(ctx)
			if pkt == nil {
				return
			}
			in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			pkt.DecRef()
			to.InjectInbound(0, in)
			in.DecRef()
		}
	}
	wg.Add(2)
	go pump(in, out)
	go pump(out, in)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		kst.Close()
		in.Close()
	})
	return kst, outside
}

// payload is n deterministic pseudo-random bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

var port uint16 = 5000

func nextPort() uint16 { port++; return port }

// guestToHost sends data from a kernel socket to a listener outside and
// returns what arrived.
func guestToHost(t testing.TB, kst *knet.Stack, outside *stack.Stack, data []byte) []byte {
	p := nextPort()
	l, err := gonet.ListenTCP(outside, tcpip.FullAddress{NIC: 1, Port: p}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b := make([]byte, len(data)+1)
		n, _ := io.ReadFull(c, b)
		got <- b[:n]
	}()
	s, err := kst.NewSocket(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(knet.Addr{IP: outsideAddr.As4(), Port: p}, nil); err != nil {
		t.Fatalf("connect through the device: %v", err)
	}
	for off := 0; off < len(data); {
		n, err := s.Send(data[off:], nil, nil)
		if err != nil {
			t.Fatalf("send at %d: %v", off, err)
		}
		off += n
	}
	s.Close()
	select {
	case b := <-got:
		return b
	case <-time.After(2 * time.Minute):
		t.Fatal("transfer did not finish")
		return nil
	}
}

// hostToGuest sends data from outside to a kernel socket and returns what
// arrived.
func hostToGuest(t testing.TB, kst *knet.Stack, outside *stack.Stack, data []byte) []byte {
	p := nextPort()
	l, err := kst.NewSocket(false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(p); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		c, err := gonet.DialTCP(outside, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(guestAddr.Addr().As4()), Port: p}, ipv4.ProtocolNumber)
		if err != nil {
			sent <- err
			return
		}
		_, err = c.Write(data)
		c.Close()
		sent <- err
	}()
	s, _, err := l.Accept(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	for {
		n, _, err := s.Recv(buf, nil)
		if err != nil {
			t.Fatalf("recv after %d bytes: %v", len(out), err)
		}
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	return out
}

func checkSame(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes arrived (sha256 %x), sent %d (sha256 %x)", what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

const transferSize = 10 << 20

func TestTCPThroughDevice(t *testing.T) {
	kst, outside, dev := viaDevice(t, virtionet.Config{}, false)
	data := payload(transferSize)
	checkSame(t, "guest to host", guestToHost(t, kst, outside, data), data)
	checkSame(t, "host to guest", hostToGuest(t, kst, outside, data), data)
	st := dev.Stats()
	t.Logf("device: %+v", st)
	if st.BadChains+st.TxDropped != 0 {
		t.Errorf("the driver made the device drop frames: %+v", st)
	}
}

// With a backend that takes offloads, TCP segments of many MSS cross the
// device whole in both directions, with partial checksums.
func TestTCPWithTSO(t *testing.T) {
	kst, outside, dev := viaDevice(t, virtionet.Config{}, true)
	if want := uint64(virtionet.FeatureHostTSO4 | virtionet.FeatureGuestTSO4); dev.Features()&want != want {
		t.Fatalf("device offers %#x", dev.Features())
	}
	data := payload(transferSize)
	checkSame(t, "guest to host", guestToHost(t, kst, outside, data), data)
	st := dev.Stats()
	checkSame(t, "host to guest", hostToGuest(t, kst, outside, data), data)
	st2 := dev.Stats()
	t.Logf("device: %+v", st2)
	if avg := st.TxBytes / st.TxFrames; avg < 4000 {
		t.Errorf("frames from the guest average %d bytes: no large segments", avg)
	}
	if avg := (st2.RxBytes - st.RxBytes) / (st2.RxFrames - st.RxFrames); avg < 4000 {
		t.Errorf("frames to the guest average %d bytes: no large segments", avg)
	}
	if st2.TxDropped+st2.RxRefused+st2.BadChains != 0 {
		t.Errorf("frames refused: %+v", st2)
	}
}

func TestTCPThroughLossAndReordering(t *testing.T) {
	f, err := virtionet.ParseFaults("loss=5%,reorder=5%,seed=9")
	if err != nil {
		t.Fatal(err)
	}
	kst, outside, dev := viaDevice(t, virtionet.Config{Faults: f}, false)
	data := payload(transferSize)
	start := time.Now()
	checkSame(t, "guest to host", guestToHost(t, kst, outside, data), data)
	checkSame(t, "host to guest", hostToGuest(t, kst, outside, data), data)
	st := dev.Stats()
	t.Logf("device after %v: %+v", time.Since(start), st)
	if st.Lost == 0 || st.Reordered == 0 {
		t.Errorf("no faults were injected: %+v", st)
	}
}

// The handshake of a connection through the device is in its capture, as
// tshark reads it.
func TestCaptureHasHandshake(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark is needed to read the capture (.ci/run installs it: apt-get install -y tshark)")
	}
	path := filepath.Join(t.TempDir(), "nic.pcap")
	w, err := pcap.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	kst, outside, dev := viaDevice(t, virtionet.Config{Capture: w}, false)
	data := []byte("hello through the capture")
	checkSame(t, "guest to host", guestToHost(t, kst, outside, data), data)
	dev.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "arp.opcode", "-e", "tcp.flags.str", "-e", "tcp.len")
	cmd.Env = append(cmd.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	text := string(out)
	t.Logf("tshark:\n%s", text)
	// ARP request and reply, then SYN, SYN-ACK, ACK and the data.
	for _, want := range []string{"1\t", "2\t", "··········S·", "·······A··S·", "\t25"} {
		if !strings.Contains(text, want) {
			t.Errorf("capture lacks %q", want)
		}
	}
}

// BenchmarkTCPThroughput moves 10 MB over TCP between the kernel's stack
// and the outside, in both directions: through the virtio-net device
// (MTU-sized frames, and large segments with TSO when the backend takes
// them) and directly through channel endpoints. allocs/op counts both
// stacks and the test's sockets; frames/op is what crossed the device.
func BenchmarkTCPThroughput(b *testing.B) {
	data := payload(transferSize)
	for _, path := range []string{"device", "device-tso", "direct"} {
		for _, dir := range []string{"guest-to-host", "host-to-guest"} {
			b.Run(path+"/"+dir, func(b *testing.B) {
				kst, outside, dev := setUp(b, path)
				move := mover(dir)
				move(b, kst, outside, data[:1<<20]) // warm up: ARP, buffers
				var st0 virtionet.Stats
				if dev != nil {
					st0 = dev.Stats()
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if got := move(b, kst, outside, data); len(got) != len(data) {
						b.Fatalf("%d bytes arrived", len(got))
					}
				}
				b.StopTimer()
				if dev != nil {
					st := dev.Stats()
					frames := (st.TxFrames - st0.TxFrames) + (st.RxFrames - st0.RxFrames)
					b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
				}
			})
		}
	}
}

// BenchmarkDeviceVsDirect alternates the same 10 MB transfer through the
// device (MTU-sized frames, no offloads) and directly through channel
// endpoints, so that both see the same machine, and reports the median of
// the per-round ratio of their throughputs (device/direct, 1 is parity).
func BenchmarkDeviceVsDirect(b *testing.B) {
	data := payload(transferSize)
	for _, dir := range []string{"guest-to-host", "host-to-guest"} {
		b.Run(dir, func(b *testing.B) {
			dk, do, _ := setUp(b, "device")
			xk, xo, _ := setUp(b, "direct")
			move := mover(dir)
			move(b, dk, do, data[:1<<20])
			move(b, xk, xo, data[:1<<20])
			var ratios, devMBs, dirMBs []float64
			timed := func(k *knet.Stack, o *stack.Stack) float64 {
				start := time.Now()
				if got := move(b, k, o, data); len(got) != len(data) {
					b.Fatalf("%d bytes arrived", len(got))
				}
				return float64(len(data)) / 1e6 / time.Since(start).Seconds()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var d, x float64
				if i%2 == 0 {
					d, x = timed(dk, do), timed(xk, xo)
				} else {
					x, d = timed(xk, xo), timed(dk, do)
				}
				ratios, devMBs, dirMBs = append(ratios, d/x), append(devMBs, d), append(dirMBs, x)
			}
			b.StopTimer()
			b.ReportMetric(median(ratios), "device/direct")
			b.ReportMetric(median(devMBs), "device-MB/s")
			b.ReportMetric(median(dirMBs), "direct-MB/s")
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func setUp(b *testing.B, path string) (*knet.Stack, *stack.Stack, *virtionet.Device) {
	switch path {
	case "device":
		return viaDevice(b, virtionet.Config{}, false)
	case "device-tso":
		return viaDevice(b, virtionet.Config{}, true)
	}
	k, o := direct(b)
	return k, o, nil
}

func mover(dir string) func(testing.TB, *knet.Stack, *stack.Stack, []byte) []byte {
	if dir == "host-to-guest" {
		return hostToGuest
	}
	return guestToHost
}

// A driver that runs out of guest memory while probing fails cleanly and
// gives back what it took.
func TestProbeOutOfMemory(t *testing.T) {
	mem, err := mmu.NewPhysMem(64 << 10) // 16 frames: not enough
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	free := mem.FreeFrames()
	dev, err := virtionet.New(mem, newBridge(channel.New(1, 1514, outsideMAC), false), virtionet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if _, err := nic.New(mem, dev, nic.Options{}); err == nil {
		t.Fatal("probe succeeded in 64 KiB")
	} else {
		t.Log(err)
	}
	if got := mem.FreeFrames(); got != free {
		t.Errorf("%d frames not given back", free-got)
	}
	if dev.Status() != 0 {
		t.Errorf("device left with status %#x", dev.Status())
	}
}
