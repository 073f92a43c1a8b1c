package virtionet

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aurora-vm/aurora-vm/devices/virtio-net/pcap"
	"github.com/aurora-vm/aurora-vm/devices/virtio-net/virtq"
)

// The device's queues: one receive and one transmit queue (no multiqueue,
// no control queue).
const (
	RXQueue = 0 // receiveq1: frames for the driver
	TXQueue = 1 // transmitq1: frames from the driver
)

// Device status bits (virtio 1.x, section 2.1).
const (
	StatusAcknowledge = 1
	StatusDriver      = 2
	StatusDriverOK    = 4
	StatusFeaturesOK  = 8
	StatusNeedsReset  = 64
	StatusFailed      = 128
)

// NetStatusLinkUp is VIRTIO_NET_S_LINK_UP in NetConfig.Status.
const NetStatusLinkUp = 1

// NetConfig is the device's configuration space (struct
// virtio_net_config, section 5.1.4), as far as the features it offers
// define it.
type NetConfig struct {
	MAC               [6]byte
	Status            uint16 // NetStatusLinkUp, with FeatureStatus
	MaxVirtqueuePairs uint16 // 1
	MTU               uint16 // with FeatureMTU
}

// Config chooses how a device is built.
type Config struct {
	MAC       [6]byte // zero: DefaultMAC
	MTU       uint16  // the MTU offered to the driver; 0: 1500
	QueueSize uint16  // the largest queue the driver may set up; 0: 256
	// Backlog is how many frames for the driver the device holds while
	// the driver has posted no receive buffers. When it is full the device
	// takes no more from the backend for a while (leaving them in the
	// backend's queue), then drops them (Stats.RxDropped) until the driver
	// posts buffers again. 0: 64.
	Backlog int
	Faults  Faults       // injected into both directions
	Capture *pcap.Writer // every frame crossing the device; nil: none
}

// DefaultMAC is QEMU's first NIC address, locally administered.
var DefaultMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// MaxFrame is the longest Ethernet frame the device carries: a 64 KiB
// IP packet (a large TCP segment with TSO) behind a VLAN-tagged header.
const MaxFrame = 65535 + 18

// offloads are the feature bits that depend on the backend.
const offloads = FeatureCsum | FeatureGuestCsum | FeatureGuestTSO4 | FeatureHostTSO4

// Device is a virtio-net device with one receive and one transmit queue,
// attached to a Backend. A driver brings it up as the specification's
// initialisation sequence does (section 3.1): Features and Negotiate,
// SetQueue for both queues, OnInterrupt, Start. Everything in between is
// the queues in guest memory and two doorbells: the driver's kicks
// (Notify) and the device's interrupts (the OnInterrupt callback).
//
// Transmission runs in the goroutine that kicks the transmit queue; the
// Backend's Send is called there. Reception runs in a goroutine of the
// device's own that waits in the Backend's Receive.
type Device struct {
	mem     virtq.Memory
	be      Backend
	cfg     Config
	offered uint64

	mu       sync.Mutex // serialises the driver's set-up calls
	status   atomic.Uint32
	features uint64
	layouts  [2]virtq.Layout
	haveQ    [2]bool
	running  bool // the receive goroutine has started

	irq    atomic.Pointer[func(queue int)]
	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup

	tx txPath
	rx rxPath
	st counters
}

type counters struct {
	txFrames, txBytes, txDropped      atomic.Uint64
	rxFrames, rxBytes, rxDropped      atomic.Uint64
	rxRefused, badChains, backendErrs atomic.Uint64
}

// Stats are the device's counters since it was made.
type Stats struct {
	TxFrames, TxBytes uint64 // frames handed to the backend
	RxFrames, RxBytes uint64 // frames delivered to the driver
	// TxDropped: frames from the driver refused (a header using features
	// not negotiated, a frame too short or too long) or that the backend
	// failed to send.
	TxDropped uint64
	// RxDropped: frames for the driver dropped for lack of receive
	// buffers (the backlog was full) or because the driver was not
	// running.
	RxDropped uint64
	// RxRefused: frames the driver's buffers could never hold or that use
	// an offload the driver did not negotiate.
	RxRefused uint64
	// BadChains: descriptor chains refused as malformed.
	BadChains uint64
	// BackendErrors: failed Receive calls.
	BackendErrors uint64
	// Injected faults.
	Lost, Duplicated, Reordered uint64
}

