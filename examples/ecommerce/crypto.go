package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeyIDHeader is the header that names the key the record's sensitive
// fields are encrypted with, so that keys can rotate: a reader looks the id
// up in its [KeyRing].
const KeyIDHeader = "ecommerce-key-id"

// encPrefix marks an encrypted field value: "enc:" then the base64 of the
// 12-byte nonce followed by the AES-GCM ciphertext and tag.
const encPrefix = "enc:"

// ErrUnknownKey is returned by [KeyRing.Decrypt] for a key id the ring does
// not hold (use errors.Is).
var ErrUnknownKey = errors.New("ecommerce: unknown encryption key id")

// KeyRing holds the AES-256 keys by id; Current encrypts, every key
// decrypts. Only the encrypt step and the services allowed to read the
// sensitive fields hold one.
type KeyRing struct {
	Current string
	keys    map[string]cipher.AEAD
}

// ParseKeyRing parses "id:hex[,id:hex...]" (32-byte keys, hex-encoded);
// the first key is the current one.
func ParseKeyRing(spec string) (*KeyRing, error) {
	r := &KeyRing{keys: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		id, hexKey, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("ecommerce: key %d: want id:hex, got %q", i+1, part)
		}
		key, err := hex.DecodeString(hexKey)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("ecommerce: key %q: want 64 hex digits (AES-256)", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("ecommerce: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("ecommerce: key %q: %w", id, err)
		}
		if r.Current == "" {
			r.Current = id
		}
		r.keys[id] = aead
	}
	return r, nil
}

// Encrypt encrypts plaintext with the current key. field is authenticated
// with it (AES-GCM additional data), so a value cannot be moved to another
// field.
func (r *KeyRing) Encrypt(field, plaintext string) (string, error) {
	aead := r.keys[r.Current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, []byte(plaintext), []byte(field))
	return encPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt is the helper of the services allowed to read a sensitive field:
// it decrypts value, encrypted by [KeyRing.Encrypt] for field under the key
// keyID (the record's [KeyIDHeader]).
func (r *KeyRing) Decrypt(keyID, field, value string) (string, error) {
	aead, ok := r.keys[keyID]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	b64, ok := strings.CutPrefix(value, encPrefix)
	if !ok {
		return "", fmt.Errorf("ecommerce: field %s is not encrypted", field)
	}
	sealed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sealed) < aead.NonceSize() {
		return "", fmt.Errorf("ecommerce: field %s: malformed ciphertext", field)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(field))
	if err != nil {
		return "", fmt.Errorf("ecommerce: field %s: %w", field, err)
	}
	return string(plain), nil
}
