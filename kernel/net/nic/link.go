package nic

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The rest of stack.LinkEndpoint: an Ethernet link.

// MTU is the largest IP packet the link carries.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU lowers the MTU (it never rises above what the buffers hold).
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(min(mtu, maxMTU)) }

// MaxHeaderLength is the Ethernet header's length.
func (*Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress is the device's MAC address.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress { return e.mac }

// SetLinkAddress is not supported: the address is the device's.
func (*Endpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities: neighbours are resolved with ARP.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}

// Attach starts delivering received frames to dispatcher (nil: stop).
func (e *Endpoint) Attach(dispatcher stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = dispatcher
	e.mu.Unlock()
}

// IsAttached reports whether a dispatcher is attached.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait returns at once: the driver has no goroutine of its own.
func (*Endpoint) Wait() {}

// GSOMaxSize is the largest TCP segment the stack may hand over whole.
func (e *Endpoint) GSOMaxSize() uint32 {
	if e.tso {
		return gsoMaxSize
	}
	return 0
}

// SupportedGSO says whether large segments go to the device whole (the
// device, or what is behind it, cuts them): only when TSO was negotiated.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.tso {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

// ARPHardwareType is Ethernet's.
func (*Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader puts the Ethernet header in front of an outgoing packet.
func (*Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader takes the Ethernet header off an incoming packet.
func (*Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// SetOnCloseAction registers what Close runs first.
func (e *Endpoint) SetOnCloseAction(fn func()) {
	e.mu.Lock()
	e.onClose = fn
	e.mu.Unlock()
}

// Close stops the driver: no more writes or receive interrupts, the
// device reset so that it lets go of guest memory, and every frame the
// driver allocated freed. The device itself stays open; its owner
// closes it.
func (e *Endpoint) Close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		fn := e.onClose
		e.mu.Unlock()
		if fn != nil {
			fn()
		}
		e.tx.mu.Lock()
		e.tx.closed = true
		e.tx.mu.Unlock()
		// Wait for a receive interrupt being handled; later ones return.
		e.rx.mu.Lock()
		e.rx.closed = true
		e.rx.mu.Unlock()
		e.dev.Reset()
		e.freeMemory()
		e.rx.buf.Release()
	})
}
