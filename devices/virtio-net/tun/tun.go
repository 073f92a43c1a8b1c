// Package tun is the virtio-net backend that bridges the VM's NIC to a host
// TAP device (opened through github.com/songgao/water), so that host
// programs reach the guest as a machine on a small point-to-point Ethernet
// segment, and the guest reaches the host.
//
// # TAP, not TUN
//
// The device moves Ethernet frames, and a TAP device carries exactly those:
// every frame the guest's driver posts is written to the TAP unchanged, and
// every frame the host kernel sends out of the TAP goes to the guest
// unchanged. ARP is therefore done by the two real stacks between
// themselves, MAC addresses are real, and a capture on either side shows
// the same frames. A TUN device carries bare IP packets: this backend would
// have to strip and forge Ethernet headers and answer ARP on behalf of the
// host, a second, partial link layer that could only drift from the real
// one.
//
// # Offloads
//
// Features is 0. Checksum and segmentation offload on a TAP need the
// IFF_VNET_HDR flag at TUNSETIFF time (and TUNSETOFFLOAD afterwards); water
// fixes the TUNSETIFF flags itself and offers no way to add that one, and
// the flag cannot be set once the file is attached. Frames therefore cross
// complete: the guest fills in its checksums and cuts its segments, and the
// host kernel hands the TAP complete frames.
//
// # Addresses
//
// The guest has a static address on a /24 of its own, GuestAddr (with
// Netmask), and the host side of the TAP is HostAddr, which is also the
// guest's gateway. The CLI configures the kernel's NIC with them; the host
// side is configured by whoever owns the device, e.g. as root:
//
//	ip tuntap add dev aurora0 mode tap user $USER   # once, so aurora-vm needs no root
//	ip addr add 10.76.0.1/24 dev aurora0
//	ip link set aurora0 up
//	aurora-vm run --net tun:aurora0 echo.elf        # the guest is 10.76.0.2
//
// Opening a device made that way needs only read and write access to
// /dev/net/tun (mode 0666 on most distributions). Without a name
// (--net tun) a device is created for the run (this needs CAP_NET_ADMIN),
// named by the kernel (Name tells which, for the host-side commands) and
// gone when the run ends. The guest's MTU is the device's (MTU, normally
// 1500). To let the guest reach beyond the host, enable forwarding and
// masquerading on the host as for any VM.
package tun

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/songgao/water"

	virtionet "github.com/aurora-vm/aurora-vm/devices/virtio-net"
)

// The guest's static address on the TAP's segment. 10.76.0.0/24 is an
// arbitrary private /24 chosen to be unlikely to collide with the networks
// (Docker's 172.17/16, home 192.168.x, QEMU's 10.0.2/24) a host already has.
var (
	GuestAddr = netip.MustParseAddr("10.76.0.2")
	HostAddr  = netip.MustParseAddr("10.76.0.1") // the host side of the TAP, and the guest's gateway
	Netmask   = netip.MustParseAddr("255.255.255.0")
	Prefix    = netip.PrefixFrom(GuestAddr, 24) // GuestAddr with its netmask
)

// maxNameLen is IFNAMSIZ less the terminating NUL.
const maxNameLen = 15

// Backend is one open TAP device.
type Backend struct {
	ifce   *water.Interface
	closed atomic.Bool
}

var _ virtionet.Backend = (*Backend)(nil)

// Open opens the TAP device called name, creating it if it does not exist
// (which needs CAP_NET_ADMIN); with name "" the kernel picks a name
// (tap0, tap1, ...). A device created here goes away when the Backend is
// closed; one that existed before (ip tuntap add) stays. Every error is one
// line that says what to do.
func Open(name string) (*Backend, error) {
	if len(name) > maxNameLen {
		return nil, fmt.Errorf("tun: device name %q is longer than %d bytes", name, maxNameLen)
	}
	cfg := water.Config{DeviceType: water.TAP}
	cfg.Name = name
	// water always issues TUNSETPERSIST with its Persist field, so attaching
	// to a device made persistent by `ip tuntap add` with Persist false would
	// quietly delete that device when we close it. Keep such a device's
	// persistence as it was.
	if name != "" {
		if _, err := net.InterfaceByName(name); err == nil {
			cfg.Persist = true
		}
	}
	ifce, err := water.New(cfg)
	if err != nil {
		return nil, openError(name, err)
	}
	return &Backend{ifce: ifce}, nil
}

