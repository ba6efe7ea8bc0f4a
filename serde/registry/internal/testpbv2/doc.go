// Package testpbv2 holds version 2 of the Protobuf messages of package
// testpb (Order gains the field currency), generated from order_v2.proto, for
// the registry serdes' evolution tests.
package testpbv2

import (
	_ "embed" // for Source
	"strings"
)

//go:embed order_v2.proto
var source string

// Source is the text of order_v2.proto in the proto package of version 1,
// kstreams.test: what the tests register, so that the registry checks it
// as version 2 of testpb's messages.
var Source = strings.Replace(source, "package kstreams.test.v2;", "package kstreams.test;", 1)