// New makes a device on guest memory mem whose frames go to and come from
// be. The device owns be from now on: Close closes it.
func New(mem virtq.Memory, be Backend, cfg Config) (*Device, error) {
	if cfg.MAC == ([6]byte{}) {
		cfg.MAC = DefaultMAC
	}
	if cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("MAC address %x is a multicast address", cfg.MAC)
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.MTU < 68 || int(cfg.MTU) > MaxFrame-18 {
		return nil, fmt.Errorf("MTU %d out of range", cfg.MTU)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 256
	}
	if l := (virtq.Layout{Size: cfg.QueueSize}); l.Validate() != nil {
		return nil, fmt.Errorf("queue size %d is not a power of two up to %d", cfg.QueueSize, virtq.MaxSize)
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 64
	}
	off := be.Features() & offloads
	// An offload is only offered with what it depends on (5.1.3.1).
	if off&FeatureCsum == 0 {
		off &^= FeatureHostTSO4
	}
	if off&FeatureGuestCsum == 0 {
		off &^= FeatureGuestTSO4
	}
	d := &Device{
		mem: mem,
		be:  be,
		cfg: cfg,
		offered: FeatureVersion1 | FeatureMAC | FeatureStatus | FeatureMTU |
			FeatureEventIdx | FeatureIndirect | FeatureMrgRxbuf | off,
		done: make(chan struct{}),
	}
	d.tx.buf = make([]byte, NetHdrSize+MaxFrame)
	d.tx.faults = newInjector(cfg.Faults, 1, d.flushTX)
	d.rx.faults = newInjector(cfg.Faults, 2, d.flushRX)
	d.rx.backlog = make([]pending, cfg.Backlog)
	d.rx.room = make(chan struct{}, 1)
	return d, nil
}

// Features are the feature bits the device offers.
func (d *Device) Features() uint64 { return d.offered }

// MaxQueueSize is the largest queue the driver may set up.
func (d *Device) MaxQueueSize() uint16 { return d.cfg.QueueSize }

// ConfigSpace is what the driver reads from the device's configuration.
func (d *Device) ConfigSpace() NetConfig {
	return NetConfig{MAC: d.cfg.MAC, Status: NetStatusLinkUp, MaxVirtqueuePairs: 1, MTU: d.cfg.MTU}
}

// Status is the device status (Status* bits).
func (d *Device) Status() uint8 { return uint8(d.status.Load()) }

// Negotiate takes the features the driver accepts, a subset of Features,
// and sets FEATURES_OK; the device refuses a set it cannot work with.
func (d *Device) Negotiate(features uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status.Load()&(StatusFeaturesOK|StatusDriverOK) != 0 {
		return errors.New("features already negotiated (reset the device first)")
	}
	d.status.Store(StatusAcknowledge | StatusDriver)
	switch {
	case features&^d.offered != 0:
		return fmt.Errorf("features %#x were not offered", features&^d.offered)
	case features&FeatureVersion1 == 0:
		return errors.New("legacy drivers (without VIRTIO_F_VERSION_1) are not supported")
	case features&FeatureGuestTSO4 != 0 && features&FeatureGuestCsum == 0:
		return errors.New("GUEST_TSO4 without GUEST_CSUM")
	case features&FeatureHostTSO4 != 0 && features&FeatureCsum == 0:
		return errors.New("HOST_TSO4 without CSUM")
	}
	d.features = features
	d.status.Store(StatusAcknowledge | StatusDriver | StatusFeaturesOK)
	return nil
}

// SetQueue tells the device where the driver has put queue i.
func (d *Device) SetQueue(i int, l virtq.Layout) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.status.Load(); s&StatusFeaturesOK == 0 || s&StatusDriverOK != 0 {
		return errors.New("queues are set up after feature negotiation and before the driver is ready")
	}
	if i != RXQueue && i != TXQueue {
		return fmt.Errorf("no queue %d", i)
	}
	if l.Size > d.cfg.QueueSize {
		return fmt.Errorf("queue size %d is larger than the device's %d", l.Size, d.cfg.QueueSize)
	}
	if err := l.Validate(); err != nil {
		return err
	}
	d.layouts[i], d.haveQ[i] = l, true
	return nil
}

// OnInterrupt registers the driver's interrupt handler, called with the
// queue that has new used buffers. It is called from the device's
// goroutines and from within Notify, with no lock of the device held; it
// must not block for long.
func (d *Device) OnInterrupt(fn func(queue int)) { d.irq.Store(&fn) }

