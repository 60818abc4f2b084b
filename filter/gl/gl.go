// Package gl is the OpenGL ES 3 backend of the filter stage: the passes of
// filter/spec as shaders (from shaders/) on a headless EGL context, with I420
// in, I420 or NV12 out (what Open is asked for) and no colour conversion,
// scaling or interleaving on the CPU.
//
// # Thread
//
// A GL context is current on one OS thread. Open starts a goroutine locked
// to its thread, which makes the context, owns every EGL and GL object and
// runs every GL call; Filter, Flush and Close hand it fixed-size requests
// over a channel (nothing is allocated per frame) and wait for the answer.
// Output frames are written to the VideoWriter on the caller's goroutine,
// never on the GL thread. Close frees everything on that thread, and the
// thread ends with its goroutine (it stays locked, so no other goroutine
// inherits its EGL state).
//
// # Platforms
//
// EGL without a window system, tried in order: the device platform
// (EGL_EXT_platform_device: NVIDIA's headless path; Mesa's software device
// is skipped), GBM on each /dev/dri/renderD* (Mesa on a Raspberry Pi,
// Intel, AMD), and Mesa's surfaceless platform (llvmpipe when there is no
// GPU). The context is OpenGL ES 3 with no surface
// (EGL_KHR_surfaceless_context): every pass renders into textures.
//
// # Passes
//
// The input's Y, U and V planes are uploaded as three R8 textures
// (GL_UNPACK_ROW_LENGTH takes the strides). Then, at the output size
// (beauty's guided filter at half of it), each pass sampling the one before
// and scaling by sampling the input:
//
//  1. guided (when Beauty > 0), five draws at half size: spec.Beauty's
//     self-guided filter up to its coefficients A and B — the 2×2 mean
//     of luma, then separable (2r+1)² box means, horizontal and vertical,
//     of it and its square, then of a and b. The targets are integer
//     (RG32UI, RGBA32UI: floats bit for bit, renderable in core ES 3.0,
//     where float targets need an extension) and hold two rows a texel,
//     so that a fragment does two rows' work and the vertical boxes share
//     their reads.
//  2. beauty_smooth (when Beauty > 0): S = A·L + B, A and B bilinear from
//     half size (by hand: integer textures do not filter), into RG32UI,
//     two rows a texel
//  3. main: beauty's sharpen and brighten (or the input luma), BT.709
//     limited YUV to RGB (each pixel with its 2×2 block's chroma), colour, the 3D
//     LUT (an RGB16F 3D texture, trilinear), the watermark and the text,
//     into RGB10_A2, −1..2 stored as 0..1 (10 bits keep the round trip within a code value)
//  4. yuv_pack: RGB to Y, U and V (U and V averaged over each 2×2 block),
//     written as the bytes of an I420 frame, or of an NV12 one (U and V
//     interleaved as it writes them), into an RGBA8 target of (w/4)×(3h/2)
//     texels (two draws, one for the Y rows and one for the chroma, when
//     the width is a multiple of 8, or for NV12 of 4; one general draw
//     otherwise)
//
// Every pass at the input's size gives spec.Reference to within a code
// value on llvmpipe. The text is rasterised by spec.Text on the CPU and
// re-uploaded only when it changes (Render is asked once a wall-clock
// second); the Filter owns the Assets' Text while it is open.
//
// # Readback
//
// The packed target is read with glReadPixels into one of two pixel pack
// buffers, and a fence is set. Filter(N) renders frame N and starts its
// read, then waits for frame N−1's fence, maps its buffer and copies it into
// a frame from the Filter's pool: the GPU renders one frame while the CPU
// collects the one before. At most one frame is held back; Flush writes it
// (the pipeline calls Flush whenever its input queue is empty, so a fast GPU
// adds no frame of latency).
package gl

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-gl/gl/v3.1/gles2"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// ErrClosed is returned by Filter and Flush after Close.
var ErrClosed = errors.New("gl: filter closed")

// Info describes the context Probe opened.
type Info struct {
	Platform string // "device", "gbm" or "surfaceless"
	Renderer string // GL_RENDERER
	Vendor   string // GL_VENDOR
	Version  string // GL_VERSION
	// Hardware is false for Mesa's software rasterisers (llvmpipe,
	// softpipe, swrast), where the CPU backend is usually the better choice.
	Hardware bool
}

