package vfs

import (
	"math"
	"sync"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// regularFile is an open description of a tmpfs regular file. Its one
// offset is shared by every descriptor referring to the description (after
// fork or dup2), hence the lock.
type regularFile struct {
	fs *FS
	n  *node

	readable, writable, appending bool

	mu     sync.Mutex
	off    int64
	closed bool
}

// Read implements File.
func (f *regularFile) Read(b []byte, _ <-chan struct{}) (int, error) {
	if !f.readable {
		return 0, errno.EBADF
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n.data.readAt(b, f.off)
	f.off += int64(n)
	return n, nil
}

// Write implements File; with O_APPEND every write goes to the end.
func (f *regularFile) Write(b []byte, _ <-chan struct{}) (int, error) {
	if !f.writable {
		return 0, errno.EBADF
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	start, n, err := f.n.data.writeAt(b, f.off, f.appending)
	f.off = start + int64(n)
	return n, err
}

// Seek implements Seeker. Seeking past the end is allowed; a write there
// leaves a hole that reads as zeros.
func (f *regularFile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos, err := seekPos(f.off, f.n.data.length(), off, whence)
	if err != nil {
		return -1, err
	}
	f.off = pos
	return pos, nil
}

// seekPos is the offset lseek moves to from cur in a file of size bytes:
// EINVAL for a bad whence, a negative result or one that overflows.
func seekPos(cur, size, off int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case SeekSet:
	case SeekCur:
		base = cur
	case SeekEnd:
		base = size
	default:
		return -1, errno.EINVAL
	}
	if off > 0 && base > math.MaxInt64-off {
		return -1, errno.EINVAL
	}
	if pos := base + off; pos >= 0 {
		return pos, nil
	}
	return -1, errno.EINVAL
}

// Stat implements Stater.
func (f *regularFile) Stat() (Stat, error) {
	return Stat{Ino: f.n.ino, Mode: f.n.mode, Nlink: f.n.data.nlink(), Size: f.n.data.length()}, nil
}

// Close implements File.
func (f *regularFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.n.data.close()
	}
	return nil
}
