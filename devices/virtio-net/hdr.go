package virtionet

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// DecodeNetHdr reads a virtio_net_hdr from the first NetHdrSize bytes
// of b (little-endian, as on the queues).
func DecodeNetHdr(b []byte) NetHdr {
	_ = b[NetHdrSize-1]
	return NetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
		NumBuffers: binary.LittleEndian.Uint16(b[10:]),
	}
}

// Encode writes h into the first NetHdrSize bytes of b.
func (h NetHdr) Encode(b []byte) {
	_ = b[NetHdrSize-1]
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
	binary.LittleEndian.PutUint16(b[10:], h.NumBuffers)
}

// CompleteChecksum finishes a partial checksum, as a header with
// NetHdrFNeedsCsum asks: the field at CsumStart+CsumOffset holds the
// pseudo-header's sum, and gets the checksum of everything from CsumStart
// on. It reports false when the offsets do not lie inside frame. Drivers
// and backends that cannot take partial checksums use it.
func CompleteChecksum(h NetHdr, frame []byte) bool {
	start, at := int(h.CsumStart), int(h.CsumStart)+int(h.CsumOffset)
	if at+2 > len(frame) || start > at {
		return false
	}
	binary.BigEndian.PutUint16(frame[at:], ^checksum.Checksum(frame[start:], 0))
	return true
}
