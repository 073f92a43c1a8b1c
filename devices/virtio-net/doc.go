// Package virtionet will own the virtio-net device: split virtqueues in
// guest memory, the receive and transmit paths with their net header, and
// the backends frames leave through (a host TUN device, a user-mode NAT with
// port forwards, or nothing). The kernel's TCP/IP stack is its only driver.
//
// It is empty until the networking work lands; the directory exists so the
// layout is in place for it.
package virtionet
