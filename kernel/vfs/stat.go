package vfs

import (
	"encoding/binary"
	iofs "io/fs"
)

// File type bits of Stat.Mode (POSIX values, as aurora.h has them).
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000
)

// Stat is what stat and fstat report.
type Stat struct {
	Ino   uint64
	Mode  uint32 // type bits and permissions
	Nlink uint32
	Size  int64
}

// StatSize is the size of struct stat in guest memory.
const StatSize = 24

// Encode lays s out as aurora.h's struct stat: st_ino (u64), st_mode
// (u32), st_nlink (u32), st_size (i64), little-endian.
func (s Stat) Encode() []byte {
	b := make([]byte, StatSize)
	binary.LittleEndian.PutUint64(b[0:], s.Ino)
	binary.LittleEndian.PutUint32(b[8:], s.Mode)
	binary.LittleEndian.PutUint32(b[12:], s.Nlink)
	binary.LittleEndian.PutUint64(b[16:], uint64(s.Size))
	return b
}

// IsDir reports whether s describes a directory.
func (s Stat) IsDir() bool { return s.Mode&S_IFMT == S_IFDIR }

// IsRegular reports whether s describes a regular file.
func (s Stat) IsRegular() bool { return s.Mode&S_IFMT == S_IFREG }

// modeOf turns a host file mode into type bits and permissions.
func modeOf(m iofs.FileMode) uint32 {
	perm := uint32(m.Perm())
	switch {
	case m.IsDir():
		return S_IFDIR | perm
	case m&iofs.ModeSymlink != 0:
		return S_IFLNK | perm
	case m&iofs.ModeNamedPipe != 0:
		return S_IFIFO | perm
	case m&iofs.ModeSocket != 0:
		return S_IFSOCK | perm
	case m&iofs.ModeCharDevice != 0:
		return S_IFCHR | perm
	case m&iofs.ModeDevice != 0:
		return 0o060000 | perm // S_IFBLK
	}
	return S_IFREG | perm
}
