package filter

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/golive/golive/filter/gl"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// TestBackendChoice: auto takes the GPU only when it is real hardware (so
// llvmpipe here means the CPU backend); gl and cpu are taken as asked;
// anything else fails with ErrBadOption.
func TestBackendChoice(t *testing.T) {
	info, err := gl.Probe()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no OpenGL ES under CI (make deps installs Mesa): %v", err)
		}
		t.Skipf("no OpenGL ES here: %v", err)
	}
	o := spec.Defaults()
	o.Beauty = 0.5
	sink := media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })
	wantAuto := "cpu: "
	if info.Hardware {
		wantAuto = "gl: "
	}
	for backend, want := range map[string]string{"": wantAuto, BackendAuto: wantAuto, BackendCPU: "cpu: ", BackendGL: "gl: " + info.Renderer} {
		b, err := Open(Config{Options: o, Backend: backend, Width: 320, Height: 180}, sink)
		if err != nil {
			t.Fatalf("%q: %v", backend, err)
		}
		if !strings.HasPrefix(b.Name(), want) {
			t.Errorf("--filter-backend %q ran %q, want %q", backend, b.Name(), want)
		}
		b.Close()
	}
	if _, err := Open(Config{Options: o, Backend: "vulkan", Width: 320, Height: 180}, sink); !errors.Is(err, spec.ErrBadOption) {
		t.Errorf("--filter-backend vulkan: %v, want ErrBadOption", err)
	}
}
