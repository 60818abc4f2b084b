package record

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// CheckPath checks a recording path before anything is opened: its
// extension, its strftime verbs, and that its directory exists and takes
// a file (what Open checks, less the codecs). Errors wrap ErrBadPath.
func CheckPath(path string) error {
	_, err := checkPath(path, time.Now())
	return err
}

// checkPath is CheckPath at now; it returns the container's muxer.
func checkPath(path string, now time.Time) (format string, err error) {
	format, ok := formats[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return "", fmt.Errorf("record: %q: %w: the extension must be .mp4, .mkv, .flv or .ts", path, ErrBadPath)
	}
	name, err := Expand(path, now)
	if err != nil {
		return "", fmt.Errorf("record: %w: %w", ErrBadPath, err)
	}
	if err := checkDir(filepath.Dir(name)); err != nil {
		return "", fmt.Errorf("record: %s: %w: %w", path, ErrBadPath, err)
	}
	return format, nil
}
