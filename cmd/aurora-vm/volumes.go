package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/aurora-vm/aurora-vm/kernel/vfs"
)

// Files: -v/--volume mounts host directories into the guest's file system,
// as Docker's -v does, and --tmpfs-size bounds the in-memory file system.

func volumeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"},
			Usage: "mount a host directory in the guest: HOSTDIR:/GUEST/PATH[:ro] (repeatable; :ro refuses writes with EROFS)"},
		&cli.StringFlag{Name: "tmpfs-size",
			Usage: "most bytes of file data the guest's in-memory file system holds (K, M or G suffix; default: half of --memory)"},
	}
}

// fsConfig reads the file system flags: the mounts, each checked to name a
// host directory, and the tmpfs quota.
func fsConfig(c *cli.Context, memSize uint64) ([]vfs.Mount, int64, error) {
	var mounts []vfs.Mount
	for _, spec := range c.StringSlice("volume") {
		m, err := parseVolume(spec)
		if err != nil {
			return nil, 0, fmt.Errorf("-v %s: %v", spec, err)
		}
		mounts = append(mounts, m)
	}
	quota := int64(memSize / 2)
	if s := c.String("tmpfs-size"); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return nil, 0, fmt.Errorf("--tmpfs-size: %v", err)
		}
		quota = int64(n)
	}
	return mounts, quota, nil
}

// parseVolume reads HOSTDIR:/GUEST/PATH[:ro|:rw]. The host directory may
// be relative to the working directory; it must exist.
func parseVolume(spec string) (vfs.Mount, error) {
	const want = "want HOSTDIR:/GUEST/PATH[:ro]"
	parts := strings.Split(spec, ":")
	readOnly := false
	if n := len(parts); n >= 3 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		readOnly = parts[n-1] == "ro"
		parts = parts[:n-1]
	}
	if len(parts) < 2 {
		return vfs.Mount{}, errors.New(want)
	}
	host := strings.Join(parts[:len(parts)-1], ":")
	guest := parts[len(parts)-1]
	switch {
	case host == "":
		return vfs.Mount{}, fmt.Errorf("empty host directory (%s)", want)
	case !strings.HasPrefix(guest, "/"):
		return vfs.Mount{}, fmt.Errorf("the guest path %q is not absolute (%s)", guest, want)
	case path.Clean(guest) == "/":
		return vfs.Mount{}, errors.New("cannot mount over the guest's /")
	}
	fi, err := os.Stat(host)
	if err != nil {
		return vfs.Mount{}, fmt.Errorf("%s: %v", host, unwrapPath(err))
	}
	if !fi.IsDir() {
		return vfs.Mount{}, fmt.Errorf("%s is not a directory", host)
	}
	return vfs.Mount{HostDir: host, Path: path.Clean(guest), ReadOnly: readOnly}, nil
}
