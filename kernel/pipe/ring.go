package pipe

// ring is a pipe's buffer: Capacity bytes used circularly, so that reads
// and writes copy bytes in place and never allocate once it exists.
type ring struct {
	buf  []byte // Capacity bytes, made by the first write
	head int    // index of the first unread byte
	n    int    // unread bytes
}

// len is the number of unread bytes.
func (r *ring) len() int { return r.n }

// free is the room left for writing.
func (r *ring) free() int { return Capacity - r.n }

// write appends as much of b as fits and returns how much that was.
func (r *ring) write(b []byte) int {
	if r.buf == nil {
		// Made on first use: a pipe that is never written (or only
		// created and closed) costs no buffer.
		r.buf = make([]byte, Capacity)
	}
	n := min(len(b), r.free())
	tail := (r.head + r.n) % Capacity
	c := copy(r.buf[tail:], b[:n])
	copy(r.buf, b[c:n]) // the part that wraps around to the start
	r.n += n
	return n
}

// read moves up to len(b) unread bytes into b and returns how many.
func (r *ring) read(b []byte) int {
	n := min(len(b), r.n)
	c := copy(b[:n], r.buf[r.head:])
	copy(b[c:n], r.buf) // the part that wrapped around
	r.head = (r.head + n) % Capacity
	r.n -= n
	if r.n == 0 {
		// Start again at the beginning, so that later transfers copy in
		// one piece rather than two.
		r.head = 0
	}
	return n
}

// release drops the buffer; unread bytes are lost.
func (r *ring) release() { *r = ring{} }
