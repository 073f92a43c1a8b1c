package virtq

import (
	"errors"
	"testing"
	"unsafe"
)

// FuzzPopChain lets the fuzzer write the first bytes of a small guest RAM
// that holds a queue's descriptor table and available ring, and checks
// that the device side never panics, never returns a buffer outside RAM,
// never returns more buffers than the queue size, and refuses only with
// the errors it documents.
func FuzzPopChain(f *testing.F) {
	// Seeds: well-formed queues built by the driver side.
	for _, o := range []Options{{}, {EventIdx: true, Indirect: true}} {
		mem := newRAM(fuzzRAM)
		l := fuzzLayout(8)
		drv, err := NewDriverQueue(mem, l, o)
		if err != nil {
			f.Fatal(err)
		}
		drv.Add([]Buffer{{Addr: 0x800, Len: 12}, {Addr: 0x900, Len: 100, Writable: true}})
		drv.Add([]Buffer{{Addr: 0x800, Len: 1514}})
		seed := []byte{3, 0}
		if o.Indirect {
			drv.AddIndirect(0xc00, []Buffer{{Addr: 0x800, Len: 4}, {Addr: 0x810, Len: 4}, {Addr: 0x820, Len: 4, Writable: true}})
			seed[1] = 3
		}
		drv.Publish()
		f.Add(append(seed, mem[:0xc30]...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		size := uint16(1) << (data[0] % 6) // 1 to 32
		o := Options{EventIdx: data[1]&1 != 0, Indirect: data[1]&2 != 0}
		mem := newRAM(fuzzRAM)
		copy(mem, data[2:])
		dev, err := NewDeviceQueue(mem, fuzzLayout(size), o)
		if err != nil {
			t.Fatal(err)
		}
		lo := uintptr(unsafe.Pointer(&mem[0]))
		hi := lo + uintptr(len(mem))
		var c Chain
		for i := 0; i < 2*int(size)+2; i++ {
			ok, err := dev.Pop(&c)
			if err != nil {
				var ce *ChainError
				if !errors.As(err, &ce) && !errors.Is(err, ErrBroken) {
					t.Fatalf("undocumented error %v", err)
				}
				if ok {
					dev.Push(c.Head, 0)
				}
				continue
			}
			if !ok {
				break
			}
			if n := len(c.Readable) + len(c.Writable); n > int(size)+MaxIndirect {
				t.Fatalf("chain of %d buffers in a queue of %d", n, size)
			}
			for _, part := range [][][]byte{c.Readable, c.Writable} {
				for _, b := range part {
					if len(b) == 0 {
						continue
					}
					p := uintptr(unsafe.Pointer(&b[0]))
					if p < lo || p+uintptr(len(b)) > hi {
						t.Fatalf("buffer of %d bytes outside guest RAM", len(b))
					}
				}
			}
			c.Scatter(data, 0)
			dev.Push(c.Head, uint32(c.WritableLen()))
			dev.Publish()
		}
		dev.EnableNotify()
	})
}

const fuzzRAM = 0x1000

// fuzzLayout packs a queue of up to 32 entries into the first 1.5 KiB, so
// that short inputs reach every part of it.
func fuzzLayout(size uint16) Layout {
	return Layout{Size: size, Desc: 0, Avail: 0x200, Used: 0x400}
}
