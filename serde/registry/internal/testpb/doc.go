// Package testpb holds the Protobuf messages of the registry serdes' tests,
// generated from order.proto (embedded as Source for registration).
package testpb

import _ "embed" // for Source

// Source is the text of order.proto, what the tests register.
//
//go:embed order.proto
var Source string
