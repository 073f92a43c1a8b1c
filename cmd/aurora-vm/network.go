package main

import (
	"fmt"
	"net/netip"
	"strings"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/pcap"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/tun"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/usernet"
	"github.com/aurora-vm/aurora-vm/kernel/net"
	"github.com/aurora-vm/aurora-vm/kernel/net/nic"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// netOptions are the run command's network flags.
type netOptions struct {
	mode     string   // --net: none, user[,outbound], tun[:NAME]
	forwards []string // -p HOSTPORT:GUESTPORT[/udp]
	maps     []string // --map GUESTIP:PORT=HOST:PORT
	pcap     string   // --pcap FILE
	faults   string   // --net-faults loss=5%,dup=1%,reorder=5%
}

// vmNetwork is the VM's NIC and what is behind it: a backend, the
// virtio-net device on it, and the kernel's driver for the device.
type vmNetwork struct {
	backend virtionet.Backend
	prefix  netip.Prefix // the guest's address on the NIC's subnet
	gateway netip.Addr
	mtu     int
	devCfg  virtionet.Config
	capture *pcap.Writer

	dev *virtionet.Device
	ep  *nic.Endpoint
}

// openNetwork opens the backend --net names, so that a host port in use or
// a TAP device that cannot be opened is reported before the program runs.
// It returns nil for --net none (loopback only).
func openNetwork(o netOptions) (*vmNetwork, error) {
	mode, opts, _ := strings.Cut(o.mode, ",")
	kind, name, _ := strings.Cut(mode, ":")
	if kind != "user" && (len(o.forwards) > 0 || len(o.maps) > 0) {
		return nil, fmt.Errorf("-p and --map need --net user")
	}
	faults, err := virtionet.ParseFaults(o.faults)
	if err != nil {
		return nil, fmt.Errorf("--net-faults: %v", err)
	}
	vn := &vmNetwork{devCfg: virtionet.Config{Faults: faults}}
	switch {
	case kind == "none" && name == "" && opts == "":
		return nil, nil
	case kind == "user" && name == "" && (opts == "" || opts == "outbound"):
		cfg := usernet.Config{Outbound: opts == "outbound"}
		for _, f := range o.forwards {
			fw, err := usernet.ParseForward(f)
			if err != nil {
				return nil, fmt.Errorf("-p %s: %v", f, err)
			}
			cfg.Forwards = append(cfg.Forwards, fw)
		}
		for _, m := range o.maps {
			mp, err := usernet.ParseMap(m)
			if err != nil {
				return nil, fmt.Errorf("--map %s: %v", m, err)
			}
			cfg.Maps = append(cfg.Maps, mp)
		}
		be, err := usernet.New(cfg)
		if err != nil {
			return nil, err
		}
		vn.backend, vn.prefix, vn.gateway, vn.mtu = be, usernet.Prefix, usernet.GatewayAddr, usernet.MTU
	case kind == "tun" && opts == "":
		be, err := tun.Open(name)
		if err != nil {
			return nil, err
		}
		vn.backend, vn.prefix, vn.gateway, vn.mtu = be, tun.Prefix, tun.HostAddr, be.MTU()
	default:
		return nil, fmt.Errorf("--net %q: want none, user, user,outbound, tun or tun:NAME", o.mode)
	}
	if o.pcap != "" {
		if vn.capture, err = pcap.Create(o.pcap); err != nil {
			vn.backend.Close()
			return nil, fmt.Errorf("--pcap: %v", err)
		}
		vn.devCfg.Capture = vn.capture
	}
	return vn, nil
}

// stack builds the device and its driver on guest RAM and a TCP/IP stack
// with the NIC attached: the kernel's Config.Network.
func (vn *vmNetwork) stack(phys *mmu.PhysMem) (*net.Stack, error) {
	if vn.mtu > 0 && vn.mtu < 65536 {
		vn.devCfg.MTU = uint16(vn.mtu)
	}
	dev, err := virtionet.New(phys, vn.backend, vn.devCfg)
	if err != nil {
		return nil, err
	}
	vn.dev = dev
	ep, err := nic.New(phys, dev, nic.Options{})
	if err != nil {
		return nil, err
	}
	vn.ep = ep
	st, err := net.New()
	if err != nil {
		return nil, err
	}
	if _, err := st.AttachNIC(ep, vn.prefix, vn.gateway); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// close stops the device, the backend and the capture, after the kernel
// has closed its stack.
func (vn *vmNetwork) close() {
	if vn == nil {
		return
	}
	if vn.ep != nil {
		vn.ep.Close()
	}
	if vn.dev != nil {
		vn.dev.Close() // closes the backend too
	} else {
		vn.backend.Close()
	}
	if vn.capture != nil {
		vn.capture.Close()
	}
}
