package pcap

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// tcpFrame builds an Ethernet frame carrying a TCP segment with flags.
func tcpFrame(flags header.TCPFlags, payload []byte) []byte {
	src, dst := tcpip.AddrFrom4([4]byte{10, 0, 2, 15}), tcpip.AddrFrom4([4]byte{10, 0, 2, 2})
	b := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+header.TCPMinimumSize+len(payload))
	header.Ethernet(b).Encode(&header.EthernetFields{
		SrcAddr: "\x52\x54\x00\x12\x34\x56", DstAddr: "\x52\x54\x00\x00\x00\x02", Type: header.IPv4ProtocolNumber,
	})
	ip := header.IPv4(b[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(ip)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip.Payload())
	tcp.Encode(&header.TCPFields{SrcPort: 40000, DstPort: 80, SeqNum: 1, DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 65535})
	copy(tcp.Payload(), payload)
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, xsum))
	return b
}

func TestFileFormat(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 123456000)
	frame := tcpFrame(header.TCPFlagSyn, nil)
	big := make([]byte, SnapLen+10)
	if err := w.WriteFrame(at, frame); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(at, big); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	le := binary.LittleEndian
	if le.Uint32(b) != magicMicros || le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 4 || le.Uint32(b[16:]) != SnapLen || le.Uint32(b[20:]) != 1 {
		t.Fatalf("file header % x", b[:24])
	}
	r := b[24:]
	if le.Uint32(r) != 1700000000 || le.Uint32(r[4:]) != 123456 || le.Uint32(r[8:]) != uint32(len(frame)) || le.Uint32(r[12:]) != uint32(len(frame)) {
		t.Fatalf("record header % x", r[:16])
	}
	if !bytes.Equal(r[16:16+len(frame)], frame) {
		t.Fatal("frame bytes differ")
	}
	r = r[16+len(frame):]
	if le.Uint32(r[8:]) != SnapLen || le.Uint32(r[12:]) != uint32(len(big)) || len(r) != 16+SnapLen {
		t.Fatalf("long frame recorded as %d of %d bytes, %d left", le.Uint32(r[8:]), le.Uint32(r[12:]), len(r))
	}
}

// TestTsharkReadsCapture checks the capture with a real reader.
func TestTsharkReadsCapture(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark is needed to read the capture (.ci/run installs it: apt-get install -y tshark)")
	}
	path := filepath.Join(t.TempDir(), "c.pcap")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	w.WriteFrame(now, tcpFrame(header.TCPFlagSyn, nil))
	w.WriteFrame(now.Add(time.Millisecond), tcpFrame(header.TCPFlagSyn|header.TCPFlagAck, nil))
	w.WriteFrame(now.Add(2*time.Millisecond), tcpFrame(header.TCPFlagAck|header.TCPFlagPsh, []byte("GET / HTTP/1.0\r\n\r\n")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "eth.src", "-e", "ip.src", "-e", "ip.dst",
		"-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.len", "-e", "tcp.checksum.status", "-o", "tcp.check_checksum:TRUE")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // tshark wants a writable profile dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}
	// Source, addresses, port, SYN, ACK, payload length, checksum status
	// (1: good). Older tshark prints booleans as True/False.
	want := []string{
		"52:54:00:12:34:56 10.0.2.15 10.0.2.2 80 1 0 0 1",
		"52:54:00:12:34:56 10.0.2.15 10.0.2.2 80 1 1 0 1",
		"52:54:00:12:34:56 10.0.2.15 10.0.2.2 80 0 1 18 1",
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(want) {
		t.Fatalf("tshark read %d frames, want %d:\n%s", len(got), len(want), out)
	}
	norm := strings.NewReplacer("\t", " ", "True", "1", "False", "0")
	for i := range want {
		if g := norm.Replace(got[i]); g != want[i] {
			t.Errorf("frame %d: tshark says %q, want %q", i, g, want[i])
		}
	}
}
