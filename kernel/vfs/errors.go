package vfs

import (
	"errors"
	iofs "io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/aurora-vm/aurora-vm/kernel/errno"
)

// hostError turns an error from a host file operation into an errno. The
// host is Linux, whose numbers the guest uses too, so a system call's
// errno passes through. A path that would leave a mount (a symbolic link
// pointing out of it) is EACCES: the file exists on the host, but the
// guest may not reach it.
func hostError(err error) error {
	if err == nil {
		return nil
	}
	var en syscall.Errno
	switch {
	case errors.As(err, &en):
		return errno.Errno(en)
	case strings.Contains(err.Error(), "path escapes from parent"):
		return errno.EACCES
	case errors.Is(err, iofs.ErrNotExist):
		return errno.ENOENT
	case errors.Is(err, iofs.ErrExist):
		return errno.EEXIST
	case errors.Is(err, iofs.ErrPermission):
		return errno.EACCES
	case errors.Is(err, os.ErrClosed):
		return errno.EBADF
	}
	return errno.EIO
}
