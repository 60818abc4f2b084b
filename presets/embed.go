// Package presets holds golive's built-in encoding presets, one YAML file
// per preset (for example 720p30.yaml), embedded into the binary. The files
// are parsed and validated by internal/preset; this package only carries
// the data.
package presets

import "embed"

// FS holds every built-in preset file (*.yaml) at its root.
//
//go:embed *.yaml
var FS embed.FS
