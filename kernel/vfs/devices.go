package vfs

import (
	"crypto/rand"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// The built-in devices of /dev. Each open gives a description that
// honours the access mode; seeking them is allowed and does nothing, as
// on Linux.

// builtinDevices makes the built-in devices' openers for a node numbered
// ino, so that fstat on a descriptor agrees with stat on the path.
var builtinDevices = map[string]func(ino uint64) Device{
	// null reads as empty and swallows writes.
	"null": func(ino uint64) Device {
		return charDevice(ino, func(b []byte) int { return 0 })
	},
	// zero reads as endless zeros and swallows writes.
	"zero": func(ino uint64) Device {
		return charDevice(ino, func(b []byte) int { clear(b); return len(b) })
	},
	// urandom reads as the host's cryptographic random numbers; writes
	// are accepted and ignored.
	"urandom": func(ino uint64) Device {
		return charDevice(ino, func(b []byte) int { rand.Read(b); return len(b) })
	},
}

// charDevice is a device whose reads fill b by read.
func charDevice(ino uint64, read func(b []byte) int) Device {
	return func(flags int) (File, error) {
		acc := flags & O_ACCMODE
		return &devFile{ino: ino, read: read, readable: acc != O_WRONLY, writable: acc != O_RDONLY}, nil
	}
}

// devFile is an open built-in device.
type devFile struct {
	ino                uint64
	read               func(b []byte) int
	readable, writable bool
}

func (d *devFile) Read(b []byte, _ <-chan struct{}) (int, error) {
	if !d.readable {
		return 0, errno.EBADF
	}
	return d.read(b), nil
}

func (d *devFile) Write(b []byte, _ <-chan struct{}) (int, error) {
	if !d.writable {
		return 0, errno.EBADF
	}
	return len(b), nil
}

func (d *devFile) Close() error { return nil }

func (d *devFile) Seek(int64, int) (int64, error) { return 0, nil }

func (d *devFile) Stat() (Stat, error) {
	return Stat{Ino: d.ino, Mode: S_IFCHR | 0o666, Nlink: 1}, nil
}
