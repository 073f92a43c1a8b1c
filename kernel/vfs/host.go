package vfs

import (
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"sort"
	"syscall"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// hostMount is a host directory mounted into the tree. Every access goes
// through os.Root, opened once when the file system is built: it resolves
// each component with openat and O_NOFOLLOW, so "..", absolute symbolic
// links, links pointing out of the directory, and a directory swapped for
// a link while a path is being resolved all stay inside (or fail with
// EACCES, see hostError).
type hostMount struct {
	idx      int
	hostDir  string
	root     *os.Root
	readOnly bool
}

func openHostMount(idx int, m Mount) (*hostMount, error) {
	fi, err := os.Stat(m.HostDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.HostDir, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", m.HostDir)
	}
	root, err := os.OpenRoot(m.HostDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.HostDir, unwrapPathError(err))
	}
	return &hostMount{idx: idx, hostDir: m.HostDir, root: root, readOnly: m.ReadOnly}, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*iofs.PathError); ok {
		return pe.Err
	}
	return err
}

// slashed is rel with a trailing slash when the guest's path had one, so
// that the host insists on a directory (ENOTDIR) as Linux would.
func slashed(rel string, dirOnly bool) string {
	if dirOnly && rel != "." {
		return rel + "/"
	}
	return rel
}

// open opens rel. Only regular files and directories are opened: a host
// FIFO or device could block the kernel or reach host hardware, so they
// are EACCES. Opening is non-blocking for the same reason (a FIFO's open
// would wait for a writer).
func (m *hostMount) open(rel string, flags int, dirOnly bool) (File, error) {
	acc := flags & O_ACCMODE
	if flags&O_CREAT != 0 && dirOnly {
		return nil, errno.EISDIR
	}
	if m.readOnly && (acc != O_RDONLY || flags&(O_CREAT|O_TRUNC) != 0) {
		return nil, m.readOnlyError(rel, flags)
	}
	hostFlags := acc | flags&(O_CREAT|O_EXCL|O_TRUNC|O_APPEND) | syscall.O_NONBLOCK
	f, err := m.root.OpenFile(slashed(rel, dirOnly), hostFlags, 0o644)
	if err != nil {
		return nil, hostError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, hostError(err)
	}
	switch {
	case fi.IsDir():
		return m.openDir(f, rel), nil
	case fi.Mode().IsRegular():
		return &hostFile{m: m, f: f}, nil
	}
	f.Close()
	return nil, errno.EACCES
}

// readOnlyError is why an open that would change read-only rel fails:
// as on Linux, a directory is EISDIR and a missing file without O_CREAT
// ENOENT; anything else is EROFS.
func (m *hostMount) readOnlyError(rel string, flags int) error {
	fi, err := m.root.Stat(rel)
	switch {
	case err == nil && fi.IsDir():
		return errno.EISDIR
	case err != nil && flags&O_CREAT == 0:
		return hostError(err)
	}
	return errno.EROFS
}

// stat describes rel, following symbolic links inside the mount.
func (m *hostMount) stat(rel string, dirOnly bool) (Stat, error) {
	fi, err := m.root.Stat(slashed(rel, dirOnly))
	if err != nil {
		return Stat{}, hostError(err)
	}
	return m.statOf(fi), nil
}

// mkdir makes directory rel: EEXIST if something is there, else EROFS on
// a read-only mount.
func (m *hostMount) mkdir(rel string) error {
	if m.readOnly {
		if _, err := m.root.Lstat(rel); err == nil {
			return errno.EEXIST
		}
		return errno.EROFS
	}
	return hostError(m.root.Mkdir(rel, 0o755))
}

// unlink removes the name rel (a symbolic link itself, not its target);
// EISDIR for a directory, EROFS on a read-only mount.
func (m *hostMount) unlink(rel string, dirOnly bool) error {
	fi, err := m.root.Lstat(rel)
	switch {
	case err != nil:
		return hostError(err)
	case fi.IsDir():
		return errno.EISDIR
	case dirOnly:
		return errno.ENOTDIR
	case m.readOnly:
		return errno.EROFS
	}
	return hostError(m.root.Remove(rel))
}

// ino makes a host inode number unique in the tree: the mount's index goes
// above the host's number, whose low 48 bits are kept.
func (m *hostMount) ino(fi iofs.FileInfo) uint64 {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return uint64(m.idx+1)<<48 | ino&(1<<48-1)
}

func (m *hostMount) statOf(fi iofs.FileInfo) Stat {
	st := Stat{Ino: m.ino(fi), Mode: modeOf(fi.Mode()), Nlink: 1, Size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Nlink = uint32(sys.Nlink)
	}
	if fi.IsDir() {
		st.Size = 0 // host directory sizes mean nothing to the guest
	}
	return st
}

// openDir makes a directory description of f, which rel names.
func (m *hostMount) openDir(f *os.File, rel string) *dirFile {
	return &dirFile{
		stat: func() (Stat, error) {
			fi, err := f.Stat()
			if err != nil {
				return Stat{}, hostError(err)
			}
			return m.statOf(fi), nil
		},
		list:  func() ([]Dirent, error) { return m.list(f, rel) },
		close: f.Close,
	}
}

// list reads directory f from its start: ".", ".." (the mount's root is
// its own parent, as ".." there stays in the mount), then the entries by
// name. Inode numbers come from lstat through the root, never from a host
// path outside it.
func (m *hostMount) list(f *os.File, rel string) ([]Dirent, error) {
	self, err := f.Stat()
	if err != nil {
		return nil, hostError(err)
	}
	parent := self
	if rel != "." {
		if fi, err := m.root.Stat(path.Dir(rel)); err == nil {
			parent = fi
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, hostError(err)
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, hostError(err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	out := []Dirent{{Ino: m.ino(self), Type: DT_DIR, Name: "."}, {Ino: m.ino(parent), Type: DT_DIR, Name: ".."}}
	for _, e := range entries {
		fi, err := m.root.Lstat(path.Join(rel, e.Name()))
		if err != nil {
			continue // gone since the directory was read
		}
		out = append(out, Dirent{Ino: m.ino(fi), Type: typeOf(modeOf(fi.Mode())), Name: e.Name()})
	}
	return out, nil
}

// hostFile is an open regular file of a host mount. The host's open file
// holds the offset, and the description is shared as the kernel shares
// it, so every descriptor sees one offset.
type hostFile struct {
	m *hostMount
	f *os.File
}

func (h *hostFile) Read(b []byte, _ <-chan struct{}) (int, error) {
	n, err := h.f.Read(b)
	if err == io.EOF {
		err = nil
	}
	return n, hostError(err)
}

func (h *hostFile) Write(b []byte, _ <-chan struct{}) (int, error) {
	n, err := h.f.Write(b)
	return n, hostError(err)
}

func (h *hostFile) Seek(off int64, whence int) (int64, error) {
	if whence < SeekSet || whence > SeekEnd {
		return -1, errno.EINVAL
	}
	pos, err := h.f.Seek(off, whence)
	if err != nil {
		return -1, hostError(err)
	}
	return pos, nil
}

func (h *hostFile) Stat() (Stat, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return Stat{}, hostError(err)
	}
	return h.m.statOf(fi), nil
}

func (h *hostFile) Close() error { return h.f.Close() }
