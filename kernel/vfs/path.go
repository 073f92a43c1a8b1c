package vfs

import (
	"strings"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// location is where a path leads: a tmpfs node (or the place a new one
// would go), or a path inside a host mount.
type location struct {
	// In the tmpfs: the directory holding the last component and its name
	// (parent is nil when the path names a directory through "/" or ".."),
	// and the node itself, nil when it does not exist.
	parent *node
	name   string
	n      *node

	// In a host mount: the mount and the path relative to its root ("."
	// for the root itself).
	host *hostMount
	rel  string

	// dirOnly is set when the path ends in "/", "/." or "/..": it must
	// name a directory.
	dirOnly bool
}

// resolve walks path through the tree; the caller holds fs.mu. Every
// component but the last must exist and be a directory (ENOENT, ENOTDIR);
// the last may be missing, which the caller decides about.
func (fs *FS) resolve(path string) (location, error) {
	if len(path) >= PathMax {
		return location{}, errno.ENAMETOOLONG
	}
	if path == "" {
		return location{}, errno.ENOENT
	}
	dirOnly := strings.HasSuffix(path, "/") || strings.HasSuffix(path, "/.") ||
		strings.HasSuffix(path, "/..") || path == "." || path == ".."
	comps := components(path)
	cur := fs.root
	for i, c := range comps {
		if cur.mnt != nil {
			return hostLocation(cur.mnt, comps[i:], dirOnly)
		}
		if !cur.isDir() {
			return location{}, errno.ENOTDIR
		}
		if c == ".." {
			cur = cur.parent // the root's parent is itself
			continue
		}
		if len(c) > NameMax {
			return location{}, errno.ENAMETOOLONG
		}
		child := cur.children[c]
		if i == len(comps)-1 {
			if child != nil && child.mnt != nil {
				return hostLocation(child.mnt, nil, dirOnly)
			}
			return location{parent: cur, name: c, n: child, dirOnly: dirOnly}, nil
		}
		if child == nil {
			return location{}, errno.ENOENT
		}
		cur = child
	}
	if cur.mnt != nil {
		return hostLocation(cur.mnt, nil, dirOnly)
	}
	return location{n: cur, dirOnly: dirOnly}, nil
}

// hostLocation is the location of comps inside mount m. ".." that would
// climb above the mount's root is dropped, so the path stays inside; the
// rest is left to os.Root, which resolves symbolic links and ".." inside
// the host directory and refuses whatever would leave it.
func hostLocation(m *hostMount, comps []string, dirOnly bool) (location, error) {
	kept := make([]string, 0, len(comps))
	depth := 0
	for _, c := range comps {
		if len(c) > NameMax {
			return location{}, errno.ENAMETOOLONG
		}
		if c == ".." {
			if depth == 0 {
				continue
			}
			depth--
		} else {
			depth++
		}
		kept = append(kept, c)
	}
	rel := strings.Join(kept, "/")
	if rel == "" {
		rel = "."
	}
	return location{host: m, rel: rel, dirOnly: dirOnly}, nil
}
