// Package shm is the kernel's registry of shared memory segments: what
// shmget creates and shmat looks up by id.
//
// Aurora documents only that shmget(size) returns an id and that segments
// are page-rounded; the rest follows Linux's IPC_PRIVATE segments where
// that makes sense:
//
//   - Every Create makes a new segment of zeroed memory. Ids are small
//     positive ints, never reused within a machine's life, so a stale id
//     fails instead of reaching another segment. Any process of the machine
//     may attach any live id.
//   - A segment's memory is an mmu.SharedFrames: attachments are mappings
//     of it in address spaces, kept shared by fork, and counted by the mmu
//     however they end (shmdt, munmap, exit, exec).
//   - A segment is destroyed when its creator has exited and its last
//     attachment is gone, whichever happens last; its id then stops
//     working. While either holds it, its data lives on, even after the
//     creator has detached it.
//
// Limits: a segment is at most MaxSize bytes (Config), at most MaxSegments
// exist at once (ENOSPC beyond), and their memory comes out of guest RAM
// (ENOMEM when it is short).
package shm

import (
	"errors"
	"math"
	"sync"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
	"github.com/aurora-vm/aurora-vm/mmu"
)

// MaxSegments bounds the segments that exist at once (SHM_MAX_SEGMENTS in
// guest/include/aurora.h).
const MaxSegments = 256

// Segment is one shared memory segment.
type Segment struct {
	ID      int
	Creator int // pid of the process that created it
	Frames  *mmu.SharedFrames
}

// Registry holds a machine's segments. Its methods are safe for concurrent
// use.
type Registry struct {
	phys    *mmu.PhysMem
	maxSize uint64

	mu   sync.Mutex
	next int // the id the next segment gets
	segs map[int]*Segment
}

// New makes an empty registry whose segments live in phys and are at most
// maxSize bytes each.
func New(phys *mmu.PhysMem, maxSize uint64) *Registry {
	return &Registry{phys: phys, maxSize: maxSize, next: 1, segs: map[int]*Segment{}}
}

// Create makes a segment of size bytes, rounded up to a page, for the
// process creator, and returns its id. It fails with EINVAL for a size of
// 0 or above the limit, ENOSPC when MaxSegments exist, and ENOMEM when
// guest RAM cannot hold it.
func (r *Registry) Create(size uint64, creator int) (int, error) {
	if size == 0 || size > r.maxSize {
		return 0, errno.EINVAL
	}
	r.mu.Lock()
	r.prune()
	full := len(r.segs) >= MaxSegments
	r.mu.Unlock()
	if full {
		return 0, errno.ENOSPC
	}
	// Allocated without the lock: a large segment takes a while.
	frames, err := mmu.NewSharedFrames(r.phys, size)
	if errors.Is(err, mmu.ErrNoMemory) {
		return 0, errno.ENOMEM
	} else if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.newID()
	if !ok || len(r.segs) >= MaxSegments {
		frames.Disown()
		return 0, errno.ENOSPC
	}
	r.segs[id] = &Segment{ID: id, Creator: creator, Frames: frames}
	return id, nil
}

// newID returns the next unused id. Called with mu held.
func (r *Registry) newID() (int, bool) {
	if r.next <= math.MaxInt32 {
		id := r.next
		r.next++
		return id, true
	}
	// After 2^31 segments, fall back to the lowest id not in use.
	for id := 1; id <= math.MaxInt32; id++ {
		if r.segs[id] == nil {
			return id, true
		}
	}
	return 0, false
}

// Lookup returns the live segment with id, or EINVAL.
func (r *Registry) Lookup(id int) (*Segment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.segs[id]
	if s == nil || !s.Frames.Alive() {
		delete(r.segs, id)
		return nil, errno.EINVAL
	}
	return s, nil
}

// Exited tells the registry that process pid has ended (after its address
// space went): the segments it created go once nothing is attached to
// them any more, at once if nothing is.
func (r *Registry) Exited(pid int) {
	r.mu.Lock()
	var mine []*Segment
	for _, s := range r.segs {
		if s.Creator == pid {
			mine = append(mine, s)
		}
	}
	r.mu.Unlock()
	for _, s := range mine {
		s.Frames.Disown()
	}
	r.mu.Lock()
	r.prune()
	r.mu.Unlock()
}

// Len is the number of segments that exist.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune()
	return len(r.segs)
}

// prune forgets segments whose memory is gone: the mmu drops it when the
// last attachment goes after the creator's exit, wherever that happens.
// Called with mu held.
func (r *Registry) prune() {
	for id, s := range r.segs {
		if !s.Frames.Alive() {
			delete(r.segs, id)
		}
	}
}
