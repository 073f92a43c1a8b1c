package kernel

import (
	"io"
)

// File is an open file description: what a file descriptor refers to.
type File interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// console is one of the host's standard streams.
type console struct {
	r io.Reader
	w io.Writer
}

func (c *console) Read(b []byte) (int, error) {
	if c.r == nil {
		return 0, errNotReadable
	}
	n, err := c.r.Read(b)
	if err == io.EOF {
		return n, nil
	}
	return n, err
}

func (c *console) Write(b []byte) (int, error) {
	if c.w == nil {
		return 0, errNotWritable
	}
	return c.w.Write(b)
}

func (c *console) Close() error { return nil }

type kernelError string

func (e kernelError) Error() string { return string(e) }

const (
	errNotReadable = kernelError("not open for reading")
	errNotWritable = kernelError("not open for writing")
)

// maxIO bounds the bytes one read or write moves, so a huge length cannot
// make the host allocate without limit; callers see a short count.
const maxIO = 1 << 20

// Write writes n bytes at guest address buf to fd.
func (p *Process) Write(fd int, buf, n uint64) int64 {
	f := p.file(fd)
	if f == nil {
		return -1
	}
	n = min(n, maxIO)
	data := make([]byte, n)
	if err := p.as.ReadAt(data, buf); err != nil {
		return -1
	}
	written, err := f.Write(data)
	if err != nil && written == 0 {
		return -1
	}
	return int64(written)
}

// Read reads up to n bytes from fd into guest address buf.
func (p *Process) Read(fd int, buf, n uint64) int64 {
	f := p.file(fd)
	if f == nil {
		return -1
	}
	n = min(n, maxIO)
	// Check the destination before blocking, so a bad pointer fails at once
	// and no input is consumed for it.
	if err := p.as.Access(buf, n, true, func([]byte) {}); err != nil {
		return -1
	}
	data := make([]byte, n)
	got, err := f.Read(data)
	if err != nil && got == 0 {
		return -1
	}
	if err := p.as.WriteAt(data[:got], buf); err != nil {
		return -1
	}
	return int64(got)
}

func (p *Process) file(fd int) File {
	if fd < 0 || fd >= MaxFDs {
		return nil
	}
	return p.fds[fd]
}
