package registry_test

import (
	"fmt"

	"github.com/kstreams-go/kstreams/serde/registry"
	"github.com/kstreams-go/kstreams/serde/registry/registrytest"
)

type Payment struct {
	ID          string `avro:"id"`
	AmountCents int64  `avro:"amount_cents"`
}

type PaymentV2 struct {
	ID          string `avro:"id"`
	AmountCents int64  `avro:"amount_cents"`
	Currency    string `avro:"currency"`
}

func ExampleAvro() {
	srv := registrytest.New() // or a real registry's URL
	defer srv.Close()
	reg, _ := registry.New(srv.URL())

	v1, _ := registry.Avro[Payment](reg, `{"type":"record","name":"Payment","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"long"}]}`)
	v2, _ := registry.Avro[PaymentV2](reg, `{"type":"record","name":"Payment","fields":[
		{"name":"id","type":"string"},{"name":"amount_cents","type":"long"},
		{"name":"currency","type":"string","default":"EUR"}]}`)

	old, _ := v1.Serialize("payments", Payment{ID: "p1", AmountCents: 500})
	fmt.Printf("magic byte %d, schema id %d\n", old[0], old[4])
	p, _ := v2.Deserialize("payments", old) // a v2 reader reads v1 data
	fmt.Printf("%+v\n", p)
	// Output:
	// magic byte 0, schema id 1
	// {ID:p1 AmountCents:500 Currency:EUR}
}
