package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WaitRecordingDone waits until the recording at path is complete, after
// its publisher has stopped: the file exists and is not empty, no process
// has it open any more (checked through /proc where readable) and its size
// has not changed between two polls 200 ms apart.
func WaitRecordingDone(path string, timeout time.Duration) error {
	last := int64(-1)
	ok := WaitFor(timeout, 200*time.Millisecond, func() bool {
		fi, err := os.Stat(path)
		if err != nil || fi.Size() == 0 {
			return false
		}
		size := fi.Size()
		stable := size == last
		last = size
		return stable && !fileOpen(path)
	})
	if !ok {
		if last < 0 {
			return fmt.Errorf("testutil: recording %s: not written within %v", path, timeout)
		}
		return fmt.Errorf("testutil: recording %s: still being written after %v (size %d)", path, timeout, last)
	}
	return nil
}

// fileOpen reports whether a process whose file descriptors we may read has
// path open. Without /proc it reports false.
func fileOpen(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == abs {
			return true
		}
	}
	return false
}
