package virtq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// ram is guest memory for tests: a byte slice indexed by guest-physical
// address.
type ram []byte

func (m ram) Slice(pa, n uint64) ([]byte, bool) {
	if pa > uint64(len(m)) || n > uint64(len(m))-pa {
		return nil, false
	}
	return m[pa : pa+n : pa+n], true
}

func newRAM(size int) ram {
	// Go's large allocations are page-aligned, so host and guest
	// alignment agree as they do for mmu.PhysMem.
	return make(ram, size)
}

// layoutAt places a queue of size n in pages from base on.
func layoutAt(base uint64, n uint16) Layout {
	return Layout{Size: n, Desc: base, Avail: base + 0x10000, Used: base + 0x20000}
}

// pair sets up both ends of one queue.
func pair(t testing.TB, mem ram, l Layout, o Options) (*DriverQueue, *DeviceQueue) {
	t.Helper()
	drv, err := NewDriverQueue(mem, l, o)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := NewDeviceQueue(mem, l, o)
	if err != nil {
		t.Fatal(err)
	}
	return drv, dev
}

const bufBase = 0x40000

func TestRoundTripWrapsSixteenBitIndices(t *testing.T) {
	for _, o := range []Options{{}, {EventIdx: true}} {
		mem := newRAM(1 << 20)
		drv, dev := pair(t, mem, layoutAt(0, 4), o)
		var c Chain
		// 70,000 buffers through a queue of 4: both free-running indices
		// wrap past 65535 and the ring positions wrap every 4.
		for i := 0; i < 70000; i++ {
			addr := uint64(bufBase + (i%4)*64)
			binary.LittleEndian.PutUint32(mem[addr:], uint32(i))
			head, err := drv.Add([]Buffer{{Addr: addr, Len: 4}, {Addr: addr + 32, Len: 8, Writable: true}})
			if err != nil {
				t.Fatalf("%d: add: %v", i, err)
			}
			drv.Publish()
			ok, err := dev.Pop(&c)
			if !ok || err != nil {
				t.Fatalf("%d: pop: %v %v", i, ok, err)
			}
			if c.Head != head || len(c.Readable) != 1 || len(c.Writable) != 1 {
				t.Fatalf("%d: chain %+v, want head %d with one buffer each way", i, c, head)
			}
			if got := binary.LittleEndian.Uint32(c.Readable[0]); got != uint32(i) {
				t.Fatalf("%d: device read %d", i, got)
			}
			binary.LittleEndian.PutUint64(c.Writable[0], ^uint64(i))
			dev.Push(c.Head, 8)
			dev.Publish()
			h, n, ok, err := drv.Used()
			if !ok || err != nil || h != head || n != 8 {
				t.Fatalf("%d: used = %d %d %v %v", i, h, n, ok, err)
			}
			if got := binary.LittleEndian.Uint64(mem[addr+32:]); got != ^uint64(i) {
				t.Fatalf("%d: driver read %#x", i, got)
			}
			if ok, _ := dev.Pop(&c); ok {
				t.Fatalf("%d: a chain popped from an empty queue", i)
			}
		}
		if got := load16(dev.r.used, dev.r.usedIdx()); got != uint16(70000%65536) {
			t.Errorf("used idx %d, want %d", got, 70000%65536)
		}
	}
}

