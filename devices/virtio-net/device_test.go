package virtionet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aurora-vm/aurora-vm/devices/virtio-net/pcap"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/virtq"
)

// ram is guest memory for tests.
type ram []byte

func (m ram) Slice(pa, n uint64) ([]byte, bool) {
	if pa > uint64(len(m)) || n > uint64(len(m))-pa {
		return nil, false
	}
	return m[pa : pa+n : pa+n], true
}

// msg is one frame through the fake backend.
type msg struct {
	hdr   NetHdr
	frame []byte
}

// chanBackend is an in-memory backend: frames the device sends arrive on
// out, frames put on in are received.
type chanBackend struct {
	features uint64
	out      chan msg
	in       chan msg
	once     sync.Once
	closed   chan struct{}
}

func newChanBackend(features uint64) *chanBackend {
	return &chanBackend{features: features, out: make(chan msg, 4096), in: make(chan msg, 4096), closed: make(chan struct{})}
}

func (b *chanBackend) Features() uint64 { return b.features }

func (b *chanBackend) Send(hdr NetHdr, frame []byte) error {
	select {
	case b.out <- msg{hdr, bytes.Clone(frame)}:
		return nil
	case <-b.closed:
		return errors.New("closed")
	}
}

func (b *chanBackend) Receive(buf []byte) (NetHdr, int, error) {
	select {
	case m := <-b.in:
		return m.hdr, copy(buf, m.frame), nil
	case <-b.closed:
		return NetHdr{}, 0, errors.New("closed")
	}
}

func (b *chanBackend) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// testDriver drives a device through virtq's driver side, as the kernel's
// driver does, over a test RAM.
type testDriver struct {
	t        testing.TB
	mem      ram
	dev      *Device
	rx, tx   *virtq.DriverQueue
	features uint64
	bufSize  uint32
	rxAddr   []uint64 // buffer of each receive head
	irqs     chan int
}

const (
	rxRing = 0x0000
	txRing = 0x4000
	rxBufs = 0x100000
	txBufs = 0x800000
)

func ringLayout(base uint64, n uint16) virtq.Layout {
	return virtq.Layout{Size: n, Desc: base, Avail: base + 0x1000, Used: base + 0x2000}
}

