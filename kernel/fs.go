package kernel

import (
	"reflect"
	"sync"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/kernel/vfs"
)

// The file calls on paths (open, stat, mkdir, unlink) and on descriptors
// of files (fstat, lseek, getdents). The file system itself is package
// vfs's; here guest pointers are checked and guest strings read, and the
// file system's descriptions go into the fd table like any other File.

// DefaultTmpfsSize is the tmpfs quota when Config.TmpfsSize is 0.
const DefaultTmpfsSize = 64 << 20

// fileSystem is the machine's file system, built once and shared by every
// process.
type fileSystem struct {
	once sync.Once
	fs   *vfs.FS
	err  error
}

// VFS returns the machine's file system, building it on first use: the
// tmpfs, the devices (/dev/tty is the console) and Config.Mounts. An error
// names a mount that could not be made.
func (k *Kernel) VFS() (*vfs.FS, error) {
	k.fs.once.Do(func() {
		quota := k.cfg.TmpfsSize
		switch {
		case quota == 0:
			quota = DefaultTmpfsSize
		case quota < 0:
			quota = 0 // no bound
		}
		k.fs.fs, k.fs.err = vfs.New(vfs.Config{
			Quota:   quota,
			Mounts:  k.cfg.Mounts,
			Devices: map[string]vfs.Device{"tty": k.openTTY},
		})
	})
	return k.fs.fs, k.fs.err
}

// closeFS releases the mounted host directories with the machine.
func (k *Kernel) closeFS() {
	k.fs.once.Do(func() {}) // none made: none made from now on either
	if k.fs.fs != nil {
		k.fs.fs.Close()
	}
}

// ReadFile reads the whole regular file at path through the file system,
// mounts included, as execve loads a program: ENOENT when it is missing,
// EISDIR for a directory, EACCES for a device or anything else that is not
// a regular file, EFBIG when it is larger than limit bytes.
func (k *Kernel) ReadFile(path string, limit int64) ([]byte, error) {
	fs, err := k.VFS()
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(path, limit)
}

// openTTY opens the console as /dev/tty: the host's standard input, which
// every process shares, for reading, and its standard output for writing.
func (k *Kernel) openTTY(flags int) (vfs.File, error) {
	out := &console{w: k.cfg.Stdout}
	switch flags & vfs.O_ACCMODE {
	case vfs.O_RDONLY:
		return k.stdin, nil
	case vfs.O_WRONLY:
		return out, nil
	}
	return &tty{in: k.stdin, out: out}, nil
}

// tty is the console open for reading and writing.
type tty struct{ in, out *console }

func (t *tty) Read(b []byte, cancel <-chan struct{}) (int, error)  { return t.in.Read(b, cancel) }
func (t *tty) Write(b []byte, cancel <-chan struct{}) (int, error) { return t.out.Write(b, cancel) }
func (t *tty) Close() error                                        { return nil }
func (t *tty) StatMode() uint32                                    { return t.in.StatMode() }

// Readiness and the event calls implement Waitable: input as the shared
// console has it, output always.
func (t *tty) Readiness(mask waiter.EventMask) waiter.EventMask {
	return t.in.Readiness(mask&waiter.EventIn) | mask&waiter.EventOut
}
func (t *tty) EventRegister(e *waiter.Entry)   { t.in.EventRegister(e) }
func (t *tty) EventUnregister(e *waiter.Entry) { t.in.EventUnregister(e) }

// fs returns the file system for a call; it exists by the time programs
// run, so an error here is one the command line has reported already.
func (p *Process) fs() (*vfs.FS, error) {
	fs, err := p.k.VFS()
	if err != nil {
		return nil, errno.EIO
	}
	return fs, nil
}

// path reads the NUL-terminated path at guest address addr: EFAULT for a
// bad pointer, ENAMETOOLONG when no NUL ends it within vfs.PathMax bytes.
func (p *Process) path(addr uint64) (string, error) {
	s, err := p.as.ReadString(addr, vfs.PathMax-1)
	if err == nil {
		return s, nil
	}
	// Either the string runs into unmapped memory, or it is too long: it
	// is the latter when its first PathMax bytes are all readable.
	if p.as.ReadAt(make([]byte, vfs.PathMax), addr) == nil {
		return "", errno.ENAMETOOLONG
	}
	return "", errno.EFAULT
}

// fsPath reads the guest path at pathAddr and returns it with the file
// system it names a file in.
func (p *Process) fsPath(pathAddr uint64) (*vfs.FS, string, error) {
	path, err := p.path(pathAddr)
	if err != nil {
		return nil, "", err
	}
	fs, err := p.fs()
	return fs, path, err
}

