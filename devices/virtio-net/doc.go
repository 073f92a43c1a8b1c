// Package virtionet owns the virtio-net device (virtio 1.x, section 5.1):
// feature negotiation, the configuration space with the MAC address, one
// receive and one transmit queue, the virtio_net_hdr in front of every
// frame, and the Backend frames leave through (backends live in
// subpackages: a host TUN device, a user-mode NAT). The queues themselves
// are package virtq's; captures are package pcap's.
//
// The device sees the driver only through guest memory and two
// doorbells, as hardware would: the driver kicks a queue with Notify and
// the device interrupts the driver through the callback it registered.
// The kernel's NIC driver (kernel/net/nic) is the one driver; it sets the
// device up the way a PCI or MMIO transport would, in-process.
//
// Transmit work runs in the kicking goroutine, so a frame reaches the
// backend without a goroutine switch; receive work runs in one goroutine
// per device that waits on the backend, and raises the driver's interrupt
// from there. Neither blocks on the driver for long: frames for a driver
// that posts no receive buffers wait in a small backlog, then in the
// backend's own queue for a moment, and are then dropped and counted.
//
// Offloads (checksum, TSO) are offered only when the backend takes them,
// and frames are checked against what was negotiated before a backend
// sees them. Optional fault injection (loss, duplication, reordering) and
// a pcap capture sit at the device, where every frame passes.
package virtionet