// Start is DRIVER_OK: the device begins to use the queues.
func (d *Device) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return errors.New("device closed")
	}
	if d.status.Load()&StatusFeaturesOK == 0 {
		return errors.New("features not negotiated")
	}
	if !d.haveQ[RXQueue] || !d.haveQ[TXQueue] {
		return errors.New("queues not set up")
	}
	o := virtq.Options{EventIdx: d.features&FeatureEventIdx != 0, Indirect: d.features&FeatureIndirect != 0}
	rxq, err := virtq.NewDeviceQueue(d.mem, d.layouts[RXQueue], o)
	if err != nil {
		return fmt.Errorf("receive queue: %w", err)
	}
	txq, err := virtq.NewDeviceQueue(d.mem, d.layouts[TXQueue], o)
	if err != nil {
		return fmt.Errorf("transmit queue: %w", err)
	}
	d.rx.mu.Lock()
	d.rx.start(rxq, d.features, d.cfg.MTU)
	d.rx.mu.Unlock()
	d.tx.mu.Lock()
	d.tx.start(txq, d.features, d.cfg.MTU)
	d.tx.mu.Unlock()
	d.status.Store(d.status.Load() | StatusDriverOK)
	if !d.running {
		d.running = true
		d.wg.Add(1)
		go d.receiveLoop()
	}
	return nil
}

// Reset stops the device's use of the queues and forgets the negotiated
// features, as writing 0 to the status does: afterwards the device no
// longer touches guest memory and the driver may free it. Frames from
// the backend are dropped until the driver starts the device again.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rx.mu.Lock()
	d.rx.stop()
	d.rx.mu.Unlock()
	d.tx.mu.Lock()
	d.tx.q = nil
	d.tx.chain = virtq.Chain{}
	d.tx.mu.Unlock()
	d.features = 0
	d.haveQ = [2]bool{}
	d.status.Store(0)
}

// Notify is the driver's kick: queue has new buffers. A transmit kick
// sends every queued frame (Backend.Send, in the caller's goroutine)
// before it returns; a receive kick fills the new buffers with frames
// that were waiting for them. Either may interrupt the driver.
func (d *Device) Notify(queue int) {
	switch queue {
	case TXQueue:
		d.transmitQueue()
	case RXQueue:
		d.refill()
	}
}

// Close resets the device, closes the backend and waits for the receive
// goroutine to end.
func (d *Device) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	d.Reset()
	d.tx.faults.stop()
	d.rx.faults.stop()
	close(d.done)
	err := d.be.Close()
	d.wg.Wait()
	return err
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	return Stats{
		TxFrames:      d.st.txFrames.Load(),
		TxBytes:       d.st.txBytes.Load(),
		TxDropped:     d.st.txDropped.Load(),
		RxFrames:      d.st.rxFrames.Load(),
		RxBytes:       d.st.rxBytes.Load(),
		RxDropped:     d.st.rxDropped.Load(),
		RxRefused:     d.st.rxRefused.Load(),
		BadChains:     d.st.badChains.Load(),
		BackendErrors: d.st.backendErrs.Load(),
		Lost:          d.tx.faults.lost.Load() + d.rx.faults.lost.Load(),
		Duplicated:    d.tx.faults.duplicated.Load() + d.rx.faults.duplicated.Load(),
		Reordered:     d.tx.faults.reordered.Load() + d.rx.faults.reordered.Load(),
	}
}

func (d *Device) interrupt(queue int) {
	if fn := d.irq.Load(); fn != nil {
		(*fn)(queue)
	}
}

// broken marks the device as needing a reset after the driver broke a
// queue beyond repair; the queue yields nothing more.
func (d *Device) broken() {
	for {
		s := d.status.Load()
		if d.status.CompareAndSwap(s, s|StatusNeedsReset) {
			return
		}
	}
}

func (d *Device) capture(frame []byte) {
	if d.cfg.Capture != nil {
		d.cfg.Capture.WriteFrame(time.Now(), frame)
	}
}

// maxFrame is the longest frame one direction carries: the MTU's, or a
// whole TSO segment's when tso was negotiated.
func maxFrame(tso bool, mtu uint16) int {
	if tso {
		return MaxFrame
	}
	return int(mtu) + 18
}