// Open opens the file at the guest path pathAddr with open's flags and
// returns the new descriptor, the lowest free one. A full table is EMFILE
// before anything is looked up or created, as on Linux.
func (p *Process) Open(pathAddr uint64, flags int) (int, error) {
	path, err := p.path(pathAddr)
	if err != nil {
		return -1, err
	}
	if !p.freeFD() {
		return -1, errno.EMFILE
	}
	fs, err := p.fs()
	if err != nil {
		return -1, err
	}
	f, err := fs.Open(path, flags)
	if err != nil {
		return -1, err
	}
	return p.fds.Install(f)
}

// freeFD reports whether the fd table has a free slot.
func (p *Process) freeFD() bool {
	for fd := 0; fd < MaxFDs; fd++ {
		if p.fds.Get(fd) == nil {
			return true
		}
	}
	return false
}

// Stat stores the description of the file at the guest path pathAddr at
// guest address statAddr (struct stat).
func (p *Process) Stat(pathAddr, statAddr uint64) error {
	fs, path, err := p.fsPath(pathAddr)
	if err != nil {
		return err
	}
	st, err := fs.Stat(path)
	if err != nil {
		return err
	}
	return p.putStat(st, statAddr)
}

// Fstat stores the description of fd's file at guest address statAddr.
// Every kind of descriptor has one: files of the file system describe
// themselves; others give their type through StatMode, with size 0 and an
// inode number of their own.
func (p *Process) Fstat(fd int, statAddr uint64) error {
	f := p.file(fd)
	if f == nil {
		return errno.EBADF
	}
	st := vfs.Stat{Ino: anonIno(f), Nlink: 1}
	switch f := f.(type) {
	case vfs.Stater:
		var err error
		if st, err = f.Stat(); err != nil {
			return err
		}
	case interface{ StatMode() uint32 }:
		st.Mode = f.StatMode()
	}
	return p.putStat(st, statAddr)
}

func (p *Process) putStat(st vfs.Stat, addr uint64) error {
	if p.as.WriteAt(st.Encode(), addr) != nil {
		return errno.EFAULT
	}
	return nil
}

// anonIno numbers a file outside the file system (the console, a socket,
// a pipe) for fstat: its address, which Go's heap never moves, so the
// number is stable and unique while the file lives. The top bit keeps it
// apart from the file system's numbers.
func anonIno(f File) uint64 {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer {
		return 1 << 63
	}
	return 1<<63 | uint64(v.Pointer())>>3
}

// Lseek moves fd's offset and returns the new one: EINVAL for a bad whence
// or a negative result, ESPIPE for the console, sockets and pipes.
func (p *Process) Lseek(fd int, off int64, whence int) (int64, error) {
	f := p.file(fd)
	if f == nil {
		return -1, errno.EBADF
	}
	s, ok := f.(vfs.Seeker)
	if !ok {
		return -1, errno.ESPIPE
	}
	return s.Seek(off, whence)
}

// maxDirents bounds the buffer one getdents fills.
const maxDirents = 64 << 10

// Getdents fills up to n bytes at guest address buf with the directory
// entries of fd (an open directory) from its position, and returns the
// bytes filled: 0 at the end, EINVAL when n is too small for one entry,
// ENOTDIR when fd is not a directory.
func (p *Process) Getdents(fd int, buf, n uint64) (int64, error) {
	f := p.file(fd)
	if f == nil {
		return -1, errno.EBADF
	}
	d, ok := f.(vfs.DirReader)
	if !ok {
		return -1, errno.ENOTDIR
	}
	n = min(n, maxDirents)
	if err := p.as.Access(buf, n, true, func([]byte) {}); err != nil {
		return -1, errno.EFAULT
	}
	data := make([]byte, n)
	got, err := d.Getdents(data)
	if err != nil {
		return -1, err
	}
	if err := p.as.WriteAt(data[:got], buf); err != nil {
		return -1, errno.EFAULT
	}
	return int64(got), nil
}

// Mkdir makes a directory at the guest path pathAddr.
func (p *Process) Mkdir(pathAddr uint64) error {
	fs, path, err := p.fsPath(pathAddr)
	if err != nil {
		return err
	}
	return fs.Mkdir(path)
}

// Unlink removes the file named by the guest path pathAddr.
func (p *Process) Unlink(pathAddr uint64) error {
	fs, path, err := p.fsPath(pathAddr)
	if err != nil {
		return err
	}
	return fs.Unlink(path)
}
