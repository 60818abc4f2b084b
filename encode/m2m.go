package encode

import (
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// V4L2 ioctls and flags (linux/videodev2.h) to find a memory-to-memory
// H.264 encoder without opening it through FFmpeg.
const (
	vidiocQuerycap = 0x80685600 // _IOR('V', 0, struct v4l2_capability), 104 bytes
	vidiocEnumFmt  = 0xc0405602 // _IOWR('V', 2, struct v4l2_fmtdesc), 64 bytes

	capM2M       = 0x00008000
	capM2MMplane = 0x00004000
	capDevCaps   = 0x80000000

	bufCapture       = 1
	bufCaptureMplane = 9
	fourccH264       = 0x34363248 // 'H264'
)

// isM2MH264Encoder: dev is a memory-to-memory device whose output (the
// capture queue) offers H.264.
func isM2MH264Encoder(dev string) (bool, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fd := f.Fd()
	var c [104]byte
	if err := ioctl(fd, vidiocQuerycap, unsafe.Pointer(&c[0])); err != nil {
		return false, err
	}
	caps := binary.LittleEndian.Uint32(c[84:])
	if caps&capDevCaps != 0 {
		caps = binary.LittleEndian.Uint32(c[88:])
	}
	var typ uint32
	switch {
	case caps&capM2MMplane != 0:
		typ = bufCaptureMplane
	case caps&capM2M != 0:
		typ = bufCapture
	default:
		return false, nil
	}
	for i := uint32(0); i < 64; i++ {
		var d [64]byte
		binary.LittleEndian.PutUint32(d[0:], i)
		binary.LittleEndian.PutUint32(d[4:], typ)
		if ioctl(fd, vidiocEnumFmt, unsafe.Pointer(&d[0])) != nil {
			return false, nil
		}
		if binary.LittleEndian.Uint32(d[44:]) == fourccH264 {
			return true, nil
		}
	}
	return false, nil
}

func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