func TestChainedDescriptorsGatherAndScatter(t *testing.T) {
	mem := newRAM(1 << 20)
	drv, dev := pair(t, mem, layoutAt(0, 8), Options{})
	copy(mem[bufBase:], "header")
	copy(mem[bufBase+100:], "-payload")
	bufs := []Buffer{
		{Addr: bufBase, Len: 6},
		{Addr: bufBase + 100, Len: 8},
		{Addr: bufBase + 200, Len: 3, Writable: true},
		{Addr: bufBase + 300, Len: 10, Writable: true},
	}
	head, err := drv.Add(bufs)
	if err != nil {
		t.Fatal(err)
	}
	if drv.NumFree() != 4 {
		t.Errorf("%d descriptors free, want 4", drv.NumFree())
	}
	drv.Publish()
	var c Chain
	if ok, err := dev.Pop(&c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if c.Head != head || c.ReadableLen() != 14 || c.WritableLen() != 13 {
		t.Fatalf("chain %d: %d readable, %d writable bytes", c.Head, c.ReadableLen(), c.WritableLen())
	}
	got := make([]byte, 20)
	if n := c.Gather(got, 2); string(got[:n]) != "ader-payload" {
		t.Errorf("gathered %q", got[:n])
	}
	if n := c.Scatter([]byte("0123456789abcdef"), 1); n != 12 {
		t.Errorf("scattered %d bytes, want 12", n)
	}
	if string(mem[bufBase+200:bufBase+203]) != "\x0001" || string(mem[bufBase+300:bufBase+310]) != "23456789ab" {
		t.Errorf("scatter wrote %q and %q", mem[bufBase+200:bufBase+203], mem[bufBase+300:bufBase+310])
	}
	dev.Push(c.Head, 12)
	dev.Publish()
	if _, _, ok, err := drv.Used(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if drv.NumFree() != 8 {
		t.Errorf("%d descriptors free after reclaim, want 8", drv.NumFree())
	}
}

func TestIndirectDescriptors(t *testing.T) {
	mem := newRAM(1 << 20)
	o := Options{Indirect: true}
	drv, dev := pair(t, mem, layoutAt(0, 2), o)
	copy(mem[bufBase:], "abc")
	table := uint64(bufBase + 0x1000)
	bufs := []Buffer{{Addr: bufBase, Len: 3}, {Addr: bufBase + 8, Len: 4, Writable: true}, {Addr: bufBase + 16, Len: 4, Writable: true}}
	// Three buffers each, twice, in a queue of two descriptors.
	for k := 0; k < 2; k++ {
		if _, err := drv.AddIndirect(table+uint64(k)*256, bufs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := drv.AddIndirect(table+512, bufs); !errors.Is(err, ErrFull) {
		t.Errorf("third indirect chain: %v, want ErrFull", err)
	}
	drv.Publish()
	var c Chain
	for k := 0; k < 2; k++ {
		if ok, err := dev.Pop(&c); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if string(c.Readable[0]) != "abc" || len(c.Writable) != 2 || c.WritableLen() != 8 {
			t.Fatalf("chain %+v", c)
		}
	}

	// Direct descriptors followed by one indirect descriptor, which the
	// device must accept (section 2.7.5.3.2).
	mem2 := newRAM(1 << 20)
	l := layoutAt(0, 4)
	if _, err := NewDriverQueue(mem2, l, o); err != nil {
		t.Fatal(err)
	}
	dev2, _ := NewDeviceQueue(mem2, l, o)
	writeDesc(mem2[l.Desc:], desc{addr: bufBase, len: 5, flags: DescFNext, next: 2})
	writeDesc(mem2[l.Desc+32:], desc{addr: table, len: 32, flags: DescFIndirect | DescFWrite}) // WRITE is ignored here
	writeDesc(mem2[table:], desc{addr: bufBase + 8, len: 6, flags: DescFNext, next: 1})
	writeDesc(mem2[table+16:], desc{addr: bufBase + 16, len: 7, flags: DescFWrite})
	publish(mem2, l, 0)
	if ok, err := dev2.Pop(&c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if c.ReadableLen() != 11 || c.WritableLen() != 7 {
		t.Errorf("mixed chain: %d readable, %d writable bytes, want 11 and 7", c.ReadableLen(), c.WritableLen())
	}
}

// publish makes heads available by writing the available ring directly,
// as a (possibly malicious) driver would.
func publish(mem ram, l Layout, heads ...uint16) {
	idx := binary.LittleEndian.Uint16(mem[l.Avail+2:])
	for _, h := range heads {
		binary.LittleEndian.PutUint16(mem[l.Avail+4+2*uint64(idx%l.Size):], h)
		idx++
	}
	binary.LittleEndian.PutUint16(mem[l.Avail+2:], idx)
}

func TestFullRing(t *testing.T) {
	mem := newRAM(1 << 20)
	drv, dev := pair(t, mem, layoutAt(0, 16), Options{EventIdx: true})
	for i := 0; i < 16; i++ {
		if _, err := drv.Add([]Buffer{{Addr: bufBase + uint64(i)*16, Len: 16, Writable: true}}); err != nil {
			t.Fatalf("buffer %d: %v", i, err)
		}
	}
	if _, err := drv.Add([]Buffer{{Addr: bufBase, Len: 1}}); !errors.Is(err, ErrFull) {
		t.Fatalf("17th buffer: %v, want ErrFull", err)
	}
	drv.Publish()
	var c Chain
	var heads []uint16
	for {
		ok, err := dev.Pop(&c)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		heads = append(heads, c.Head)
	}
	if len(heads) != 16 {
		t.Fatalf("device popped %d chains from a full ring, want 16", len(heads))
	}
	// Returned out of order, as a device may.
	for i := len(heads) - 1; i >= 0; i-- {
		dev.Push(heads[i], 0)
	}
	dev.Publish()
	for i := 0; i < 16; i++ {
		if h, _, ok, err := drv.Used(); !ok || err != nil || h != heads[15-i] {
			t.Fatalf("used %d: %d %v %v", i, h, ok, err)
		}
	}
	if drv.NumFree() != 16 {
		t.Fatalf("%d free after reclaiming everything", drv.NumFree())
	}
	// And the ring fills again.
	for i := 0; i < 16; i++ {
		if _, err := drv.Add([]Buffer{{Addr: bufBase, Len: 1}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDriverPostsNoBuffers(t *testing.T) {
	for _, o := range []Options{{}, {EventIdx: true}} {
		mem := newRAM(1 << 20)
		drv, dev := pair(t, mem, layoutAt(0, 8), o)
		var c Chain
		if ok, err := dev.Pop(&c); ok || err != nil {
			t.Fatalf("pop from an empty queue: %v %v", ok, err)
		}
		if dev.EnableNotify() {
			t.Fatal("EnableNotify reports buffers nobody posted")
		}
		drv.Add([]Buffer{{Addr: bufBase, Len: 64, Writable: true}})
		if !drv.Publish() {
			t.Fatalf("%+v: the device waiting for buffers gets no kick", o)
		}
		if ok, err := dev.Pop(&c); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
}

func TestNotificationSuppression(t *testing.T) {
	t.Run("event-idx", func(t *testing.T) {
		mem := newRAM(1 << 20)
		drv, dev := pair(t, mem, layoutAt(0, 8), Options{EventIdx: true})
		add := func() { drv.Add([]Buffer{{Addr: bufBase, Len: 8}}) }
		// A fresh queue asks for a kick at the first buffer.
		add()
		if !drv.Publish() {
			t.Error("no kick for the first buffer")
		}
		// The device is busy and did not ask again: no kick.
		add()
		add()
		if drv.Publish() {
			t.Error("kick although avail_event was passed long ago")
		}
		var c Chain
		for ok, _ := dev.Pop(&c); ok; ok, _ = dev.Pop(&c) {
			dev.Push(c.Head, 0)
		}
		dev.Publish()
		if dev.EnableNotify() {
			t.Error("EnableNotify sees buffers after all were popped")
		}
		add()
		if !drv.Publish() {
			t.Error("no kick after the device re-enabled notifications")
		}

		// Interrupts: the driver asks for one at the next used buffer.
		if !drv.EnableInterrupts() {
			t.Error("three used buffers not reported pending")
		}
		for _, _, ok, _ := drv.Used(); ok; _, _, ok, _ = drv.Used() {
		}
		if drv.EnableInterrupts() {
			t.Error("pending after reclaiming everything")
		}
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		if !dev.Publish() {
			t.Error("no interrupt although the driver asked")
		}
		for i := 0; i < 3; i++ {
			add()
		}
		drv.Publish()
		for ok, _ := dev.Pop(&c); ok; ok, _ = dev.Pop(&c) {
			dev.Push(c.Head, 0)
		}
		if dev.Publish() {
			t.Error("interrupt although used_event was passed and not renewed")
		}
		// EnableInterruptsAfter(2): one used buffer is not enough.
		for _, _, ok, _ := drv.Used(); ok; _, _, ok, _ = drv.Used() {
		}
		drv.EnableInterruptsAfter(2)
		add()
		add()
		drv.Publish()
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		if dev.Publish() {
			t.Error("interrupt after one buffer of the two asked for")
		}
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		if !dev.Publish() {
			t.Error("no interrupt after the second buffer")
		}
	})
	t.Run("flags", func(t *testing.T) {
		mem := newRAM(1 << 20)
		drv, dev := pair(t, mem, layoutAt(0, 8), Options{})
		dev.DisableNotify()
		drv.Add([]Buffer{{Addr: bufBase, Len: 8}})
		if drv.Publish() {
			t.Error("kick although the device set NO_NOTIFY")
		}
		if !dev.EnableNotify() {
			t.Error("EnableNotify misses a waiting buffer")
		}
		drv.Add([]Buffer{{Addr: bufBase, Len: 8}})
		if !drv.Publish() {
			t.Error("no kick with notifications on")
		}
		var c Chain
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		drv.DisableInterrupts()
		if dev.Publish() {
			t.Error("interrupt although the driver set NO_INTERRUPT")
		}
		if !drv.EnableInterrupts() {
			t.Error("EnableInterrupts misses a used buffer")
		}
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		if !dev.Publish() {
			t.Error("no interrupt with interrupts on")
		}
	})
}

func TestNeedEventWraps(t *testing.T) {
	for _, c := range []struct {
		event, new, old uint16
		want            bool
	}{
		{0, 1, 0, true},
		{5, 5, 0, false}, // event 5 means "after entry 5": idx must reach 6
		{5, 6, 0, true},
		{5, 10, 6, false},
		{65535, 0, 65534, true}, // wraps
		{65535, 2, 65530, true},
		{1, 2, 65530, true},
		{3, 2, 65530, false},
	} {
		if got := needEvent(c.event, c.new, c.old); got != c.want {
			t.Errorf("needEvent(%d, %d, %d) = %v, want %v", c.event, c.new, c.old, got, c.want)
		}
	}
}

// badChain writes descriptors straight into the table and checks that the
// device refuses the chain, gives its head back and carries on.
func TestDeviceRefusesBadChains(t *testing.T) {
	const memSize = 1 << 20
	for _, c := range []struct {
		name  string
		o     Options
		descs []desc // at table indices 0, 1, ...
		extra func(mem ram)
	}{
		{name: "buffer outside RAM", descs: []desc{{addr: memSize - 4, len: 8}}},
		{name: "address overflows", descs: []desc{{addr: ^uint64(0) - 2, len: 16}}},
		{name: "second buffer outside RAM", descs: []desc{{addr: bufBase, len: 8, flags: DescFNext, next: 1}, {addr: 1 << 40, len: 1}}},
		{name: "loop", descs: []desc{{addr: bufBase, len: 8, flags: DescFNext, next: 1}, {addr: bufBase, len: 8, flags: DescFNext, next: 0}}},
		{name: "self loop", descs: []desc{{addr: bufBase, len: 8, flags: DescFNext, next: 0}}},
		{name: "next outside the table", descs: []desc{{addr: bufBase, len: 8, flags: DescFNext, next: 8}}},
		{name: "readable after writable", descs: []desc{{addr: bufBase, len: 8, flags: DescFNext | DescFWrite, next: 1}, {addr: bufBase, len: 8}}},
		{name: "indirect not negotiated", descs: []desc{{addr: bufBase, len: 16, flags: DescFIndirect}}},
		{name: "indirect with next", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 16, flags: DescFIndirect | DescFNext, next: 1}, {addr: bufBase, len: 8}}},
		{name: "empty indirect table", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 0, flags: DescFIndirect}}},
		{name: "ragged indirect table", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 24, flags: DescFIndirect}}},
		{name: "indirect table outside RAM", o: Options{Indirect: true}, descs: []desc{{addr: memSize - 16, len: 32, flags: DescFIndirect}}},
		{name: "nested indirect", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 16, flags: DescFIndirect}},
			extra: func(mem ram) { writeDesc(mem[bufBase:], desc{addr: bufBase + 64, len: 16, flags: DescFIndirect}) }},
		{name: "loop in indirect table", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 32, flags: DescFIndirect}},
			extra: func(mem ram) {
				writeDesc(mem[bufBase:], desc{addr: bufBase + 64, len: 1, flags: DescFNext, next: 1})
				writeDesc(mem[bufBase+16:], desc{addr: bufBase + 64, len: 1, flags: DescFNext, next: 0})
			}},
		{name: "indirect next past the table", o: Options{Indirect: true}, descs: []desc{{addr: bufBase, len: 16, flags: DescFIndirect}},
			extra: func(mem ram) { writeDesc(mem[bufBase:], desc{addr: bufBase + 64, len: 1, flags: DescFNext, next: 1}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newRAM(memSize)
			l := layoutAt(0, 8)
			dev, err := NewDeviceQueue(mem, l, c.o)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range c.descs {
				writeDesc(mem[l.Desc+16*uint64(i):], d)
			}
			if c.extra != nil {
				c.extra(mem)
			}
			// The bad chain, then a good one at index 7.
			writeDesc(mem[l.Desc+16*7:], desc{addr: bufBase, len: 4})
			publish(mem, l, 0, 7)
			var ch Chain
			ok, err := dev.Pop(&ch)
			var ce *ChainError
			if !ok || !errors.As(err, &ce) || ce.Head != 0 || ch.Head != 0 {
				t.Fatalf("pop = %v, %v; want a refused chain at head 0", ok, err)
			}
			if len(ch.Readable)+len(ch.Writable) != 0 {
				t.Errorf("a refused chain still holds buffers: %+v", ch)
			}
			t.Log(err)
			if ok, err := dev.Pop(&ch); !ok || err != nil || ch.Head != 7 {
				t.Errorf("the next chain: %v %v head %d", ok, err, ch.Head)
			}
		})
	}
}

func TestDeviceRefusesBrokenRings(t *testing.T) {
	t.Run("index jumps", func(t *testing.T) {
		mem := newRAM(1 << 20)
		l := layoutAt(0, 8)
		dev, _ := NewDeviceQueue(mem, l, Options{})
		binary.LittleEndian.PutUint16(mem[l.Avail+2:], 9) // 9 entries in a ring of 8
		var c Chain
		if ok, err := dev.Pop(&c); ok || !errors.Is(err, ErrBroken) {
			t.Fatalf("pop = %v, %v; want ErrBroken", ok, err)
		}
		binary.LittleEndian.PutUint16(mem[l.Avail+2:], 1)
		if _, err := dev.Pop(&c); !errors.Is(err, ErrBroken) {
			t.Fatalf("a broken queue works again: %v", err)
		}
		if dev.Pending() {
			t.Error("a broken queue reports pending chains")
		}
	})
	t.Run("head outside the table", func(t *testing.T) {
		mem := newRAM(1 << 20)
		l := layoutAt(0, 8)
		dev, _ := NewDeviceQueue(mem, l, Options{})
		publish(mem, l, 8)
		var c Chain
		if ok, err := dev.Pop(&c); ok || !errors.Is(err, ErrBroken) {
			t.Fatalf("pop = %v, %v; want ErrBroken", ok, err)
		}
	})
	t.Run("driver sees a bogus used entry", func(t *testing.T) {
		mem := newRAM(1 << 20)
		l := layoutAt(0, 8)
		drv, _ := NewDriverQueue(mem, l, Options{})
		binary.LittleEndian.PutUint32(mem[l.Used+4:], 3) // never offered
		binary.LittleEndian.PutUint16(mem[l.Used+2:], 1)
		if _, _, ok, err := drv.Used(); ok || !errors.Is(err, ErrBroken) {
			t.Fatalf("used = %v, %v; want ErrBroken", ok, err)
		}
	})
}

func TestLayoutChecks(t *testing.T) {
	mem := newRAM(1 << 16)
	for _, l := range []Layout{
		{Size: 0},
		{Size: 3},
		{Size: 65535},
		{Size: 8, Desc: 8, Avail: 0x1000, Used: 0x2000},
		{Size: 8, Desc: 0, Avail: 0x1001, Used: 0x2000},
		{Size: 8, Desc: 0, Avail: 0x1000, Used: 0x2002},
		{Size: 8, Desc: 1 << 16, Avail: 0x1000, Used: 0x2000},
		{Size: 8, Desc: 0, Avail: 1<<16 - 8, Used: 0x2000},
		{Size: 8, Desc: 0, Avail: 0x1000, Used: 1<<16 - 32},
		{Size: 32768, Desc: 0, Avail: 0x1000, Used: 0x2000},
	} {
		if _, err := NewDeviceQueue(mem, l, Options{}); err == nil {
			t.Errorf("layout %+v accepted", l)
		}
	}
	// A 2-byte aligned available ring is fine.
	if _, err := NewDeviceQueue(mem, Layout{Size: 8, Desc: 0, Avail: 0x1002, Used: 0x2000}, Options{EventIdx: true}); err != nil {
		t.Error(err)
	}
}

// A 2-byte aligned available ring shares its 32-bit words with the
// neighbouring bytes; the atomic stores must leave those alone.
func TestStore16KeepsNeighbours(t *testing.T) {
	mem := newRAM(1 << 20)
	l := Layout{Size: 4, Desc: 0, Avail: 0x1002, Used: 0x2000}
	mem[0x1000], mem[0x1001] = 0xaa, 0xbb
	drv, dev := pair(t, mem, l, Options{EventIdx: true})
	drv.Add([]Buffer{{Addr: bufBase, Len: 1}})
	drv.Publish()
	drv.EnableInterrupts()
	var c Chain
	if ok, err := dev.Pop(&c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if !bytes.Equal(mem[0x1000:0x1002], []byte{0xaa, 0xbb}) {
		t.Errorf("bytes before the ring became %x", mem[0x1000:0x1002])
	}
}

func BenchmarkPopPush(b *testing.B) {
	mem := newRAM(1 << 20)
	drv, dev := pair(b, mem, layoutAt(0, 256), Options{EventIdx: true, Indirect: true})
	var c Chain
	bufs := []Buffer{{Addr: bufBase, Len: 12}, {Addr: bufBase + 64, Len: 1514}}
	b.ReportAllocs()
	for b.Loop() {
		drv.Add(bufs)
		drv.Publish()
		dev.Pop(&c)
		dev.Push(c.Head, 0)
		dev.Publish()
		drv.Used()
	}
}

// A device that found too few buffers for a frame and put them back asks
// to be kicked for more, not for the ones it has already seen.
func TestEnableNotifyOnMore(t *testing.T) {
	for _, o := range []Options{{}, {EventIdx: true}} {
		mem := newRAM(1 << 20)
		drv, dev := pair(t, mem, layoutAt(0, 8), o)
		drv.Add([]Buffer{{Addr: bufBase, Len: 100, Writable: true}})
		drv.Publish()
		var c Chain
		if ok, _ := dev.Pop(&c); !ok {
			t.Fatal("no chain")
		}
		dev.Unpop(1)
		if dev.EnableNotifyOnMore() {
			t.Errorf("%+v: more buffers reported where none came", o)
		}
		drv.Add([]Buffer{{Addr: bufBase + 100, Len: 100, Writable: true}})
		if !drv.Publish() {
			t.Errorf("%+v: no kick for the buffer the device waits for", o)
		}
		for i := 0; i < 2; i++ {
			if ok, err := dev.Pop(&c); !ok || err != nil {
				t.Fatalf("%+v: chain %d: %v %v", o, i, ok, err)
			}
		}
	}
}
