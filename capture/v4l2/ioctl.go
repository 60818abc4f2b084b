package v4l2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The V4L2 structures and ioctls below are what go4vl v0.3.0 gets wrong or
// does not expose: its VIDIOC_ENUM_FRAMEINTERVALS reads stepwise and
// continuous intervals 8 bytes off (min is read from max), and its
// controls hide their flags (disabled, read-only, inactive).
//
// They are declared here from include/uapi/linux/videodev2.h (Linux 6.1,
// Debian 12's linux-libc-dev). Every field is fixed-size (no pointers,
// longs or timevals), so the layout is the same on every architecture;
// TestIoctlLayout checks the sizes and request numbers against the header.

// struct v4l2_fract
type fract struct{ Numerator, Denominator uint32 }

// struct v4l2_frmivalenum
type frmivalEnum struct {
	Index       uint32
	PixelFormat uint32
	Width       uint32
	Height      uint32
	Type        uint32 // frmivalDiscrete, frmivalContinuous, frmivalStepwise
	// union { struct v4l2_fract discrete; struct v4l2_frmival_stepwise
	// stepwise; }: Min is also the discrete interval.
	Min, Max, Step fract
	Reserved       [2]uint32
}

// enum v4l2_frmivaltypes
const (
	frmivalDiscrete   = 1
	frmivalContinuous = 2
	frmivalStepwise   = 3
)

// struct v4l2_queryctrl
type queryCtrl struct {
	ID           uint32
	Type         uint32
	Name         [32]byte
	Minimum      int32
	Maximum      int32
	Step         int32
	DefaultValue int32
	Flags        uint32
	Reserved     [2]uint32
}

// struct v4l2_control
type control struct {
	ID    uint32
	Value int32
}

// struct v4l2_querymenu (packed: 44 bytes)
type queryMenu struct {
	ID    uint32
	Index uint32
	// union { __u8 name[32]; __s64 value; }
	Name     [32]byte
	Reserved uint32
}

// enum v4l2_ctrl_type
const (
	ctrlTypeInteger     = 1
	ctrlTypeBoolean     = 2
	ctrlTypeMenu        = 3
	ctrlTypeButton      = 4
	ctrlTypeInteger64   = 5
	ctrlTypeClass       = 6
	ctrlTypeString      = 7
	ctrlTypeBitmask     = 8
	ctrlTypeIntegerMenu = 9
)

// Control flags (V4L2_CTRL_FLAG_*).
const (
	ctrlFlagDisabled = 0x0001
	ctrlFlagGrabbed  = 0x0002
	ctrlFlagReadOnly = 0x0004
	ctrlFlagInactive = 0x0010
	ctrlFlagNextCtrl = 0x80000000
)

// iowr is _IOWR('V', nr, size) in the asm-generic ioctl encoding (x86,
// arm, arm64, riscv; not mips, powerpc or sparc).
func iowr(nr, size uintptr) uintptr {
	const read, write = 2, 1
	return (read|write)<<30 | size<<16 | 'V'<<8 | nr
}

var (
	vidiocGCtrl              = iowr(27, unsafe.Sizeof(control{}))
	vidiocSCtrl              = iowr(28, unsafe.Sizeof(control{}))
	vidiocQueryCtrl          = iowr(36, unsafe.Sizeof(queryCtrl{}))
	vidiocQueryMenu          = iowr(37, unsafe.Sizeof(queryMenu{}))
	vidiocEnumFrameIntervals = iowr(75, unsafe.Sizeof(frmivalEnum{}))
)

// ioctl issues req on fd with arg, retrying on EINTR. It returns the bare
// errno, so that callers can test for EINVAL, EBUSY, ENODEV ...
func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}

// cString is a NUL-terminated string in a fixed-size field.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
