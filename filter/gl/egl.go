package gl

/*
#cgo pkg-config: egl gbm
// Plain void* native types: the default would pull in X11 headers, and
// gbm.h would change them under our feet.
#define EGL_NO_PLATFORM_SPECIFIC_TYPES 1
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <gbm.h>
#include <stdlib.h>

// Extension entry points can only be called through pointers, which Go
// cannot do: these wrappers fetch and call them.

static EGLDisplay golive_platform_display(EGLenum platform, void *native) {
	PFNEGLGETPLATFORMDISPLAYEXTPROC get =
		(PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	return get ? get(platform, native, NULL) : EGL_NO_DISPLAY;
}

// golive_device returns EGL device i (NULL past the end) and, in *n, how many there are.
static EGLDeviceEXT golive_device(int i, int *n) {
	PFNEGLQUERYDEVICESEXTPROC query = (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
	EGLDeviceEXT devs[16];
	EGLint count = 0;
	*n = 0;
	if (!query || !query(16, devs, &count)) return EGL_NO_DEVICE_EXT;
	*n = count;
	return i < count ? devs[i] : EGL_NO_DEVICE_EXT;
}

static const char *golive_device_extensions(EGLDeviceEXT d) {
	PFNEGLQUERYDEVICESTRINGEXTPROC query =
		(PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
	return query ? query(d, EGL_EXTENSIONS) : NULL;
}

static const char *golive_client_extensions(void) {
	return eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/go-gl/gl/v3.1/gles2"
)

// eglContext is an OpenGL ES 3 context with no surface, current on the
// calling (locked) thread.
type eglContext struct {
	platform string // "device", "gbm" or "surfaceless"
	dpy      C.EGLDisplay
	ctx      C.EGLContext
	gbm      *C.struct_gbm_device
	fd       int // the render node under gbm; -1 otherwise
}

// EGL displays are per native display, shared by every context in the
// process, and eglTerminate is not reference counted: without this count,
// closing one Filter (or a Probe) would pull the display from under another.
var displays = struct {
	sync.Mutex
	n map[C.EGLDisplay]int
}{n: map[C.EGLDisplay]int{}}

func initDisplay(d C.EGLDisplay) error {
	displays.Lock()
	defer displays.Unlock()
	if displays.n[d] == 0 {
		var major, minor C.EGLint
		if C.eglInitialize(d, &major, &minor) == C.EGL_FALSE {
			return fmt.Errorf("eglInitialize: %s", eglError())
		}
	}
	displays.n[d]++
	return nil
}

func terminateDisplay(d C.EGLDisplay) {
	displays.Lock()
	defer displays.Unlock()
	if displays.n[d]--; displays.n[d] <= 0 {
		delete(displays.n, d)
		C.eglTerminate(d)
	}
}

// openContext tries the platforms in order: the EGL device platform
// (NVIDIA's headless path; Mesa's software device is skipped so that a
// GPU behind GBM wins over it), GBM on each render node (Mesa on a Pi,
// Intel, AMD), then Mesa's surfaceless platform (llvmpipe when there is
// no GPU at all). It must run on the thread that will use the context.
func openContext() (*eglContext, error) {
	exts := C.golive_client_extensions()
	if exts == nil {
		return nil, errors.New("EGL has no client extensions (EGL_EXT_client_extensions): cannot open a display without a window system")
	}
	client := C.GoString(exts)
	var why []string
	try := func(platform string, open func() (*eglContext, error)) *eglContext {
		c, err := open()
		if err != nil {
			why = append(why, platform+": "+err.Error())
			return nil
		}
		c.platform = platform
		return c
	}
	if c := try("device", func() (*eglContext, error) { return openDevice(client) }); c != nil {
		return c, nil
	}
	if c := try("gbm", func() (*eglContext, error) { return openGBM(client) }); c != nil {
		return c, nil
	}
	if c := try("surfaceless", func() (*eglContext, error) { return openSurfaceless(client) }); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no OpenGL ES 3 context (%s)", strings.Join(why, "; "))
}

func openDevice(client string) (*eglContext, error) {
	if !hasExt(client, "EGL_EXT_platform_device") || !hasExt(client, "EGL_EXT_device_enumeration") {
		return nil, errors.New("EGL_EXT_platform_device not supported")
	}
	var n C.int
	C.golive_device(0, &n)
	var why []string
	for i := range int(n) {
		d := C.golive_device(C.int(i), &n)
		if d == nil {
			break
		}
		if e := C.golive_device_extensions(d); e != nil && hasExt(C.GoString(e), "EGL_MESA_device_software") {
			continue
		}
		c := &eglContext{fd: -1, dpy: C.golive_platform_display(C.EGL_PLATFORM_DEVICE_EXT, unsafe.Pointer(d))}
		if err := c.init(); err != nil {
			why = append(why, fmt.Sprintf("device %d: %v", i, err))
			continue
		}
		return c, nil
	}
	if len(why) == 0 {
		return nil, errors.New("no GPU device")
	}
	return nil, errors.New(strings.Join(why, ", "))
}

func openGBM(client string) (*eglContext, error) {
	if !hasExt(client, "EGL_KHR_platform_gbm") && !hasExt(client, "EGL_MESA_platform_gbm") {
		return nil, errors.New("EGL_KHR_platform_gbm not supported")
	}
	nodes, _ := filepath.Glob("/dev/dri/renderD*")
	if len(nodes) == 0 {
		return nil, errors.New("no /dev/dri/renderD* node")
	}
	var why []string
	for _, node := range nodes {
		fd, err := syscall.Open(node, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		g := C.gbm_create_device(C.int(fd))
		if g == nil {
			syscall.Close(fd)
			why = append(why, node+": gbm_create_device failed")
			continue
		}
		c := &eglContext{fd: fd, gbm: g, dpy: C.golive_platform_display(C.EGL_PLATFORM_GBM_KHR, unsafe.Pointer(g))}
		if err := c.init(); err != nil {
			why = append(why, node+": "+err.Error())
			continue
		}
		return c, nil
	}
	return nil, errors.New(strings.Join(why, ", "))
}

func openSurfaceless(client string) (*eglContext, error) {
	if !hasExt(client, "EGL_MESA_platform_surfaceless") {
		return nil, errors.New("EGL_MESA_platform_surfaceless not supported")
	}
	c := &eglContext{fd: -1, dpy: C.golive_platform_display(C.EGL_PLATFORM_SURFACELESS_MESA, nil)}
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

// init initialises c.dpy and makes an ES 3 context current on it; on
// failure it has freed whatever c held.
func (c *eglContext) init() (err error) {
	if c.dpy == 0 {
		c.close()
		return fmt.Errorf("no display: %s", eglError())
	}
	if err := initDisplay(c.dpy); err != nil {
		c.dpy = 0 // not initialised: nothing to terminate
		c.close()
		return err
	}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	exts := C.GoString(C.eglQueryString(c.dpy, C.EGL_EXTENSIONS))
	if !hasExt(exts, "EGL_KHR_surfaceless_context") {
		return errors.New("EGL_KHR_surfaceless_context not supported")
	}
	if C.eglBindAPI(C.EGL_OPENGL_ES_API) == C.EGL_FALSE {
		return fmt.Errorf("eglBindAPI(OpenGL ES): %s", eglError())
	}
	var cfg C.EGLConfig // EGL_NO_CONFIG_KHR
	if !hasExt(exts, "EGL_KHR_no_config_context") {
		attrs := [...]C.EGLint{C.EGL_RENDERABLE_TYPE, C.EGL_OPENGL_ES3_BIT, C.EGL_SURFACE_TYPE, 0, C.EGL_NONE}
		var n C.EGLint
		if C.eglChooseConfig(c.dpy, &attrs[0], &cfg, 1, &n) == C.EGL_FALSE || n < 1 {
			return fmt.Errorf("no OpenGL ES 3 config: %s", eglError())
		}
	}
	attrs := [...]C.EGLint{C.EGL_CONTEXT_MAJOR_VERSION, 3, C.EGL_NONE}
	c.ctx = C.eglCreateContext(c.dpy, cfg, nil, &attrs[0])
	if c.ctx == nil {
		return fmt.Errorf("eglCreateContext(OpenGL ES 3): %s", eglError())
	}
	if C.eglMakeCurrent(c.dpy, nil, nil, c.ctx) == C.EGL_FALSE {
		return fmt.Errorf("eglMakeCurrent: %s", eglError())
	}
	return initGL()
}

// close frees what c holds, each thing once.
func (c *eglContext) close() {
	if c.dpy != 0 {
		C.eglMakeCurrent(c.dpy, nil, nil, nil)
		if c.ctx != nil {
			C.eglDestroyContext(c.dpy, c.ctx)
			c.ctx = nil
		}
		terminateDisplay(c.dpy)
		c.dpy = 0
	}
	C.eglReleaseThread()
	if c.gbm != nil {
		C.gbm_device_destroy(c.gbm)
		c.gbm = nil
	}
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}

var glInit struct {
	sync.Once
	err error
}

// initGL loads the GL entry points through eglGetProcAddress (libglvnd and
// the vendors give context-independent dispatch stubs, so once per process
// is enough), not through the gles2 package's GLX loader.
func initGL() error {
	glInit.Do(func() {
		glInit.err = gles2.InitWithProcAddrFunc(func(name string) unsafe.Pointer {
			cs := C.CString(name)
			defer C.free(unsafe.Pointer(cs))
			return unsafe.Pointer(C.eglGetProcAddress(cs))
		})
		if glInit.err != nil {
			glInit.err = fmt.Errorf("OpenGL ES entry point missing: %v", glInit.err)
		}
	})
	return glInit.err
}

func hasExt(list, name string) bool {
	for e := range strings.FieldsSeq(list) {
		if e == name {
			return true
		}
	}
	return false
}

func eglError() string {
	code := C.eglGetError()
	names := map[C.EGLint]string{
		C.EGL_SUCCESS: "EGL_SUCCESS", C.EGL_NOT_INITIALIZED: "EGL_NOT_INITIALIZED",
		C.EGL_BAD_ACCESS: "EGL_BAD_ACCESS", C.EGL_BAD_ALLOC: "EGL_BAD_ALLOC",
		C.EGL_BAD_ATTRIBUTE: "EGL_BAD_ATTRIBUTE", C.EGL_BAD_CONFIG: "EGL_BAD_CONFIG",
		C.EGL_BAD_CONTEXT: "EGL_BAD_CONTEXT", C.EGL_BAD_DISPLAY: "EGL_BAD_DISPLAY",
		C.EGL_BAD_MATCH: "EGL_BAD_MATCH", C.EGL_BAD_PARAMETER: "EGL_BAD_PARAMETER",
	}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("EGL error 0x%x", int(code))
}
