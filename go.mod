module github.com/golive/golive

go 1.26

require (
	github.com/asticode/go-astiav v0.16.0
	github.com/gen2brain/malgo v0.11.24
	github.com/go-gl/gl v0.0.0-20231021071112-07e5d0ea2e71
	github.com/urfave/cli/v2 v2.27.7
	github.com/vladimirvivien/go4vl v0.3.0
	github.com/yutopp/go-amf0 v0.1.0
	github.com/yutopp/go-rtmp v0.0.7
	golang.org/x/image v0.24.0
	golang.org/x/sys v0.37.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/asticode/go-astikit v0.42.0 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/text v0.22.0 // indirect
)
