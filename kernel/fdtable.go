package kernel

import (
	"sync"
	"sync/atomic"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// MaxFDs is the size of a process's file descriptor table.
const MaxFDs = 32

// openFile is an open file description: a File and the number of
// descriptors, in any process, that refer to it. fork and dup2 add
// descriptors to the same description, so they share its state (a file
// offset, a socket); the File is closed when the last descriptor goes, as
// POSIX says.
type openFile struct {
	File
	refs atomic.Int32
}

func (f *openFile) ref() *openFile { f.refs.Add(1); return f }

func (f *openFile) unref() error {
	if f.refs.Add(-1) == 0 {
		return f.File.Close()
	}
	return nil
}

// FDTable is a process's file descriptors: Aurora gives each process 32,
// and a new descriptor takes the lowest free slot.
type FDTable struct {
	mu    sync.Mutex
	files [MaxFDs]*openFile
}

// Get returns the file behind fd, or nil when fd is not open.
func (t *FDTable) Get(fd int) File {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || fd >= MaxFDs || t.files[fd] == nil {
		return nil
	}
	return t.files[fd].File
}

// Install opens a new description of f at the lowest free descriptor and
// returns it, or EMFILE when the table is full (f is then closed).
func (t *FDTable) Install(f File) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd, slot := range t.files {
		if slot == nil {
			of := &openFile{File: f}
			t.files[fd] = of.ref()
			return fd, nil
		}
	}
	f.Close()
	return -1, errno.EMFILE
}

// Close closes descriptor fd (EBADF if it was not open).
func (t *FDTable) Close(fd int) error {
	t.mu.Lock()
	if fd < 0 || fd >= MaxFDs || t.files[fd] == nil {
		t.mu.Unlock()
		return errno.EBADF
	}
	f := t.files[fd]
	t.files[fd] = nil
	t.mu.Unlock()
	f.unref()
	return nil
}

// Dup2 makes newfd refer to oldfd's description, closing what newfd
// referred to first (EBADF when either is not a valid descriptor).
func (t *FDTable) Dup2(oldfd, newfd int) error {
	t.mu.Lock()
	if oldfd < 0 || oldfd >= MaxFDs || newfd < 0 || newfd >= MaxFDs || t.files[oldfd] == nil {
		t.mu.Unlock()
		return errno.EBADF
	}
	if oldfd == newfd {
		t.mu.Unlock()
		return nil
	}
	old := t.files[newfd]
	t.files[newfd] = t.files[oldfd].ref()
	t.mu.Unlock()
	if old != nil {
		old.unref()
	}
	return nil
}

// Fork returns a copy of the table whose descriptors share this one's
// descriptions.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &FDTable{}
	for fd, f := range t.files {
		if f != nil {
			c.files[fd] = f.ref()
		}
	}
	return c
}

// CloseAll closes every descriptor, as the end of a process does.
func (t *FDTable) CloseAll() {
	for fd := range t.files {
		t.Close(fd)
	}
}
