package serde_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/kstreams-go/kstreams/serde"
)

func ExampleInt64() {
	s := serde.Int64()
	b, _ := s.Serialize("counts", 42)
	fmt.Printf("% x\n", b)

	n, _ := s.Deserialize("counts", b)
	fmt.Println(n)

	_, err := s.Deserialize("counts", []byte{1, 2, 3})
	fmt.Println(err)
	fmt.Println(errors.Is(err, serde.ErrSize))
	// Output:
	// 00 00 00 00 00 00 00 2a
	// 42
	// serde: int64: topic "counts": wrong size: got 3 bytes, want 8
	// true
}

func ExampleJSON() {
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	s := serde.JSON[*user]()

	b, _ := s.Serialize("users", &user{Name: "ada", Age: 36})
	fmt.Println(string(b))

	u, _ := s.Deserialize("users", b)
	fmt.Println(u.Name, u.Age)

	// A nil pointer serializes to nil bytes: a tombstone.
	tomb, _ := s.Serialize("users", nil)
	fmt.Println(tomb == nil)

	_, err := s.Deserialize("users", []byte(`{"name":`))
	fmt.Println(err)
	// Output:
	// {"name":"ada","age":36}
	// ada 36
	// true
	// serde: json: topic "users": 8 bytes: unexpected end of JSON input
}

func ExampleFunc() {
	// A serde for upper-case strings prefixed with a 2-byte length.
	s := serde.Func(
		func(_ string, v string) ([]byte, error) {
			b := binary.BigEndian.AppendUint16(nil, uint16(len(v)))
			return append(b, strings.ToUpper(v)...), nil
		},
		func(topic string, data []byte) (string, error) {
			if data == nil {
				return "", nil // Kafka null: the zero value, no error.
			}
			if len(data) < 2 || int(binary.BigEndian.Uint16(data)) != len(data)-2 {
				return "", fmt.Errorf("upper: topic %q: bad length prefix", topic)
			}
			return string(data[2:]), nil
		},
	)
	b, _ := s.Serialize("t", "hello")
	fmt.Printf("% x\n", b)
	v, _ := s.Deserialize("t", b)
	fmt.Println(v)
	v, err := s.Deserialize("t", nil)
	fmt.Printf("%q %v\n", v, err)
	// Output:
	// 00 05 48 45 4c 4c 4f
	// HELLO
	// "" <nil>
}

func ExampleDefault() {
	fmt.Println(serde.Default[string]() != nil)
	fmt.Println(serde.Default[int64]() != nil)

	type userID string
	fmt.Println(serde.Default[userID]() == nil)
	// Output:
	// true
	// true
	// true
}
