package vfs

import "encoding/binary"

// Directory entry types (d_type), Linux's values.
const (
	DT_UNKNOWN = 0
	DT_FIFO    = 1
	DT_CHR     = 2
	DT_DIR     = 4
	DT_BLK     = 6
	DT_REG     = 8
	DT_LNK     = 10
	DT_SOCK    = 12
)

// Dirent is one directory entry.
type Dirent struct {
	Ino  uint64
	Type uint8
	Name string
}

// direntHeader is the fixed part of a record: d_ino, d_off, d_reclen,
// d_type.
const direntHeader = 19

// DirentSize is the size of d's record: the header, the name and its NUL,
// rounded up to 8 bytes so that every record starts aligned.
func DirentSize(d Dirent) int { return (direntHeader + len(d.Name) + 1 + 7) &^ 7 }

// EncodeDirent writes d's record into b, the way Linux's linux_dirent64 is
// laid out and aurora.h's struct aurora_dirent declares it:
//
//	u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[] (NUL-terminated)
//
// off is the position of the entry after it (what lseek takes to resume
// there). It returns the record's size, or 0 if b is too small for it.
func EncodeDirent(b []byte, d Dirent, off int64) int {
	size := DirentSize(d)
	if len(b) < size {
		return 0
	}
	binary.LittleEndian.PutUint64(b[0:], d.Ino)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint16(b[16:], uint16(size))
	b[18] = d.Type
	n := copy(b[direntHeader:], d.Name)
	clear(b[direntHeader+n : size]) // the NUL and the padding
	return size
}

// typeOf is the d_type for a mode's file type.
func typeOf(mode uint32) uint8 {
	switch mode & S_IFMT {
	case S_IFREG:
		return DT_REG
	case S_IFDIR:
		return DT_DIR
	case S_IFCHR:
		return DT_CHR
	case S_IFIFO:
		return DT_FIFO
	case S_IFSOCK:
		return DT_SOCK
	case S_IFLNK:
		return DT_LNK
	case 0o060000:
		return DT_BLK
	}
	return DT_UNKNOWN
}
