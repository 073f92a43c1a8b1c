// Package vfs is the Aurora kernel's file system: one tree shared by every
// process of a machine. It owns path resolution, the in-memory file system
// (tmpfs) at "/" with /tmp and /dev, the device files under /dev, host
// directories mounted into the tree (confined to their directory through
// os.Root), open file descriptions of files and directories (offsets,
// getdents positions), the byte quota of the tmpfs, and the layouts of
// struct stat and of directory entries as the guest sees them.
//
// The package knows nothing of processes or guest memory: package kernel
// reads paths and buffers from the guest and calls in here. Files returned
// by Open have the method set of kernel.File (Read, Write and Close, with a
// cancel channel), so the kernel installs them in fd tables as they are;
// the optional interfaces Seeker, Stater and DirReader give lseek, fstat
// and getdents.
//
// Paths: an absolute path resolves from "/"; so does a relative one, since
// Aurora processes have no working directory. "." and empty components are
// skipped, ".." goes to the parent directory, and ".." at "/" or at the
// root of a mounted host directory stays where it is, so no path leaves a
// mount. A path of PathMax bytes or more, or with a component longer than
// NameMax, is ENAMETOOLONG.
package vfs

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// PathMax bounds a path, its terminating NUL included (Linux's PATH_MAX);
// NameMax bounds one component (NAME_MAX).
const (
	PathMax = 4096
	NameMax = 255
)

// Open flags: Linux's values, as aurora.h defines them. Other bits are
// ignored, as Linux ignores unknown flags.
const (
	O_RDONLY  = 0x0
	O_WRONLY  = 0x1
	O_RDWR    = 0x2
	O_ACCMODE = 0x3
	O_CREAT   = 0x40
	O_EXCL    = 0x80
	O_TRUNC   = 0x200
	O_APPEND  = 0x400
)

// lseek's whence values.
const (
	SeekSet = 0
	SeekCur = 1
	SeekEnd = 2
)

// File is an open file description. Its method set is kernel.File's: Read
// and Write give up waiting when cancel is closed (only devices ever wait).
type File interface {
	Read(b []byte, cancel <-chan struct{}) (int, error)
	Write(b []byte, cancel <-chan struct{}) (int, error)
	Close() error
}

// Seeker is a File with an offset that lseek moves.
type Seeker interface {
	Seek(off int64, whence int) (int64, error)
}

// Stater is a File that fstat describes.
type Stater interface {
	Stat() (Stat, error)
}

// DirReader is an open directory: Getdents fills b with directory entries
// (see EncodeDirent) from the description's position, and returns 0 at the
// end.
type DirReader interface {
	Getdents(b []byte) (int, error)
}

// Device opens a device file: flags are open's (the access mode matters).
type Device func(flags int) (File, error)

// Mount is a host directory mounted into the tree.
type Mount struct {
	// HostDir is the host directory; Path is where the guest sees it, an
	// absolute path (created in the tmpfs if missing).
	HostDir string
	Path    string
	// ReadOnly refuses every change with EROFS.
	ReadOnly bool
}

// Config describes a file system to build.
type Config struct {
	// Quota bounds the bytes of file data the tmpfs stores, counted in
	// whole pages (holes are free); 0 means no bound.
	Quota int64
	// Mounts are host directories to mount, in order.
	Mounts []Mount
	// Devices are extra device files in /dev beside null, zero and
	// urandom, by name (the kernel adds "tty", its console).
	Devices map[string]Device
}

// FS is one file system tree.
type FS struct {
	// mu guards the tree: directory contents, links and mount points.
	// File data has locks of its own.
	mu      sync.Mutex
	root    *node
	nextIno uint64
	quota   *quota
	mounts  []*hostMount
}

// New builds a file system: the tmpfs with /tmp and /dev, then the mounts.
// A mount whose host directory cannot be opened, or whose guest path is not
// absolute, is "/", or lies inside another mount, is an error naming it.
func New(cfg Config) (*FS, error) {
	fs := &FS{quota: &quota{limit: cfg.Quota}}
	fs.root = fs.newDir(nil)
	fs.root.parent = fs.root
	tmp := fs.newDir(fs.root)
	tmp.mode = S_IFDIR | 0o1777 // everyone's, with the sticky bit, as on Linux
	fs.root.children["tmp"] = tmp
	dev := fs.newDir(fs.root)
	fs.root.children["dev"] = dev
	names := make([]string, 0, len(builtinDevices)+len(cfg.Devices))
	for name := range builtinDevices {
		names = append(names, name)
	}
	for name := range cfg.Devices {
		if builtinDevices[name] == nil {
			names = append(names, name)
		}
	}
	// Sorted, so inode numbers are the same from run to run.
	sort.Strings(names)
	for _, name := range names {
		n := fs.newDevice()
		if b := builtinDevices[name]; b != nil {
			n.dev = b(n.ino)
		} else {
			n.dev = cfg.Devices[name]
		}
		dev.children[name] = n
	}
	for i, m := range cfg.Mounts {
		if err := fs.mount(i, m); err != nil {
			fs.Close()
			return nil, err
		}
	}
	return fs, nil
}

// mount attaches host directory m at its guest path.
func (fs *FS) mount(i int, m Mount) error {
	if !strings.HasPrefix(m.Path, "/") {
		return fmt.Errorf("mount point %q is not an absolute path", m.Path)
	}
	dir := fs.root
	comps := components(m.Path)
	if len(comps) == 0 {
		return fmt.Errorf("%s: cannot mount over /", m.HostDir)
	}
	for _, c := range comps {
		if c == ".." {
			return fmt.Errorf("mount point %q contains ..", m.Path)
		}
		if dir.mnt != nil {
			return fmt.Errorf("mount point %s lies inside the mount of %s", m.Path, dir.mnt.hostDir)
		}
		child := dir.children[c]
		switch {
		case child == nil:
			child = fs.newDir(dir)
			dir.children[c] = child
		case !child.isDir():
			return fmt.Errorf("mount point %s is not a directory", m.Path)
		}
		dir = child
	}
	if dir.mnt != nil {
		return fmt.Errorf("%s is mounted twice", m.Path)
	}
	if len(dir.children) > 0 {
		return fmt.Errorf("mount point %s holds other mounts", m.Path)
	}
	hm, err := openHostMount(i, m)
	if err != nil {
		return err
	}
	dir.mnt = hm
	fs.mounts = append(fs.mounts, hm)
	return nil
}

// Close releases the mounted host directories. Files still open on them
// keep working; new lookups in them fail.
func (fs *FS) Close() error {
	for _, m := range fs.mounts {
		m.root.Close()
	}
	return nil
}

// components splits a path into its non-empty components other than ".".
func components(path string) []string {
	var out []string
	for _, c := range strings.Split(path, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
