// Package pcap writes captures in the classic libpcap file format
// (microsecond timestamps, LINKTYPE_ETHERNET), which tcpdump, tshark and
// Wireshark all read. The virtio-net device writes every frame that
// crosses it, in both directions, into one Writer.
package pcap

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"sync"
	"time"
)

// The file format's constants.
const (
	magicMicros      = 0xa1b2c3d4
	versionMajor     = 2
	versionMinor     = 4
	linkTypeEthernet = 1
	// SnapLen is the most bytes of a frame recorded; longer frames (large
	// TCP segments crossing the device whole) are cut, their full length
	// kept in the record. It is tcpdump's default.
	SnapLen = 262144
)

// Writer writes frames to a capture. It is safe for concurrent use: the
// device's two directions share one.
type Writer struct {
	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
	rec    [16]byte
	err    error
}

// NewWriter starts a capture on w with the file header.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], magicMicros)
	binary.LittleEndian.PutUint16(h[4:], versionMajor)
	binary.LittleEndian.PutUint16(h[6:], versionMinor)
	// thiszone and sigfigs stay 0: timestamps are UTC.
	binary.LittleEndian.PutUint32(h[16:], SnapLen)
	binary.LittleEndian.PutUint32(h[20:], linkTypeEthernet)
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, err
	}
	return pw, nil
}

// Create starts a capture in a new file at path (truncating one that
// exists); Close closes the file.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.closer = f
	return w, nil
}

// WriteFrame records one Ethernet frame seen at t. After the first
// failure every call returns that error; the frame itself is never kept.
func (w *Writer) WriteFrame(t time.Time, frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	incl := min(len(frame), SnapLen)
	us := t.UnixMicro()
	binary.LittleEndian.PutUint32(w.rec[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(w.rec[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(w.rec[8:], uint32(incl))
	binary.LittleEndian.PutUint32(w.rec[12:], uint32(len(frame)))
	if _, err := w.w.Write(w.rec[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(frame[:incl]); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Flush writes buffered records out.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}

// Close flushes the capture and closes the file Create opened.
func (w *Writer) Close() error {
	err := w.Flush()
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
		w.closer = nil
	}
	return err
}
