package testutil

import (
	"encoding/json"
	"strings"
	"time"
)

// LogLines returns the lines of a JSON log (golive's --log-format json)
// whose "msg" is msg, decoded, in order.
func LogLines(log, msg string) []map[string]any {
	var ls []map[string]any
	for _, l := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			ls = append(ls, m)
		}
	}
	return ls
}

// LogTime is a decoded log line's time (zero if it has none).
func LogTime(m map[string]any) time.Time {
	s, _ := m["time"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// LogInt is a decoded log line's number field k (0 if it has none).
func LogInt(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}
