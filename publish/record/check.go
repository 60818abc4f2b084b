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
	if _, ok := formats[strings.ToLower(filepath.Ext(path))]; !ok {
		return fmt.Errorf("record: %q: %w: the extension must be .mp4, .mkv, .flv or .ts", path, ErrBadPath)
	}
	name, err := Expand(path, time.Now())
	if err != nil {
		return fmt.Errorf("record: %w: %w", ErrBadPath, err)
	}
	if err := checkDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("record: %s: %w: %w", path, ErrBadPath, err)
	}
	return nil
}
