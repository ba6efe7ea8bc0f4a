// Package registrytest runs an in-process schema registry for tests and
// demos: franz-go's in-memory Confluent-API registry (pkg/sr/srfake) with
// Avro compatibility checking added, so that an incompatible Avro schema is
// refused at registration with HTTP 409 as a real registry refuses it.
//
// It is not a schema registry to run anything on: schemas live in memory,
// Protobuf and JSON Schema registrations are not checked for compatibility,
// and only the levels NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE
// forms are known. Tests run against a real registry when the environment
// variable KSTREAMS_TEST_REGISTRY names one (see [URL]); scripts/test.sh
// starts one (scripts/registry.sh) for its integration run.
package registrytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Server is an in-process registry on 127.0.0.1 (an httptest server).
type Server struct {
	fake *srfake.Registry

	mu     sync.Mutex
	compat map[string]sr.CompatibilityLevel // per subject; "" is the global level
}

// New starts a Server. Its global compatibility level is BACKWARD, the
// Confluent default. Close it when done.
func New() *Server {
	s := &Server{fake: srfake.New(), compat: map[string]sr.CompatibilityLevel{"": sr.CompatBackward}}
	s.fake.Intercept(s.intercept)
	return s
}

// URL returns the base URL of the Confluent-compatible API.
func (s *Server) URL() string { return s.fake.URL() }

// Close stops the server.
func (s *Server) Close() { s.fake.Close() }

// Fake returns the underlying srfake registry, whose Intercept injects
// failures (for example 503 answers that simulate an outage).
func (s *Server) Fake() *srfake.Registry { return s.fake }

// URL returns the registry the tests should use: KSTREAMS_TEST_REGISTRY if
// set (a real registry's Confluent-compatible base URL), else a new Server,
// which the returned func closes.
func URL() (string, func()) {
	if u := os.Getenv("KSTREAMS_TEST_REGISTRY"); u != "" {
		return u, func() {}
	}
	s := New()
	return s.URL(), s.Close
}

// intercept watches compatibility settings and checks Avro registrations.
func (s *Server) intercept(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPut && (path == "/config" || strings.HasPrefix(path, "/config/")):
		subject := strings.TrimPrefix(strings.TrimPrefix(path, "/config"), "/")
		var body struct {
			Compatibility sr.CompatibilityLevel `json:"compatibility"`
		}
		if peekJSON(r, &body) == nil {
			s.mu.Lock()
			s.compat[subject] = body.Compatibility
			s.mu.Unlock()
		}
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/subjects/") && strings.HasSuffix(path, "/versions"):
		subject := strings.TrimSuffix(strings.TrimPrefix(path, "/subjects/"), "/versions")
		var body sr.Schema
		if peekJSON(r, &body) != nil || body.Type != sr.TypeAvro {
			return false
		}
		if msg := s.check(subject, body.Schema); msg != "" {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 409, "message": msg})
			return true
		}
	}
	return false
}

// peekJSON decodes r's body into v and leaves the body readable again.
func peekJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return json.Unmarshal(b, v)
}

// check returns why schema may not be registered under subject, or "".
func (s *Server) check(subject, schema string) string {
	s.mu.Lock()
	level, ok := s.compat[subject]
	if !ok {
		level = s.compat[""]
	}
	s.mu.Unlock()
	var backward, forward, transitive bool
	switch level {
	case sr.CompatNone:
		return ""
	case sr.CompatBackward, sr.CompatBackwardTransitive:
		backward = true
	case sr.CompatForward, sr.CompatForwardTransitive:
		forward = true
	case sr.CompatFull, sr.CompatFullTransitive:
		backward, forward = true, true
	}
	transitive = level == sr.CompatBackwardTransitive || level == sr.CompatForwardTransitive || level == sr.CompatFullTransitive
	next, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Sprintf("Invalid schema: %v", err)
	}
	var all []sr.SubjectSchema // versions 1, 2, ... (this stand-in deletes nothing)
	for v := 1; ; v++ {
		ss, ok := s.fake.GetSchema(subject, v)
		if !ok {
			break
		}
		all = append(all, ss)
	}
	old := all
	if !transitive && len(all) > 0 {
		old = all[len(all)-1:]
	}
	compat := avro.NewSchemaCompatibility()
	for _, ss := range old {
		prev, err := avro.ParseWithCache(ss.Schema.Schema, "", &avro.SchemaCache{})
		if err != nil || ss.Type != sr.TypeAvro {
			continue
		}
		if backward {
			if err := compat.Compatible(next, prev); err != nil {
				return fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q (version %d, level %s): new schema cannot read old data: %v", subject, ss.Version, level, err)
			}
		}
		if forward {
			if err := compat.Compatible(prev, next); err != nil {
				return fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q (version %d, level %s): old schema cannot read new data: %v", subject, ss.Version, level, err)
			}
		}
	}
	return ""
}
