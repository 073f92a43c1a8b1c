package kernel

import (
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/net"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
)

// The socket calls. A socket is a File in the fd table like any other, so
// read and write work on it, fork shares it, and it closes with its last
// descriptor; the network itself is package net's.

// socketFile is an open socket.
type socketFile struct {
	s *net.Socket
}

func (f *socketFile) Read(b []byte, cancel <-chan struct{}) (int, error) {
	n, _, err := f.s.Recv(b, cancel)
	return n, err
}

func (f *socketFile) Write(b []byte, cancel <-chan struct{}) (int, error) {
	return f.s.Send(b, nil, cancel)
}

func (f *socketFile) Close() error { return f.s.Close() }

// StatMode gives fstat a socket's type.
func (f *socketFile) StatMode() uint32 { return vfs.S_IFSOCK | 0o777 }

func (f *socketFile) Readiness(mask waiter.EventMask) waiter.EventMask {
	return f.s.Readiness(mask)
}
func (f *socketFile) EventRegister(e *waiter.Entry)   { f.s.EventRegister(e) }
func (f *socketFile) EventUnregister(e *waiter.Entry) { f.s.EventUnregister(e) }

// network is the kernel's TCP/IP stack, made when a program first asks for
// a socket so that programs without one start no faster for it.
type network struct {
	once  sync.Once
	stack *net.Stack
	err   error
}

// Net returns the machine's TCP/IP stack.
func (k *Kernel) Net() (*net.Stack, error) {
	k.net.once.Do(func() {
		newStack := net.New
		if k.cfg.Network != nil {
			newStack = k.cfg.Network
		}
		k.net.stack, k.net.err = newStack()
	})
	return k.net.stack, k.net.err
}

// closeNet shuts the stack down with the machine.
func (k *Kernel) closeNet() {
	k.net.once.Do(func() {}) // none made: none made from now on either
	if k.net.stack != nil {
		k.net.stack.Close()
	}
}

// sock returns the socket behind fd.
func (p *Process) sock(fd int) (*net.Socket, error) {
	f := p.file(fd)
	if f == nil {
		return nil, errno.EBADF
	}
	s, ok := f.(*socketFile)
	if !ok {
		return nil, errno.ENOTSOCK
	}
	return s.s, nil
}

// Socket creates a socket: UDP for SOCK_DGRAM, TCP for anything else (the
// domain and protocol are ignored, as Aurora ignores them).
func (p *Process) Socket(sockType int) (int, error) {
	st, err := p.k.Net()
	if err != nil {
		return -1, err
	}
	s, err := st.NewSocket(sockType == sockDgram)
	if err != nil {
		return -1, err
	}
	return p.fds.Install(&socketFile{s})
}

const sockDgram = 2

// Bind binds fd to port on every address (0.0.0.0), as Aurora's bind does.
func (p *Process) Bind(fd int, port uint16) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	return s.Bind(port)
}

// Listen makes a bound socket accept connections.
func (p *Process) Listen(fd int) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	return s.Listen()
}

// Accept waits for a connection and installs it as a new descriptor.
func (p *Process) Accept(fd int) (int, error) {
	s, err := p.sock(fd)
	if err != nil {
		return -1, err
	}
	conn, _, err := s.Accept(p.Interrupted())
	if err != nil {
		return -1, err
	}
	return p.fds.Install(&socketFile{conn})
}

// Connect connects fd to addr:port.
func (p *Process) Connect(fd int, addr [4]byte, port uint16) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	return s.Connect(net.Addr{IP: addr, Port: port}, p.Interrupted())
}

// SendTo sends the n bytes at guest address buf on fd, to addr:port for a
// UDP socket when to is set. A connection the peer has reset raises
// SIGPIPE (see fileError).
func (p *Process) SendTo(fd int, buf, n uint64, to *net.Addr) (int64, error) {
	s, err := p.sock(fd)
	if err != nil {
		return -1, err
	}
	data := p.ioBuffer(n)
	if p.as.ReadAt(data, buf) != nil {
		return -1, errno.EFAULT
	}
	sent, err := s.Send(data, to, p.Interrupted())
	if err != nil {
		return -1, p.fileError(err)
	}
	return int64(sent), nil
}

// RecvFrom receives up to n bytes from fd into guest address buf and
// reports the sender.
func (p *Process) RecvFrom(fd int, buf, n uint64) (int64, net.Addr, error) {
	s, err := p.sock(fd)
	if err != nil {
		return -1, net.Addr{}, err
	}
	n = min(n, maxIO)
	if p.as.Access(buf, n, true, func([]byte) {}) != nil {
		return -1, net.Addr{}, errno.EFAULT
	}
	data := p.ioBuffer(n)
	got, from, err := s.Recv(data, p.Interrupted())
	if err != nil {
		return -1, net.Addr{}, err
	}
	if p.as.WriteAt(data[:got], buf) != nil {
		return -1, net.Addr{}, errno.EFAULT
	}
	return int64(got), from, nil
}

// SocketAddr returns fd's own address, or its peer's.
func (p *Process) SocketAddr(fd int, peer bool) (net.Addr, error) {
	s, err := p.sock(fd)
	if err != nil {
		return net.Addr{}, err
	}
	if peer {
		return s.PeerAddr()
	}
	return s.LocalAddr()
}

// Shutdown ends one or both directions of fd's connection.
func (p *Process) Shutdown(fd, how int) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	return s.Shutdown(how)
}

// SetNonblocking switches fd's non-blocking mode.
func (p *Process) SetNonblocking(fd int, on bool) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	s.SetNonblocking(on)
	return nil
}

// SetTimeout bounds fd's receives (which 0) or sends (which 1).
func (p *Process) SetTimeout(fd, which int, d time.Duration) error {
	s, err := p.sock(fd)
	if err != nil {
		return err
	}
	if which != 0 && which != 1 {
		return errno.EINVAL
	}
	s.SetTimeout(which == 1, d)
	return nil
}
