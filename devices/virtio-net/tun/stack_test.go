package tun

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// A gVisor stack stands in for the VM's kernel at GuestAddr, its frames
// pumped through the backend, so that real TCP crosses the TAP between it
// and the namespace's kernel.
func guestStack(tb testing.TB, b *Backend) *stack.Stack {
	tb.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	link := channel.New(1024, 1500+header.EthernetMinimumSize, tcpip.LinkAddress(string(guestMAC)))
	if err := s.CreateNIC(1, ethernet.New(link)); err != nil {
		tb.Fatal(err)
	}
	addr := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(GuestAddr.As4()), PrefixLen: Prefix.Bits()},
	}
	if err := s.AddProtocolAddress(1, addr, stack.AddressProperties{}); err != nil {
		tb.Fatal(err)
	}
	subnet, _ := tcpip.NewSubnet(tcpip.AddrFrom4(Prefix.Masked().Addr().As4()), tcpip.MaskFromBytes(Netmask.AsSlice()))
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: 1}})

	ctx, cancel := context.WithCancel(context.Background())
	out, in := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(out)
		frame := make([]byte, 65536)
		for {
			pkt := link.ReadContext(ctx)
			if pkt == nil {
				return
			}
			n := 0
			for _, v := range pkt.AsSlices() {
				n += copy(frame[n:], v)
			}
			pkt.DecRef()
			if err := b.Send(virtionet.NetHdr{}, frame[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(in)
		buf := make([]byte, 65536)
		for {
			_, n, err := b.Receive(buf)
			if err != nil {
				return
			}
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
			link.InjectInbound(0, pkt)
			pkt.DecRef()
		}
	}()
	tb.Cleanup(func() {
		b.Close()
		<-in
		cancel()
		<-out
		s.Destroy()
	})
	return s
}

// TCP both ways between the namespace's kernel and the stack behind the
// TAP: a megabyte echoed intact, and FINs delivered.
func TestTCPThroughTAP(t *testing.T) {
	needTAP(t)
	ns := newNetns(t)
	b := openIn(t, ns, "")
	s := guestStack(t, b)

	// Host client to a guest echo server.
	ln, err := gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Port: 7}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*gonet.TCPConn).CloseWrite()
			}()
		}
	}()
	var c net.Conn
	inNetns(t, ns, func() { c, err = net.DialTimeout("tcp", fmt.Sprintf("%v:7", GuestAddr), 10*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(data)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo through the TAP: %d of %d bytes intact, %v", len(got), len(data), err)
	}

	// Guest client to a host server in the namespace.
	var hl net.Listener
	inNetns(t, ns, func() { hl, err = net.Listen("tcp", HostAddr.String()+":0") })
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		c, err := hl.Accept()
		if err == nil {
			fmt.Fprintf(c, "hello %s", c.RemoteAddr())
			c.Close()
		}
	}()
	gc, err := gonet.DialTCP(s, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(HostAddr.As4()), Port: uint16(hl.Addr().(*net.TCPAddr).Port)}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	gc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(gc); err != nil || !bytes.HasPrefix(got, []byte("hello "+GuestAddr.String()+":")) {
		t.Fatalf("guest read %q, %v", got, err)
	}
}

// Bulk TCP through the TAP, 64 KB per operation, with the stand-in stack
// on the guest side (its own cost included).
func BenchmarkTAP(b *testing.B) {
	b.Run("host-to-guest", func(b *testing.B) { benchTAP(b, true) })
	b.Run("guest-to-host", func(b *testing.B) { benchTAP(b, false) })
}

func benchTAP(b *testing.B, hostSends bool) {
	needTAP(b)
	ns := newNetns(b)
	be := openIn(b, ns, "")
	s := guestStack(b, be)
	var gconn, hconn net.Conn
	ln, err := gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Port: 5001}, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	inNetns(b, ns, func() { hconn, err = net.DialTimeout("tcp", fmt.Sprintf("%v:5001", GuestAddr), 10*time.Second) })
	if err != nil {
		b.Fatal(err)
	}
	defer hconn.Close()
	if gconn = <-accepted; gconn == nil {
		b.Fatal("no connection")
	}
	defer gconn.Close()
	src, dst := hconn, gconn
	if !hostSends {
		src, dst = gconn, hconn
	}
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, dst)
		done <- n
	}()
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := src.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	src.(interface{ CloseWrite() error }).CloseWrite()
	if n := <-done; n != int64(b.N)*chunk {
		b.Fatalf("%d bytes arrived, want %d", n, int64(b.N)*chunk)
	}
}
