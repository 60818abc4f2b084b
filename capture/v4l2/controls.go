package v4l2

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ctrlInfo is one control as VIDIOC_QUERYCTRL (and VIDIOC_QUERYMENU)
// describe it.
type ctrlInfo struct {
	ID      uint32
	Type    uint32
	Name    string // the driver's name: "Exposure, Auto"
	Min     int32
	Max     int32
	Step    int32
	Default int32
	Flags   uint32
	// Menu maps the valid indices of a menu control to their names.
	Menu map[int32]string `json:",omitempty"`
}

// ctrlSetting is a control and the value to set it to.
type ctrlSetting struct {
	ctrl  ctrlInfo
	value int32
}

// ctrlVarName is a control's name as `v4l2-ctl -l` prints it: lowercase,
// each run of other characters than letters and digits replaced by one
// underscore, none at the ends ("Exposure, Auto" → "exposure_auto").
func ctrlVarName(name string) string {
	var b strings.Builder
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			sep = b.Len() > 0
			continue
		}
		if sep {
			b.WriteByte('_')
			sep = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// resolveControls parses "name=value" settings against the controls a
// camera has. Names match as `v4l2-ctl -l` prints them or as the driver
// names them, case-insensitively; values are integers, for booleans also
// true/false/on/off/yes/no, for menus also the item's name. Unknown names
// fail with the list of the camera's controls, values out of range with
// the range.
func resolveControls(specs []string, avail []ctrlInfo) ([]ctrlSetting, error) {
	out := make([]ctrlSetting, 0, len(specs))
	for _, spec := range specs {
		name, val, ok := strings.Cut(spec, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("control %q: want name=value, e.g. brightness=120", spec)
		}
		c, ok := findControl(name, avail)
		if !ok {
			return nil, fmt.Errorf("unknown control %q; this camera has: %s", name, describeControls(avail))
		}
		v, err := controlValue(c, val)
		if err != nil {
			return nil, fmt.Errorf("control %s=%s: %w", ctrlVarName(c.Name), val, err)
		}
		out = append(out, ctrlSetting{ctrl: c, value: v})
	}
	return out, nil
}

// renamedControls are standard camera controls (include/uapi/linux/
// v4l2-controls.h) that Linux 5.x renamed: a configuration written with
// either name works with both kernels.
var renamedControls = map[string]uint32{
	"exposure_auto":                  0x009a0901, // V4L2_CID_EXPOSURE_AUTO: "Auto Exposure"
	"auto_exposure":                  0x009a0901,
	"exposure_absolute":              0x009a0902, // V4L2_CID_EXPOSURE_ABSOLUTE
	"exposure_time_absolute":         0x009a0902,
	"exposure_auto_priority":         0x009a0903, // V4L2_CID_EXPOSURE_AUTO_PRIORITY
	"exposure_dynamic_framerate":     0x009a0903,
	"focus_auto":                     0x009a090c, // V4L2_CID_FOCUS_AUTO
	"focus_automatic_continuous":     0x009a090c,
	"white_balance_temperature_auto": 0x0098090c, // V4L2_CID_AUTO_WHITE_BALANCE
	"white_balance_automatic":        0x0098090c,
}

func findControl(name string, avail []ctrlInfo) (ctrlInfo, bool) {
	want := ctrlVarName(name)
	for _, c := range avail {
		if ctrlVarName(c.Name) == want || strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	if id, ok := renamedControls[want]; ok {
		for _, c := range avail {
			if c.ID == id {
				return c, true
			}
		}
	}
	return ctrlInfo{}, false
}

// controlValue parses val for control c and checks it against c's range.
func controlValue(c ctrlInfo, val string) (int32, error) {
	if c.Flags&ctrlFlagReadOnly != 0 {
		return 0, errors.New("the control is read-only")
	}
	switch c.Type {
	case ctrlTypeInteger:
		v, err := strconv.ParseInt(val, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("not an integer (range %s)", ctrlRange(c))
		}
		if v < int64(c.Min) || v > int64(c.Max) {
			return 0, fmt.Errorf("out of range %s", ctrlRange(c))
		}
		if c.Step > 1 && (v-int64(c.Min))%int64(c.Step) != 0 {
			return 0, fmt.Errorf("not on a step: range %s", ctrlRange(c))
		}
		return int32(v), nil
	case ctrlTypeBoolean:
		switch strings.ToLower(val) {
		case "1", "true", "on", "yes":
			return 1, nil
		case "0", "false", "off", "no":
			return 0, nil
		}
		return 0, errors.New("not a boolean (0/1, true/false, on/off)")
	case ctrlTypeMenu, ctrlTypeIntegerMenu:
		if v, err := strconv.ParseInt(val, 0, 32); err == nil {
			if _, ok := c.Menu[int32(v)]; ok {
				return int32(v), nil
			}
			return 0, fmt.Errorf("no such menu item; the items are %s", menuItems(c))
		}
		want := ctrlVarName(val)
		for i, name := range c.Menu {
			if ctrlVarName(name) == want {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no such menu item; the items are %s", menuItems(c))
	}
	return 0, fmt.Errorf("a %s control cannot be set here", ctrlTypeName(c.Type))
}

func ctrlRange(c ctrlInfo) string {
	s := fmt.Sprintf("%d..%d", c.Min, c.Max)
	if c.Step > 1 {
		s += fmt.Sprintf(" step %d", c.Step)
	}
	return s + fmt.Sprintf(", default %d", c.Default)
}

func menuItems(c ctrlInfo) string {
	keys := make([]int32, 0, len(c.Menu))
	for k := range c.Menu {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d=%s", k, c.Menu[k])
	}
	return strings.Join(parts, ", ")
}

func ctrlTypeName(t uint32) string {
	switch t {
	case ctrlTypeInteger:
		return "int"
	case ctrlTypeBoolean:
		return "bool"
	case ctrlTypeMenu:
		return "menu"
	case ctrlTypeButton:
		return "button"
	case ctrlTypeInteger64:
		return "int64"
	case ctrlTypeString:
		return "string"
	case ctrlTypeBitmask:
		return "bitmask"
	case ctrlTypeIntegerMenu:
		return "intmenu"
	}
	return fmt.Sprintf("type-%d", t)
}

// describeControls lists controls briefly: "brightness (int 0..255),
// exposure_auto (menu 1=Manual Mode, 3=Aperture Priority Mode), ...".
func describeControls(avail []ctrlInfo) string {
	if len(avail) == 0 {
		return "no controls"
	}
	parts := make([]string, 0, len(avail))
	for _, c := range avail {
		s := ctrlVarName(c.Name) + " (" + ctrlTypeName(c.Type)
		switch c.Type {
		case ctrlTypeInteger:
			s += fmt.Sprintf(" %d..%d", c.Min, c.Max)
		case ctrlTypeMenu, ctrlTypeIntegerMenu:
			s += " " + menuItems(c)
		}
		if c.Flags&ctrlFlagReadOnly != 0 {
			s += ", read-only"
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}

// queryControls enumerates the camera's controls (VIDIOC_QUERYCTRL with
// V4L2_CTRL_FLAG_NEXT_CTRL), without class headings and disabled ones.
func queryControls(fd int) ([]ctrlInfo, error) {
	var out []ctrlInfo
	id := uint32(ctrlFlagNextCtrl)
	for {
		q := queryCtrl{ID: id}
		if err := ioctl(fd, vidiocQueryCtrl, unsafe.Pointer(&q)); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return out, nil // past the last control
			}
			return out, fmt.Errorf("VIDIOC_QUERYCTRL: %w", err)
		}
		id = q.ID | ctrlFlagNextCtrl
		if q.Type == ctrlTypeClass || q.Flags&ctrlFlagDisabled != 0 {
			continue
		}
		c := ctrlInfo{ID: q.ID, Type: q.Type, Name: cString(q.Name[:]), Min: q.Minimum,
			Max: q.Maximum, Step: q.Step, Default: q.DefaultValue, Flags: q.Flags}
		if c.Type == ctrlTypeMenu || c.Type == ctrlTypeIntegerMenu {
			c.Menu = map[int32]string{}
			for i := c.Min; i <= c.Max && i-c.Min < 256; i++ {
				m := queryMenu{ID: c.ID, Index: uint32(i)}
				if ioctl(fd, vidiocQueryMenu, unsafe.Pointer(&m)) != nil {
					continue // a hole in the menu
				}
				if c.Type == ctrlTypeMenu {
					c.Menu[i] = cString(m.Name[:])
				} else {
					v := *(*int64)(unsafe.Pointer(&m.Name[0]))
					c.Menu[i] = strconv.FormatInt(v, 10)
				}
			}
		}
		out = append(out, c)
	}
}

// setControl sets one control (VIDIOC_S_CTRL).
func setControl(fd int, s ctrlSetting) error {
	c := control{ID: s.ctrl.ID, Value: s.value}
	if err := ioctl(fd, vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
		name := ctrlVarName(s.ctrl.Name)
		if s.ctrl.Flags&ctrlFlagInactive != 0 {
			return fmt.Errorf("control %s=%d: %w (the control is inactive: it depends on another one, e.g. exposure_auto=1 before exposure_absolute, focus_auto=0 before focus_absolute)",
				name, s.value, err)
		}
		return fmt.Errorf("control %s=%d: %w", name, s.value, err)
	}
	return nil
}
