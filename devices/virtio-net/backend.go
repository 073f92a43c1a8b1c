package virtionet

// Backend is where the device's frames go and where frames for the guest
// come from: Ethernet frames, each described by the virtio_net_hdr that
// carries its offload state. Backends live in subpackages (tun, usernet);
// the device does not know which one it drives.
type Backend interface {
	// Features returns the offload feature bits (FeatureCsum,
	// FeatureHostTSO4, ...) the backend accepts in frames it is sent and
	// may use in frames it returns. The device offers the driver no
	// offload the backend cannot take.
	Features() uint64
	// Send delivers one frame from the guest. hdr says whether its
	// checksum is still to be filled in and whether it is a large TCP
	// segment to be cut; it uses only negotiated features. frame is valid
	// only during the call.
	Send(hdr NetHdr, frame []byte) error
	// Receive blocks until a frame for the guest arrives, copies it into
	// buf and returns its header and length. It returns an error once the
	// backend is closed.
	Receive(buf []byte) (NetHdr, int, error)
	// Close stops the backend; a blocked Receive returns.
	Close() error
}

// NetHdr is struct virtio_net_hdr (virtio 1.x, section 5.1.6), the
// header in front of every frame on the device's queues.
type NetHdr struct {
	Flags      uint8 // NetHdrFNeedsCsum, NetHdrFDataValid
	GSOType    uint8 // GSONone, GSOTCPv4, ...
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
	NumBuffers uint16 // with VIRTIO_NET_F_MRG_RXBUF
}

// NetHdrSize is the size of the header on the queues (with num_buffers,
// as virtio 1.x always has it).
const NetHdrSize = 12

// virtio_net_hdr flags and GSO types.
const (
	NetHdrFNeedsCsum = 1
	NetHdrFDataValid = 2

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
)

// Feature bits of virtio-net (section 5.1.3) and of virtio itself.
const (
	FeatureCsum      = 1 << 0  // device handles packets with partial checksum
	FeatureGuestCsum = 1 << 1  // driver handles packets with partial checksum
	FeatureMTU       = 1 << 3  // device reports a maximum MTU
	FeatureMAC       = 1 << 5  // device has a MAC address
	FeatureGuestTSO4 = 1 << 7  // driver can receive TSOv4
	FeatureHostTSO4  = 1 << 11 // device can receive TSOv4
	FeatureMrgRxbuf  = 1 << 15 // driver can merge receive buffers
	FeatureStatus    = 1 << 16 // configuration status field is available
	FeatureEventIdx  = 1 << 29 // VIRTIO_F_RING_EVENT_IDX
	FeatureIndirect  = 1 << 28 // VIRTIO_F_INDIRECT_DESC
	FeatureVersion1  = 1 << 32 // VIRTIO_F_VERSION_1
)
