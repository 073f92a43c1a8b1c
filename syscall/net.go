package syscall

import (
	"encoding/binary"
	"time"

	"github.com/aurora-vm/aurora-vm/kernel"
	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/net"
)

// netCalls are the socket calls: Aurora's (socket to accept) and
// aurora-vm's extensions (sendto and up).
var netCalls = map[int]handler{
	SysSocket: func(p *kernel.Process, a Args) (uint64, error) {
		fd, err := p.Socket(signed(a[1]))
		return uint64(fd), err
	},
	SysBind: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Bind(fd(a[0]), uint16(a[1]))
	},
	SysListen: func(p *kernel.Process, a Args) (uint64, error) { return 0, p.Listen(fd(a[0])) },
	SysAccept: func(p *kernel.Process, a Args) (uint64, error) {
		conn, err := p.Accept(fd(a[0]))
		return uint64(conn), err
	},
	SysConnect: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Connect(fd(a[0]), ipv4(a[1]), uint16(a[2]))
	},
	SysSend: func(p *kernel.Process, a Args) (uint64, error) {
		n, err := p.SendTo(fd(a[0]), a[1], a[2], nil)
		return uint64(n), err
	},
	SysRecv: func(p *kernel.Process, a Args) (uint64, error) {
		n, _, err := p.RecvFrom(fd(a[0]), a[1], a[2])
		return uint64(n), err
	},
	SysSendto: func(p *kernel.Process, a Args) (uint64, error) {
		to := net.Addr{IP: ipv4(a[3]), Port: uint16(a[4])}
		n, err := p.SendTo(fd(a[0]), a[1], a[2], &to)
		return uint64(n), err
	},
	SysRecvfrom: func(p *kernel.Process, a Args) (uint64, error) {
		if err := checkAddrOut(p, a[3], a[4]); err != nil {
			return 0, err
		}
		n, from, err := p.RecvFrom(fd(a[0]), a[1], a[2])
		if err != nil {
			return 0, err
		}
		return uint64(n), putAddr(p, from, a[3], a[4])
	},
	SysGetpeername: func(p *kernel.Process, a Args) (uint64, error) { return sockAddr(p, a, true) },
	SysGetsockname: func(p *kernel.Process, a Args) (uint64, error) { return sockAddr(p, a, false) },
	SysShutdown: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.Shutdown(fd(a[0]), signed(a[1]))
	},
	SysSetnonblock: func(p *kernel.Process, a Args) (uint64, error) {
		return 0, p.SetNonblocking(fd(a[0]), signed(a[1]) != 0)
	},
	SysSettimeout: func(p *kernel.Process, a Args) (uint64, error) {
		d := time.Duration(min(a[2], 1<<40)) * time.Millisecond
		return 0, p.SetTimeout(fd(a[0]), signed(a[1]), d)
	},
	SysPoll: poll,
}

// ipv4 reads the address word as the docs' IP() builds it: network byte
// order in memory, so its first byte is the lowest.
func ipv4(v uint64) [4]byte { return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// checkAddrOut checks the optional address and port pointers a call fills.
func checkAddrOut(p *kernel.Process, addr, port uint64) error {
	for _, o := range []struct{ va, n uint64 }{{addr, 4}, {port, 2}} {
		if o.va != 0 && p.Memory().Access(o.va, o.n, true, func([]byte) {}) != nil {
			return errno.EFAULT
		}
	}
	return nil
}

// putAddr stores an address (network order, as IP() builds it) and a port
// (host order) where the program asked, skipping NULL pointers.
func putAddr(p *kernel.Process, a net.Addr, addr, port uint64) error {
	if addr != 0 && p.Memory().WriteAt(a.IP[:], addr) != nil {
		return errno.EFAULT
	}
	if port != 0 && p.Memory().WriteAt(binary.LittleEndian.AppendUint16(nil, a.Port), port) != nil {
		return errno.EFAULT
	}
	return nil
}

func sockAddr(p *kernel.Process, a Args, peer bool) (uint64, error) {
	if err := checkAddrOut(p, a[1], a[2]); err != nil {
		return 0, err
	}
	addr, err := p.SocketAddr(fd(a[0]), peer)
	if err != nil {
		return 0, err
	}
	return 0, putAddr(p, addr, a[1], a[2])
}

// maxPollFDs bounds poll's array as Linux bounds it by the fd limit; with
// 32 descriptors, more entries can only repeat them.
const maxPollFDs = 1024

// poll reads the pollfd array, waits, and writes the revents back.
func poll(p *kernel.Process, a Args) (uint64, error) {
	n := signed(a[1])
	if n < 0 || n > maxPollFDs {
		return 0, errno.EINVAL
	}
	raw := make([]byte, 8*n) // struct pollfd: int fd; short events, revents
	if n > 0 && p.Memory().ReadAt(raw, a[0]) != nil {
		return 0, errno.EFAULT
	}
	fds := make([]kernel.PollFD, n)
	for i := range fds {
		e := raw[8*i:]
		fds[i] = kernel.PollFD{FD: int32(binary.LittleEndian.Uint32(e)), Events: int16(binary.LittleEndian.Uint16(e[4:]))}
	}
	timeout := time.Duration(signed(a[2])) * time.Millisecond
	if signed(a[2]) < 0 {
		timeout = -1
	}
	ready, err := p.Poll(fds, timeout)
	if err != nil {
		return 0, err
	}
	for i, f := range fds {
		binary.LittleEndian.PutUint16(raw[8*i+6:], uint16(f.Revents))
	}
	if n > 0 && p.Memory().WriteAt(raw, a[0]) != nil {
		return 0, errno.EFAULT
	}
	return uint64(ready), nil
}
