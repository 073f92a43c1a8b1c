package vfs

import (
	"sync"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// dirFile is an open directory, of the tmpfs or of a host mount. Its
// position counts entries: getdents reads the listing from there, and the
// listing is taken afresh whenever reading starts at position 0 (after open
// or a rewind), so entries added or removed meanwhile show up then.
type dirFile struct {
	list  func() ([]Dirent, error)
	stat  func() (Stat, error)
	close func() error

	mu      sync.Mutex
	pos     int64
	entries []Dirent
}

// Read implements File: a directory is not read as bytes.
func (d *dirFile) Read([]byte, <-chan struct{}) (int, error) { return 0, errno.EISDIR }

// Write implements File: directories are only ever open for reading.
func (d *dirFile) Write([]byte, <-chan struct{}) (int, error) { return 0, errno.EBADF }

// Close implements File.
func (d *dirFile) Close() error {
	if d.close != nil {
		return d.close()
	}
	return nil
}

// Stat implements Stater.
func (d *dirFile) Stat() (Stat, error) { return d.stat() }

// Getdents implements DirReader.
func (d *dirFile) Getdents(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pos == 0 || d.entries == nil {
		entries, err := d.list()
		if err != nil {
			return 0, err
		}
		d.entries = entries
	}
	n := 0
	for d.pos < int64(len(d.entries)) {
		size := EncodeDirent(b[n:], d.entries[d.pos], d.pos+1)
		if size == 0 {
			if n == 0 {
				return 0, errno.EINVAL // too small for even one entry
			}
			break
		}
		n += size
		d.pos++
	}
	return n, nil
}

// Seek implements Seeker: positions are entry counts, as the d_off of
// each record gives them; SEEK_END is not supported.
func (d *dirFile) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var pos int64
	switch whence {
	case SeekSet:
		pos = off
	case SeekCur:
		pos = d.pos + off
	default:
		return -1, errno.EINVAL
	}
	if pos < 0 || (whence == SeekCur && off > 0 && pos < d.pos) {
		return -1, errno.EINVAL
	}
	d.pos = pos
	return pos, nil
}