// Probe opens a headless context, describes it and frees it. It fails
// (never panics) when there is no EGL display or no OpenGL ES 3.
func Probe() (Info, error) {
	type result struct {
		info Info
		err  error
	}
	done := make(chan result)
	go func() {
		// Never unlocked: the thread is discarded with the goroutine, with
		// whatever state EGL left on it.
		runtime.LockOSThread()
		c, err := openContext()
		if err != nil {
			done <- result{err: fmt.Errorf("gl: %w", err)}
			return
		}
		info := Info{
			Platform: c.platform,
			Renderer: glString(gles2.RENDERER),
			Vendor:   glString(gles2.VENDOR),
			Version:  glString(gles2.VERSION),
		}
		info.Hardware = hardware(info.Renderer)
		c.close()
		done <- result{info: info}
	}()
	r := <-done
	return r.info, r.err
}

func hardware(renderer string) bool {
	r := strings.ToLower(renderer)
	for _, sw := range []string{"llvmpipe", "softpipe", "swrast"} {
		if strings.Contains(r, sw) {
			return false
		}
	}
	return true
}

func glString(name uint32) string {
	if s := gles2.GetString(name); s != nil {
		return gles2.GoStr(s)
	}
	return ""
}

// Filter runs the passes on a GL thread. It implements spec.Backend.
type Filter struct {
	out  media.VideoWriter
	name string

	mu     sync.Mutex // serialises Filter, Flush and Close
	closed bool
	reqs   chan request
	resps  chan response
	done   chan struct{} // closed when the GL thread has freed everything

	r *renderer // the GL thread's; others touch it only between a request and its answer
}

var _ spec.Backend = (*Filter)(nil)

type op uint8

const (
	opFilter op = iota
	opFlush
	opClose
)

// request and response travel by value: a channel send of a struct
// allocates nothing, where a closure per call would.
type request struct {
	op  op
	in  *media.VideoFrame
	now time.Time
}

type response struct {
	frame *media.VideoFrame // a finished frame to write, or nil
	err   error
}

// Open starts the GL thread, opens a context and sets the passes up for
// a, writing frames of format pf (the zero value: I420; or NV12):
// compiles the shaders, uploads the watermark and the LUT. Every error
// reads as one line.
func Open(a *spec.Assets, pf media.PixelFormat, out media.VideoWriter) (*Filter, error) {
	if a == nil || a.Width <= 0 || a.Height <= 0 {
		return nil, errors.New("gl: no output size")
	}
	if out == nil {
		return nil, errors.New("gl: no output writer")
	}
	pf, err := spec.OutputFormat(pf)
	if err != nil {
		return nil, fmt.Errorf("gl: %w", err)
	}
	f := &Filter{
		out:   out,
		reqs:  make(chan request),
		resps: make(chan response),
		done:  make(chan struct{}),
	}
	ready := make(chan error)
	go f.loop(a, pf, ready)
	if err := <-ready; err != nil {
		<-f.done
		return nil, fmt.Errorf("gl: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return f, nil
}

// loop is the GL thread.
func (f *Filter) loop(a *spec.Assets, pf media.PixelFormat, ready chan<- error) {
	defer close(f.done)
	// Never unlocked: when Close ends this goroutine, its thread goes too.
	runtime.LockOSThread()
	c, err := openContext()
	if err != nil {
		ready <- err
		return
	}
	r, err := newRenderer(a, pf)
	if err != nil {
		r.free()
		c.close()
		ready <- err
		return
	}
	f.r = r
	f.name = "gl: " + glString(gles2.RENDERER)
	ready <- nil
	for req := range f.reqs {
		var resp response
		switch req.op {
		case opFilter:
			resp.frame, resp.err = r.filter(req.in, req.now)
		case opFlush:
			resp.frame, resp.err = r.flush()
		case opClose:
			r.free()
			c.close()
			f.resps <- resp
			return
		}
		f.resps <- resp
	}
}

func (f *Filter) call(req request) error {
	f.reqs <- req
	resp := <-f.resps
	if resp.frame != nil {
		if err := f.out.WriteVideo(resp.frame); err != nil && resp.err == nil {
			resp.err = err
		}
	}
	return resp.err
}

// Name says what renders: "gl: " and the GL renderer.
func (f *Filter) Name() string { return f.name }

// Filter uploads in (and Releases it), renders it and starts reading it
// back; the frame before it, if still held back, is written now.
func (f *Filter) Filter(in *media.VideoFrame, now time.Time) error {
	if in == nil {
		return errors.New("gl: nil frame")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		in.Release()
		return ErrClosed
	}
	return f.call(request{op: opFilter, in: in, now: now})
}

// Flush writes the frame held back, if any.
func (f *Filter) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	return f.call(request{op: opFlush})
}

// Close frees every EGL and GL object and ends the GL thread. A frame
// still held back is dropped: Flush first to keep it.
func (f *Filter) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	f.reqs <- request{op: opClose}
	<-f.resps
	<-f.done
}