// newTestDriver brings a device up with the features wanted (masked by
// what it offers) and posts `post` receive buffers of bufSize bytes.
func newTestDriver(t testing.TB, be Backend, cfg Config, want uint64, bufSize uint32, post int) *testDriver {
	t.Helper()
	mem := make(ram, 32<<20)
	dev, err := New(mem, be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	d := &testDriver{t: t, mem: mem, dev: dev, bufSize: bufSize, irqs: make(chan int, 1024)}
	d.features = dev.Features() & want
	if err := dev.Negotiate(d.features); err != nil {
		t.Fatal(err)
	}
	o := virtq.Options{EventIdx: d.features&FeatureEventIdx != 0, Indirect: d.features&FeatureIndirect != 0}
	const size = 256
	if d.rx, err = virtq.NewDriverQueue(mem, ringLayout(rxRing, size), o); err != nil {
		t.Fatal(err)
	}
	if d.tx, err = virtq.NewDriverQueue(mem, ringLayout(txRing, size), o); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetQueue(RXQueue, ringLayout(rxRing, size)); err != nil {
		t.Fatal(err)
	}
	if err := dev.SetQueue(TXQueue, ringLayout(txRing, size)); err != nil {
		t.Fatal(err)
	}
	dev.OnInterrupt(func(q int) {
		select {
		case d.irqs <- q:
		default:
		}
	})
	d.rxAddr = make([]uint64, size)
	d.post(post)
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// post offers n more receive buffers.
func (d *testDriver) post(n int) {
	for i := 0; i < n; i++ {
		head, err := d.rx.Add([]virtq.Buffer{{Addr: rxBufs, Len: d.bufSize, Writable: true}})
		if err != nil {
			d.t.Fatal(err)
		}
		// Each head gets its own buffer: rewrite the address before
		// publishing.
		addr := rxBufs + uint64(head)*uint64(d.bufSize)
		writeAddr(d.mem, ringLayout(rxRing, 256).Desc+16*uint64(head), addr)
		d.rxAddr[head] = addr
	}
	if d.rx.Publish() {
		d.dev.Notify(RXQueue)
	}
}

func writeAddr(mem ram, descAt, addr uint64) { binary.LittleEndian.PutUint64(mem[descAt:], addr) }

// send queues one frame with hdr and kicks if the device wants it.
func (d *testDriver) send(hdr NetHdr, frame []byte) {
	d.reclaimTX()
	head, err := d.tx.Add([]virtq.Buffer{{Addr: txBufs, Len: 1}}) // placeholder, rewritten below
	if err != nil {
		d.t.Fatal(err)
	}
	addr := txBufs + uint64(head)*0x11000
	buf := d.mem[addr:]
	hdr.Encode(buf)
	copy(buf[NetHdrSize:], frame)
	desc := d.mem[ringLayout(txRing, 256).Desc+16*uint64(head):]
	binary.LittleEndian.PutUint64(desc, addr)
	binary.LittleEndian.PutUint32(desc[8:], uint32(NetHdrSize+len(frame)))
	if d.tx.Publish() {
		d.dev.Notify(TXQueue)
	}
}

func (d *testDriver) reclaimTX() {
	for {
		_, _, ok, err := d.tx.Used()
		if err != nil {
			d.t.Fatal(err)
		}
		if !ok {
			return
		}
	}
}

// recv waits for the next frame delivered to the driver, reposting its
// buffers.
func (d *testDriver) recv(timeout time.Duration) (NetHdr, []byte, bool) {
	deadline := time.After(timeout)
	for {
		d.rx.DisableInterrupts()
		head, n, ok, err := d.rx.Used()
		if err != nil {
			d.t.Fatal(err)
		}
		if ok {
			b := d.mem[d.rxAddr[head] : d.rxAddr[head]+uint64(n)]
			hdr := DecodeNetHdr(b)
			frame := bytes.Clone(b[NetHdrSize:])
			d.post(1)
			for i := 1; i < int(hdr.NumBuffers); i++ {
				head, n = d.nextUsed(deadline)
				frame = append(frame, d.mem[d.rxAddr[head]:d.rxAddr[head]+uint64(n)]...)
				d.post(1)
			}
			return hdr, frame, true
		}
		if d.rx.EnableInterrupts() {
			continue
		}
		select {
		case <-d.irqs:
		case <-deadline:
			return NetHdr{}, nil, false
		}
	}
}

func (d *testDriver) nextUsed(deadline <-chan time.Time) (uint16, uint32) {
	for {
		head, n, ok, err := d.rx.Used()
		if err != nil {
			d.t.Fatal(err)
		}
		if ok {
			return head, n
		}
		select {
		case <-d.irqs:
		case <-deadline:
			d.t.Fatal("the rest of a merged frame never came")
		case <-time.After(time.Millisecond):
		}
	}
}

// frameN is an Ethernet frame of size bytes numbered i (from 18 bytes on;
// shorter ones are only a prefix).
func frameN(i, size int) []byte {
	f := make([]byte, max(size, 18))
	copy(f, "\x52\x54\x00\x12\x34\x56\x52\x54\x00\x00\x00\x02\x08\x00")
	for k := 14; k < len(f); k++ {
		f[k] = byte(i + k)
	}
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	return f[:size]
}

func recvHost(t *testing.T, be *chanBackend) msg {
	t.Helper()
	select {
	case m := <-be.out:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no frame reached the backend")
		return msg{}
	}
}

const allFeatures = ^uint64(0)

func TestFramesBothWays(t *testing.T) {
	for _, feat := range []uint64{allFeatures, allFeatures &^ (FeatureEventIdx | FeatureMrgRxbuf | FeatureIndirect)} {
		t.Run(fmt.Sprintf("%#x", feat), func(t *testing.T) {
			be := newChanBackend(0)
			d := newTestDriver(t, be, Config{}, feat, 2048, 256)
			const n = 2000 // several times around both rings
			for i := 0; i < n; i++ {
				be.in <- msg{NetHdr{}, frameN(i, 60+i%1400)}
				d.send(NetHdr{}, frameN(i, 60+i%1455))
				m := recvHost(t, be)
				if !bytes.Equal(m.frame, frameN(i, 60+i%1455)) || m.hdr != (NetHdr{}) {
					t.Fatalf("frame %d reached the backend as %d bytes, header %+v", i, len(m.frame), m.hdr)
				}
				hdr, f, ok := d.recv(5 * time.Second)
				if !ok {
					t.Fatalf("frame %d never reached the driver (stats %+v)", i, d.dev.Stats())
				}
				if !bytes.Equal(f, frameN(i, 60+i%1400)) || hdr.NumBuffers != 1 {
					t.Fatalf("frame %d reached the driver as %d bytes, header %+v", i, len(f), hdr)
				}
			}
			st := d.dev.Stats()
			if st.TxFrames != n || st.RxFrames != n || st.RxDropped+st.TxDropped+st.BadChains != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestNegotiation(t *testing.T) {
	mem := make(ram, 1<<20)
	plain, _ := New(mem, newChanBackend(0), Config{})
	base := uint64(FeatureVersion1 | FeatureMAC | FeatureStatus | FeatureMTU | FeatureEventIdx | FeatureIndirect | FeatureMrgRxbuf)
	if plain.Features() != base {
		t.Errorf("without offloads the device offers %#x, want %#x", plain.Features(), base)
	}
	off, _ := New(mem, newChanBackend(FeatureCsum|FeatureHostTSO4|FeatureGuestTSO4), Config{})
	if want := base | FeatureCsum | FeatureHostTSO4; off.Features() != want {
		t.Errorf("offloads: %#x, want %#x (GUEST_TSO4 needs GUEST_CSUM)", off.Features(), want)
	}
	for _, c := range []struct {
		f    uint64
		ok   bool
		what string
	}{
		{FeatureVersion1, true, "version 1 alone"},
		{base, true, "everything offered"},
		{FeatureMAC, false, "legacy"},
		{FeatureVersion1 | FeatureGuestTSO4, false, "not offered"},
		{FeatureVersion1 | FeatureHostTSO4, false, "TSO without CSUM"},
	} {
		d, _ := New(mem, newChanBackend(FeatureCsum|FeatureHostTSO4), Config{})
		err := d.Negotiate(c.f)
		if (err == nil) != c.ok {
			t.Errorf("%s: Negotiate(%#x) = %v", c.what, c.f, err)
		}
		if ok := d.Status()&StatusFeaturesOK != 0; ok != c.ok {
			t.Errorf("%s: FEATURES_OK is %v", c.what, ok)
		}
	}
	d, _ := New(mem, newChanBackend(0), Config{QueueSize: 64, MAC: [6]byte{2, 0, 0, 0, 0, 1}, MTU: 9000})
	if cs := d.ConfigSpace(); cs.MAC != [6]byte{2, 0, 0, 0, 0, 1} || cs.MTU != 9000 || cs.Status != NetStatusLinkUp {
		t.Errorf("config space %+v", cs)
	}
	if err := d.SetQueue(0, ringLayout(0, 64)); err == nil {
		t.Error("queue set up before feature negotiation")
	}
	d.Negotiate(FeatureVersion1)
	if err := d.SetQueue(0, ringLayout(0, 128)); err == nil {
		t.Error("queue larger than the device's maximum accepted")
	}
	if err := d.SetQueue(2, ringLayout(0, 64)); err == nil {
		t.Error("a third queue accepted")
	}
	if err := d.Start(); err == nil {
		t.Error("started without queues")
	}
	if _, err := New(mem, newChanBackend(0), Config{MAC: [6]byte{1}}); err == nil {
		t.Error("multicast MAC accepted")
	}
}

// A driver that posts no receive buffers: frames wait in the backlog,
// the rest are dropped and counted, nothing blocks, and the waiting
// frames arrive in order once buffers come.
func TestNoReceiveBuffers(t *testing.T) {
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{Backlog: 8}, allFeatures, 2048, 0)
	for i := 0; i < 100; i++ {
		be.in <- msg{NetHdr{}, frameN(i, 100)}
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.dev.Stats().RxDropped < 92 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := d.dev.Stats(); st.RxDropped != 92 || st.RxFrames != 0 {
		t.Fatalf("stats %+v, want 92 dropped", st)
	}
	// The device still sends meanwhile.
	d.send(NetHdr{}, frameN(7, 64))
	recvHost(t, be)
	d.post(4)
	for i := 0; i < 8; i++ {
		_, f, ok := d.recv(5 * time.Second)
		if !ok || !bytes.Equal(f, frameN(i, 100)) {
			t.Fatalf("backlog frame %d: %v", i, ok)
		}
	}
	be.in <- msg{NetHdr{}, frameN(100, 100)}
	if _, f, ok := d.recv(5 * time.Second); !ok || !bytes.Equal(f, frameN(100, 100)) {
		t.Fatal("a frame after the backlog drained did not arrive")
	}
}

// With MRG_RXBUF a frame spreads over several small buffers.
func TestMergeableBuffers(t *testing.T) {
	be := newChanBackend(FeatureGuestCsum | FeatureGuestTSO4)
	d := newTestDriver(t, be, Config{}, allFeatures, 512, 256)
	big := frameN(1, 20000)
	be.in <- msg{NetHdr{GSOType: GSOTCPv4, GSOSize: 1448, Flags: NetHdrFNeedsCsum, CsumStart: 34, CsumOffset: 16, HdrLen: 54}, big}
	hdr, f, ok := d.recv(5 * time.Second)
	if !ok || !bytes.Equal(f, big) {
		t.Fatalf("large frame: %v, %d bytes", ok, len(f))
	}
	if want := uint16((20000 + NetHdrSize + 511) / 512); hdr.NumBuffers != want || hdr.GSOType != GSOTCPv4 || hdr.GSOSize != 1448 {
		t.Errorf("header %+v, want %d buffers and the GSO fields", hdr, want)
	}
	// Without MRG_RXBUF the same frame cannot fit one buffer: refused,
	// and the buffer is kept for the next frame.
	be2 := newChanBackend(0)
	d2 := newTestDriver(t, be2, Config{}, allFeatures&^FeatureMrgRxbuf, 512, 1)
	be2.in <- msg{NetHdr{}, frameN(2, 1000)}
	be2.in <- msg{NetHdr{}, frameN(3, 400)}
	if _, f, ok := d2.recv(5 * time.Second); !ok || !bytes.Equal(f, frameN(3, 400)) {
		t.Fatalf("small frame after a refused one: %v", ok)
	}
	if st := d2.dev.Stats(); st.RxRefused != 1 {
		t.Errorf("stats %+v, want one refused", st)
	}
}

func TestOffloadsChecked(t *testing.T) {
	be := newChanBackend(FeatureCsum | FeatureHostTSO4)
	d := newTestDriver(t, be, Config{}, allFeatures, 2048, 8)
	gso := NetHdr{Flags: NetHdrFNeedsCsum, GSOType: GSOTCPv4, HdrLen: 54, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	d.send(gso, frameN(1, 30000))
	if m := recvHost(t, be); m.hdr != gso || len(m.frame) != 30000 {
		t.Errorf("TSO frame reached the backend as %+v, %d bytes", m.hdr, len(m.frame))
	}
	// A driver without the offloads may not use them.
	be2 := newChanBackend(FeatureCsum | FeatureHostTSO4)
	d2 := newTestDriver(t, be2, Config{}, allFeatures&^(FeatureHostTSO4|FeatureCsum), 2048, 8)
	d2.send(gso, frameN(1, 1000))
	d2.send(NetHdr{}, frameN(2, 30000)) // longer than the MTU
	d2.send(NetHdr{}, frameN(3, 10))    // shorter than an Ethernet header
	d2.send(NetHdr{Flags: NetHdrFNeedsCsum, CsumStart: 34, CsumOffset: 16}, frameN(4, 100))
	d2.send(NetHdr{}, frameN(5, 100))
	if m := recvHost(t, be2); !bytes.Equal(m.frame, frameN(5, 100)) {
		t.Errorf("a refused frame reached the backend")
	}
	if st := d2.dev.Stats(); st.TxDropped != 4 || st.TxFrames != 1 {
		t.Errorf("stats %+v, want 4 dropped", st)
	}
}

// A backend's partial checksum is finished by the device for a driver
// that did not negotiate GUEST_CSUM.
func TestChecksumFinishedForDriver(t *testing.T) {
	be := newChanBackend(FeatureGuestCsum)
	d := newTestDriver(t, be, Config{}, allFeatures&^FeatureGuestCsum, 2048, 8)
	f := frameN(0, 100)
	// Sum from byte 40 on, into bytes 50-51 (which hold a partial sum).
	binary.BigEndian.PutUint16(f[50:], 0x1234)
	be.in <- msg{NetHdr{Flags: NetHdrFNeedsCsum, CsumStart: 40, CsumOffset: 10}, f}
	hdr, got, ok := d.recv(5 * time.Second)
	if !ok {
		t.Fatal("no frame")
	}
	if hdr.Flags != 0 {
		t.Errorf("flags %#x passed to a driver without GUEST_CSUM", hdr.Flags)
	}
	sum := uint32(0x1234) // the pseudo-header's part
	for i := 40; i < len(got); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(got[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	if sum != 0xffff {
		t.Errorf("checksum does not verify: sum %#x", sum)
	}
}

// Malformed chains are refused one by one; the device keeps working.
func TestBadChainsRefused(t *testing.T) {
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{}, allFeatures, 2048, 8)
	// A descriptor pointing outside RAM, through the driver's own queue.
	d.tx.Add([]virtq.Buffer{{Addr: 1 << 40, Len: 100}})
	d.tx.Publish()
	d.dev.Notify(TXQueue)
	d.send(NetHdr{}, frameN(1, 100))
	if m := recvHost(t, be); !bytes.Equal(m.frame, frameN(1, 100)) {
		t.Error("frame after a bad chain lost")
	}
	if st := d.dev.Stats(); st.BadChains != 1 || d.dev.Status()&StatusNeedsReset != 0 {
		t.Errorf("stats %+v, status %#x", st, d.dev.Status())
	}
	// An available index far ahead breaks the queue for good: the device
	// says it needs a reset and does not crash.
	l := ringLayout(txRing, 256)
	binary.LittleEndian.PutUint16(d.mem[l.Avail+2:], binary.LittleEndian.Uint16(d.mem[l.Avail+2:])+1000)
	d.dev.Notify(TXQueue)
	if d.dev.Status()&StatusNeedsReset == 0 {
		t.Error("broken queue not reported")
	}
}

func TestParseFaults(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Faults
		ok   bool
	}{
		{"", Faults{}, true},
		{"loss=5%,dup=1%,reorder=5%", Faults{Loss: 0.05, Dup: 0.01, Reorder: 0.05}, true},
		{"loss=0.5, seed=42", Faults{Loss: 0.5, Seed: 42}, true},
		{"loss=100%", Faults{Loss: 1}, true},
		{"loss=101%", Faults{}, false},
		{"loss=-1%", Faults{}, false},
		{"loss", Faults{}, false},
		{"jitter=5%", Faults{}, false},
		{"dup=x", Faults{}, false},
		{"seed=-1", Faults{}, false},
	} {
		got, err := ParseFaults(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseFaults(%q) = %+v, %v", c.in, got, err)
		}
	}
	f := Faults{Loss: 0.05, Dup: 0.01, Reorder: 0.05, Seed: 3}
	if g, err := ParseFaults(f.String()); err != nil || g != f {
		t.Errorf("round trip of %v: %+v, %v", f, g, err)
	}
}

func TestFaultsInjected(t *testing.T) {
	run := func(f Faults, n int) []int {
		be := newChanBackend(0)
		d := newTestDriver(t, be, Config{Faults: f}, allFeatures, 2048, 8)
		for i := 0; i < n; i++ {
			d.send(NetHdr{}, frameN(i, 64))
		}
		var got []int
		for {
			select {
			case m := <-be.out:
				got = append(got, int(binary.BigEndian.Uint32(m.frame[14:])))
				continue
			case <-time.After(50 * time.Millisecond):
			}
			return got
		}
	}
	if got := run(Faults{Loss: 1}, 10); len(got) != 0 {
		t.Errorf("100%% loss delivered %v", got)
	}
	if got := run(Faults{Dup: 1}, 3); fmt.Sprint(got) != "[0 0 1 1 2 2]" {
		t.Errorf("100%% duplication delivered %v", got)
	}
	// With reordering every frame held is released after the next one.
	if got := run(Faults{Reorder: 1}, 4); fmt.Sprint(got) != "[1 0 3 2]" {
		t.Errorf("100%% reordering delivered %v", got)
	}
	a := run(Faults{Loss: 0.3, Dup: 0.2, Reorder: 0.2, Seed: 7}, 200)
	b := run(Faults{Loss: 0.3, Dup: 0.2, Reorder: 0.2, Seed: 7}, 200)
	c := run(Faults{Loss: 0.3, Dup: 0.2, Reorder: 0.2, Seed: 8}, 200)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed made different choices")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("different seeds made the same choices")
	}
	if len(a) < 100 || len(a) > 200 {
		t.Errorf("30%% loss and 20%% duplication of 200 frames gave %d", len(a))
	}
}

func TestCaptureBothDirections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.pcap")
	w, err := pcap.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{Capture: w}, allFeatures, 2048, 8)
	d.send(NetHdr{}, frameN(1, 100))
	recvHost(t, be)
	be.in <- msg{NetHdr{}, frameN(2, 200)}
	if _, _, ok := d.recv(5 * time.Second); !ok {
		t.Fatal("no frame")
	}
	d.dev.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = b[24:]
	var lens []uint32
	for len(b) >= 16 {
		n := binary.LittleEndian.Uint32(b[8:])
		lens = append(lens, n)
		b = b[16+n:]
	}
	if fmt.Sprint(lens) != "[100 200]" {
		t.Errorf("capture holds frames of %v bytes", lens)
	}
}

// Close ends the receive goroutine blocked in the backend, and the device
// does nothing afterwards.
func TestCloseStops(t *testing.T) {
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{}, allFeatures, 2048, 8)
	done := make(chan struct{})
	go func() { d.dev.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	d.tx.Add([]virtq.Buffer{{Addr: txBufs, Len: 100}})
	d.tx.Publish()
	d.dev.Notify(TXQueue)
	d.dev.Notify(RXQueue)
	if st := d.dev.Stats(); st.TxFrames+st.TxDropped != 0 {
		t.Errorf("a closed device transmitted: %+v", st)
	}
	if err := d.dev.Start(); err == nil {
		t.Error("a closed device started again")
	}
}

// Reset and start again: the driver may reinitialise the device.
func TestResetAndRestart(t *testing.T) {
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{}, allFeatures, 2048, 8)
	d.send(NetHdr{}, frameN(1, 100))
	recvHost(t, be)
	d.dev.Reset()
	if d.dev.Status() != 0 {
		t.Fatalf("status %#x after reset", d.dev.Status())
	}
	d2 := &testDriver{t: t, mem: d.mem, dev: d.dev, bufSize: 2048, irqs: d.irqs, rxAddr: make([]uint64, 256)}
	if err := d.dev.Negotiate(FeatureVersion1 | FeatureEventIdx); err != nil {
		t.Fatal(err)
	}
	o := virtq.Options{EventIdx: true}
	d2.rx, _ = virtq.NewDriverQueue(d.mem, ringLayout(rxRing, 256), o)
	d2.tx, _ = virtq.NewDriverQueue(d.mem, ringLayout(txRing, 256), o)
	d.dev.SetQueue(RXQueue, ringLayout(rxRing, 256))
	d.dev.SetQueue(TXQueue, ringLayout(txRing, 256))
	d2.post(8)
	if err := d.dev.Start(); err != nil {
		t.Fatal(err)
	}
	d2.send(NetHdr{}, frameN(2, 100))
	if m := recvHost(t, be); !bytes.Equal(m.frame, frameN(2, 100)) {
		t.Error("wrong frame after restart")
	}
	be.in <- msg{NetHdr{}, frameN(3, 100)}
	if _, f, ok := d2.recv(5 * time.Second); !ok || !bytes.Equal(f, frameN(3, 100)) {
		t.Error("no frame received after restart")
	}
}

// nullBackend takes every frame and never returns one.
type nullBackend struct{ closed chan struct{} }

func (nullBackend) Features() uint64          { return 0 }
func (nullBackend) Send(NetHdr, []byte) error { return nil }
func (b nullBackend) Close() error            { close(b.closed); return nil }
func (b nullBackend) Receive([]byte) (NetHdr, int, error) {
	<-b.closed
	return NetHdr{}, 0, errors.New("closed")
}

// BenchmarkTransmit is the device's cost per frame on the transmit path:
// pop, header, backend, used, with the driver side's add and reclaim.
func BenchmarkTransmit(b *testing.B) {
	d := newTestDriver(b, nullBackend{make(chan struct{})}, Config{}, allFeatures, 2048, 0)
	frame := frameN(1, 1514)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		d.send(NetHdr{}, frame)
	}
	b.StopTimer()
	d.dev.Close()
}

// A driver may put the header and the frame in separate buffers, behind
// an indirect table.
func TestIndirectTransmit(t *testing.T) {
	be := newChanBackend(0)
	d := newTestDriver(t, be, Config{}, allFeatures, 2048, 8)
	if d.features&FeatureIndirect == 0 {
		t.Fatal("INDIRECT_DESC not negotiated")
	}
	const hdrAt, frameAt, table = txBufs, txBufs + 0x100, txBufs + 0x1000
	gso := NetHdr{}
	gso.Encode(d.mem[hdrAt:])
	f := frameN(9, 700)
	copy(d.mem[frameAt:], f[:300])
	copy(d.mem[frameAt+0x400:], f[300:])
	_, err := d.tx.AddIndirect(table, []virtq.Buffer{
		{Addr: hdrAt, Len: NetHdrSize}, {Addr: frameAt, Len: 300}, {Addr: frameAt + 0x400, Len: 400},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.tx.Publish() {
		d.dev.Notify(TXQueue)
	}
	if m := recvHost(t, be); !bytes.Equal(m.frame, f) {
		t.Errorf("gathered frame differs (%d bytes)", len(m.frame))
	}
}