// openError turns what water returns (a bare errno from opening
// /dev/net/tun, an *os.SyscallError from its ioctls) into one line for a
// person.
func openError(name string, err error) error {
	dev := "a TAP device"
	if name != "" {
		dev = "TAP device " + name
	}
	var sce *os.SyscallError
	if !errors.As(err, &sce) || sce.Syscall != "ioctl" {
		// Opening /dev/net/tun itself.
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
			return fmt.Errorf("tun: /dev/net/tun is missing: this host has no TUN/TAP support (use --net user)")
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("tun: no permission to open /dev/net/tun (run as root, or use --net user)")
		}
		return fmt.Errorf("tun: opening /dev/net/tun: %v", err)
	}
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		if name == "" {
			return fmt.Errorf("tun: creating a TAP device needs root or CAP_NET_ADMIN (or create one once as root with `ip tuntap add dev NAME mode tap user $USER` and use --net tun:NAME)")
		}
		return fmt.Errorf("tun: no permission to open %s: it needs root or CAP_NET_ADMIN, or a device created for you with `ip tuntap add dev %s mode tap user $USER`", dev, name)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("tun: %s is already in use by another program", dev)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("tun: %q exists and is not a TAP device (a TUN device or another kind of interface)", name)
	}
	return fmt.Errorf("tun: opening %s: %v", dev, err)
}

// Name is the device's name on the host.
func (b *Backend) Name() string { return b.ifce.Name() }

// MTU is the device's MTU on the host (the largest IP packet a frame
// carries), or 1500 if it cannot be read.
func (b *Backend) MTU() int {
	if ifi, err := net.InterfaceByName(b.ifce.Name()); err == nil && ifi.MTU > 0 {
		return ifi.MTU
	}
	return 1500
}

// Features is 0: see the package documentation.
func (b *Backend) Features() uint64 { return 0 }

// Send writes one frame to the TAP device. A frame sent while the host has
// the device down is dropped, as a NIC's frames are with no cable.
func (b *Backend) Send(hdr virtionet.NetHdr, frame []byte) error {
	if b.closed.Load() {
		return b.closedErr()
	}
	if hdr.GSOType != virtionet.GSONone || hdr.Flags&virtionet.NetHdrFNeedsCsum != 0 {
		// The device offers the driver no offload this backend lacks, so
		// such a frame is a device bug; a real link must not see it.
		return fmt.Errorf("tun: a frame with offload state (flags %#x, GSO type %d) was sent, but this backend offers no offloads", hdr.Flags, hdr.GSOType)
	}
	_, err := b.ifce.Write(frame)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EIO):
		return nil // the host side is down
	case b.closed.Load() || errors.Is(err, os.ErrClosed):
		return b.closedErr()
	}
	return fmt.Errorf("tun: writing to %s: %v", b.Name(), err)
}

// Receive blocks until the host sends a frame out of the TAP device and
// copies it into buf, which must hold an MTU-sized frame (MTU()+14 bytes).
// Frames from the host are always complete, so the header is all zeros.
func (b *Backend) Receive(buf []byte) (virtionet.NetHdr, int, error) {
	for {
		n, err := b.ifce.Read(buf)
		switch {
		case err == nil:
			if n == 0 {
				continue
			}
			return virtionet.NetHdr{}, n, nil
		case b.closed.Load() || errors.Is(err, os.ErrClosed):
			return virtionet.NetHdr{}, 0, b.closedErr()
		case errors.Is(err, syscall.EFAULT), errors.Is(err, syscall.EINVAL):
			// The kernel refuses a read into a buffer shorter than the
			// frame; that frame is gone.
			return virtionet.NetHdr{}, 0, fmt.Errorf("tun: a frame from %s was longer than the %d-byte buffer", b.Name(), len(buf))
		}
		return virtionet.NetHdr{}, 0, fmt.Errorf("tun: reading from %s: %v", b.Name(), err)
	}
}

// Close closes the device; a blocked Receive returns an error. A device
// Open created goes away.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	return b.ifce.Close()
}

func (b *Backend) closedErr() error {
	return fmt.Errorf("tun: %s: %w", b.Name(), net.ErrClosed)
}
