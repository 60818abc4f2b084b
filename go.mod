module github.com/golive/golive

go 1.26

require (
	github.com/asticode/go-astiav v0.16.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/asticode/go-astikit v0.42.0 // indirect
	github.com/stretchr/testify v1.8.1 // indirect
)
