package vfs

import (
	"sync"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// pageSize is the unit tmpfs stores file data in. A file is a sparse set
// of pages, so writing at the end of a large file copies only what is
// written, and a hole (seeking past the end, then writing) costs nothing.
const pageSize = 4096

// MaxFileSize bounds a tmpfs file (EFBIG beyond), so offsets never
// overflow; the quota bounds what is actually stored.
const MaxFileSize = 1 << 44

type page [pageSize]byte

// quota bounds the bytes held in pages by every tmpfs file together.
type quota struct {
	mu          sync.Mutex
	used, limit int64 // limit 0: unbounded
}

func (q *quota) take(n int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.limit > 0 && q.used+n > q.limit {
		return false
	}
	q.used += n
	return true
}

func (q *quota) give(n int64) {
	q.mu.Lock()
	q.used -= n
	q.mu.Unlock()
}

// Used is the bytes the tmpfs holds in file pages now.
func (fs *FS) Used() int64 {
	fs.quota.mu.Lock()
	defer fs.quota.mu.Unlock()
	return fs.quota.used
}

// fileData is a tmpfs regular file's contents, and the count of what keeps
// them alive: names in directories and open descriptions. The pages go
// back to the quota when both are gone, so a file unlinked while open stays
// readable and writable until its last close.
type fileData struct {
	q *quota

	mu    sync.Mutex
	size  int64
	pages map[int64]*page // by page index; missing pages read as zeros
	links int
	opens int
}

func newFileData(q *quota) *fileData {
	return &fileData{q: q, pages: map[int64]*page{}, links: 1}
}

// readAt copies the bytes at off into b; fewer at the end of the file.
func (d *fileData) readAt(b []byte, off int64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off >= d.size {
		return 0
	}
	b = b[:min(int64(len(b)), d.size-off)]
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		in := pos % pageSize
		chunk := b[n:min(len(b), n+int(pageSize-in))]
		if p := d.pages[pos/pageSize]; p != nil {
			copy(chunk, p[in:])
		} else {
			clear(chunk)
		}
		n += len(chunk)
	}
	return n
}

// writeAt copies b to off (the end of the file when appending, decided
// under the lock so that appends by several descriptions never overlap),
// growing the file. It returns where the write started and how much was
// written: less than len(b) when the quota runs out (ENOSPC if nothing) or
// the file would grow past MaxFileSize (EFBIG if nothing).
func (d *fileData) writeAt(b []byte, off int64, appending bool) (int64, int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if appending {
		off = d.size
	}
	if off >= MaxFileSize {
		return off, 0, errno.EFBIG
	}
	b = b[:min(int64(len(b)), MaxFileSize-off)]
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		idx, in := pos/pageSize, pos%pageSize
		p := d.pages[idx]
		if p == nil {
			if !d.q.take(pageSize) {
				break
			}
			p = new(page)
			d.pages[idx] = p
		}
		n += copy(p[in:], b[n:])
	}
	if n > 0 && off+int64(n) > d.size {
		d.size = off + int64(n)
	}
	if n == 0 && len(b) > 0 {
		return off, 0, errno.ENOSPC
	}
	return off, n, nil
}

// truncate empties the file.
func (d *fileData) truncate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.freeLocked()
	d.size = 0
}

func (d *fileData) freeLocked() {
	d.q.give(int64(len(d.pages)) * pageSize)
	clear(d.pages)
}

func (d *fileData) length() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// open and close count open descriptions; unlink counts a removed name.
func (d *fileData) open() {
	d.mu.Lock()
	d.opens++
	d.mu.Unlock()
}

func (d *fileData) close() { d.release(func() { d.opens-- }) }

func (d *fileData) unlink() { d.release(func() { d.links-- }) }

func (d *fileData) release(drop func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	drop()
	if d.links == 0 && d.opens == 0 {
		d.freeLocked()
	}
}

func (d *fileData) nlink() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return uint32(d.links)
}
