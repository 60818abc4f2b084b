package pipe

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrTerminal is Stdin's error when standard input is a terminal: there is
// no video to read from a keyboard.
var ErrTerminal = errors.New("standard input is a terminal: pipe raw video into golive " +
	"(rpicam-vid … -o - | golive push --source pipe:…)")

// Stdin opens standard input for Config.Reader: a duplicate of descriptor
// 0 in non-blocking mode, so that the Go runtime polls it and a read that
// waits on a silent producer ends when the push does (os.Stdin blocks a
// thread in read(2) and has no deadlines). The caller closes it; fd 0
// stays open. The non-blocking flag is the pipe's, shared with whatever
// else holds its read end (normally nothing).
func Stdin() (*os.File, error) {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		return nil, fmt.Errorf("pipe: %w", ErrTerminal)
	}
	fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pipe: standard input: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pipe: standard input: %w", err)
	}
	// NewFile sees the flag and registers the descriptor with the poller
	// (a regular file or /dev/null cannot be polled: it is then read
	// blocking, which never waits long).
	return os.NewFile(uintptr(fd), "stdin"), nil
}
