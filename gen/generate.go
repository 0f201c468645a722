// Package gen holds the code oapi-codegen generates from openapi/sdapi.yaml:
// types, the strict Echo server interface with the embedded spec, and a client.
// Nothing here is edited by hand; run `make generate`.
package gen

//go:generate go tool oapi-codegen -config types.cfg.yaml ../openapi/sdapi.yaml
//go:generate go tool oapi-codegen -config server.cfg.yaml ../openapi/sdapi.yaml
//go:generate go tool oapi-codegen -config client.cfg.yaml ../openapi/sdapi.yaml
