package vfs

import (
	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// Open opens path with open's flags (O_RDONLY, O_WRONLY or O_RDWR, and
// O_CREAT, O_EXCL, O_TRUNC, O_APPEND). A directory opens read-only, for
// getdents (EISDIR for writing); O_CREAT makes a missing regular file,
// and with O_EXCL fails with EEXIST when the path exists.
func (fs *FS) Open(path string, flags int) (File, error) {
	acc := flags & O_ACCMODE
	if acc == O_ACCMODE {
		return nil, errno.EINVAL
	}
	creating := flags&O_CREAT != 0
	fs.mu.Lock()
	loc, err := fs.resolve(path)
	if err != nil {
		fs.mu.Unlock()
		return nil, err
	}
	if loc.host != nil {
		fs.mu.Unlock()
		return loc.host.open(loc.rel, flags, loc.dirOnly)
	}
	n := loc.n
	switch {
	case n == nil && !creating:
		fs.mu.Unlock()
		return nil, errno.ENOENT
	case n == nil && loc.dirOnly:
		fs.mu.Unlock()
		return nil, errno.EISDIR
	case n == nil:
		n = fs.newFile()
		loc.parent.children[loc.name] = n
	case creating && flags&O_EXCL != 0:
		fs.mu.Unlock()
		return nil, errno.EEXIST
	case loc.dirOnly && !n.isDir():
		fs.mu.Unlock()
		return nil, errno.ENOTDIR
	}
	if n.data != nil {
		// Counted as open before the tree is unlocked, so an unlink
		// racing with this open cannot free the data under it.
		n.data.open()
	}
	fs.mu.Unlock()

	switch {
	case n.isDir():
		if acc != O_RDONLY || creating || flags&O_TRUNC != 0 {
			return nil, errno.EISDIR
		}
		return fs.openDir(n), nil
	case n.dev != nil:
		return n.dev(flags)
	}
	if flags&O_TRUNC != 0 {
		n.data.truncate()
	}
	return &regularFile{
		fs: fs, n: n,
		readable:  acc != O_WRONLY,
		writable:  acc != O_RDONLY,
		appending: flags&O_APPEND != 0,
	}, nil
}

// Stat describes the file at path, following it into mounts.
func (fs *FS) Stat(path string) (Stat, error) {
	fs.mu.Lock()
	loc, err := fs.resolve(path)
	if err != nil {
		fs.mu.Unlock()
		return Stat{}, err
	}
	if loc.host != nil {
		fs.mu.Unlock()
		return loc.host.stat(loc.rel, loc.dirOnly)
	}
	defer fs.mu.Unlock()
	switch {
	case loc.n == nil:
		return Stat{}, errno.ENOENT
	case loc.dirOnly && !loc.n.isDir():
		return Stat{}, errno.ENOTDIR
	}
	return fs.statLocked(loc.n), nil
}

// Mkdir makes a directory at path (EEXIST when something is there).
func (fs *FS) Mkdir(path string) error {
	fs.mu.Lock()
	loc, err := fs.resolve(path)
	if err != nil {
		fs.mu.Unlock()
		return err
	}
	if loc.host != nil {
		fs.mu.Unlock()
		return loc.host.mkdir(loc.rel)
	}
	defer fs.mu.Unlock()
	if loc.n != nil {
		return errno.EEXIST
	}
	loc.parent.children[loc.name] = fs.newDir(loc.parent)
	return nil
}

// Unlink removes the name path of a file. A regular file's data lives on
// while descriptions of it are open. Directories are not unlinked (EISDIR,
// as Linux's unlink says; Aurora has no rmdir).
func (fs *FS) Unlink(path string) error {
	fs.mu.Lock()
	loc, err := fs.resolve(path)
	if err != nil {
		fs.mu.Unlock()
		return err
	}
	if loc.host != nil {
		fs.mu.Unlock()
		return loc.host.unlink(loc.rel, loc.dirOnly)
	}
	defer fs.mu.Unlock()
	switch {
	case loc.n == nil:
		return errno.ENOENT
	case loc.n.isDir():
		return errno.EISDIR
	case loc.dirOnly:
		return errno.ENOTDIR
	}
	delete(loc.parent.children, loc.name)
	if loc.n.data != nil {
		loc.n.data.unlink()
	}
	return nil
}

// ReadFile reads the whole regular file at path, as execve loads a
// program: EISDIR for a directory, EACCES for anything else that is not a
// regular file, EFBIG when it holds more than limit bytes.
func (fs *FS) ReadFile(path string, limit int64) ([]byte, error) {
	f, err := fs.Open(path, O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, ok := f.(Stater)
	if !ok {
		return nil, errno.EACCES // a device
	}
	s, err := st.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case s.IsDir():
		return nil, errno.EISDIR
	case !s.IsRegular():
		return nil, errno.EACCES
	case s.Size > limit:
		return nil, errno.EFBIG
	}
	// The size is a hint: a host file may change while it is read.
	buf := make([]byte, 0, s.Size)
	chunk := make([]byte, 64<<10)
	for {
		n, err := f.Read(chunk, nil)
		if int64(len(buf)+n) > limit {
			return nil, errno.EFBIG
		}
		buf = append(buf, chunk[:n]...)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
	}
}
