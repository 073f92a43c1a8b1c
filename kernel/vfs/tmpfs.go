package vfs

import (
	"sort"
)

// node is a file of the tmpfs: a directory, a regular file or a device.
// Directory contents, parent links and mount points are guarded by FS.mu.
type node struct {
	ino  uint64
	mode uint32

	// Directories.
	parent   *node            // for ".."; the root is its own parent
	children map[string]*node // by name
	mnt      *hostMount       // a host directory mounted here

	data *fileData // regular files
	dev  Device    // device files
}

func (n *node) isDir() bool { return n.mode&S_IFMT == S_IFDIR }

func (fs *FS) ino() uint64 {
	fs.nextIno++
	return fs.nextIno
}

func (fs *FS) newDir(parent *node) *node {
	return &node{ino: fs.ino(), mode: S_IFDIR | 0o755, parent: parent, children: map[string]*node{}}
}

func (fs *FS) newFile() *node {
	return &node{ino: fs.ino(), mode: S_IFREG | 0o644, data: newFileData(fs.quota)}
}

func (fs *FS) newDevice() *node {
	return &node{ino: fs.ino(), mode: S_IFCHR | 0o666}
}

// statLocked describes n; the caller holds fs.mu.
func (fs *FS) statLocked(n *node) Stat {
	st := Stat{Ino: n.ino, Mode: n.mode, Nlink: 1}
	switch {
	case n.isDir():
		st.Nlink = 2 // its name and its "."; each subdirectory's ".." adds one
		for _, c := range n.children {
			if c.isDir() {
				st.Nlink++
			}
		}
	case n.data != nil:
		st.Nlink = n.data.nlink()
		st.Size = n.data.length()
	}
	return st
}

func (fs *FS) stat(n *node) (Stat, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.statLocked(n), nil
}

// openDir opens tmpfs directory n for getdents.
func (fs *FS) openDir(n *node) *dirFile {
	return &dirFile{
		stat: func() (Stat, error) { return fs.stat(n) },
		list: func() ([]Dirent, error) { return fs.list(n), nil },
	}
}

// list is n's entries, "." and ".." first, then by name.
func (fs *FS) list(n *node) []Dirent {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := []Dirent{{Ino: n.ino, Type: DT_DIR, Name: "."}, {Ino: n.parent.ino, Type: DT_DIR, Name: ".."}}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		out = append(out, Dirent{Ino: c.ino, Type: typeOf(c.mode), Name: name})
	}
	return out
}
