package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is a schema registry client shared by the serdes of an
// application: franz-go's [sr.Client] plus a cache of schemas by id, the
// subjects whose compatibility level was set, and retries with backoff for
// an unreachable registry. It is safe for concurrent use.
type Registry struct {
	cl     *sr.Client
	srOpts []sr.ClientOpt // for New
	retry  retryCfg

	mu struct {
		sync.RWMutex
		byID map[int]sr.Schema // every schema fetched or registered, by id
	}
}

type retryCfg struct {
	attempts int           // tries in all, at least 1
	base     time.Duration // first backoff, doubled each retry
	max      time.Duration // backoff ceiling
	timeout  time.Duration // one request's timeout
}

// ClientOpt configures a [Registry].
type ClientOpt interface{ apply(*Registry) }

type clientOptFn func(*Registry)

func (f clientOptFn) apply(r *Registry) { f(r) }

// Retries sets how often a request that failed because the registry could
// not be reached (or answered 5xx) is tried in all, and the first and
// largest backoff between tries (doubled each time). Errors that the registry
// answers with a 4xx status (unknown schema, incompatible schema) are not
// retried. The default is 6 tries, 100ms, 2s: about 4 s of outage are
// absorbed before a serde reports [ErrUnavailable].
func Retries(attempts int, base, max time.Duration) ClientOpt {
	return clientOptFn(func(r *Registry) {
		r.retry.attempts, r.retry.base, r.retry.max = attempts, base, max
	})
}

// RequestTimeout sets the timeout of one registry request. The default is 5s.
func RequestTimeout(d time.Duration) ClientOpt {
	return clientOptFn(func(r *Registry) { r.retry.timeout = d })
}

// SRClientOpts passes options to franz-go's [sr.NewClient] in [New]:
// authentication, TLS, an http.Client.
func SRClientOpts(opts ...sr.ClientOpt) ClientOpt {
	return clientOptFn(func(r *Registry) { r.srOpts = append(r.srOpts, opts...) })
}

// New returns a Registry talking to the Confluent-compatible registry API at
// url (for Apicurio Registry, its /apis/ccompat/v7 path).
func New(url string, opts ...ClientOpt) (*Registry, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: empty registry URL", ErrConfig)
	}
	var pre Registry
	for _, o := range opts {
		o.apply(&pre)
	}
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, pre.srOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return NewFromClient(cl, opts...)
}

// NewFromClient returns a Registry over an existing franz-go client.
func NewFromClient(cl *sr.Client, opts ...ClientOpt) (*Registry, error) {
	if cl == nil {
		return nil, fmt.Errorf("%w: nil client", ErrConfig)
	}
	r := &Registry{cl: cl, retry: retryCfg{attempts: 6, base: 100 * time.Millisecond, max: 2 * time.Second, timeout: 5 * time.Second}}
	for _, o := range opts {
		o.apply(r)
	}
	if r.retry.attempts < 1 || r.retry.base < 0 || r.retry.max < r.retry.base || r.retry.timeout <= 0 {
		return nil, fmt.Errorf("%w: Retries(%d, %v, %v), RequestTimeout(%v)", ErrConfig,
			r.retry.attempts, r.retry.base, r.retry.max, r.retry.timeout)
	}
	r.mu.byID = make(map[int]sr.Schema)
	return r, nil
}

// Client returns the underlying franz-go client.
func (r *Registry) Client() *sr.Client { return r.cl }

// SchemaByID returns the schema with the given id, from the cache or the
// registry. An id the registry does not know gives an error wrapping
// [ErrUnknownSchema].
func (r *Registry) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	r.mu.RLock()
	s, ok := r.mu.byID[id]
	r.mu.RUnlock()
	if ok {
		return s, nil
	}
	err := r.do(ctx, func(ctx context.Context) (err error) {
		s, err = r.cl.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		return sr.Schema{}, err
	}
	r.cache(id, s)
	return s, nil
}

func (r *Registry) cache(id int, s sr.Schema) {
	r.mu.Lock()
	r.mu.byID[id] = s
	r.mu.Unlock()
}

// Register registers schema under subject (or finds it if it is there) and
// returns its id. A schema that the subject's compatibility level refuses
// gives an error wrapping [ErrIncompatible] whose text carries the
// registry's message.
func (r *Registry) Register(ctx context.Context, subject string, schema sr.Schema) (int, error) {
	var id int
	err := r.do(ctx, func(ctx context.Context) (err error) {
		id, err = r.cl.RegisterSchema(ctx, subject, schema, -1, -1)
		return err
	})
	if err != nil {
		return 0, err
	}
	r.cache(id, schema)
	return id, nil
}

// Version returns version v of subject's schema; -1 is the latest.
func (r *Registry) Version(ctx context.Context, subject string, v int) (sr.SubjectSchema, error) {
	var ss sr.SubjectSchema
	err := r.do(ctx, func(ctx context.Context) (err error) {
		ss, err = r.cl.SchemaByVersion(ctx, subject, v)
		return err
	})
	if err != nil {
		return sr.SubjectSchema{}, err
	}
	r.cache(ss.ID, ss.Schema)
	return ss, nil
}

// SetCompatibility sets subject's compatibility level (for example
// sr.CompatBackward); the empty subject sets the registry's global level.
func (r *Registry) SetCompatibility(ctx context.Context, subject string, level sr.CompatibilityLevel) error {
	return r.do(ctx, func(ctx context.Context) error {
		var subjects []string
		if subject != "" {
			subjects = []string{subject}
		}
		for _, res := range r.cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, subjects...) {
			if res.Err != nil {
				return res.Err
			}
		}
		return nil
	})
}

// do runs fn, retrying with backoff while the registry cannot be reached,
// and classifies the final error.
func (r *Registry) do(ctx context.Context, fn func(context.Context) error) error {
	backoff := r.retry.base
	var err error
	try := 1
	for ; ; try++ {
		rctx, cancel := context.WithTimeout(ctx, r.retry.timeout)
		err = fn(rctx)
		cancel()
		if err == nil || !retriable(err) || try >= r.retry.attempts || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return classify(err, try)
		case <-t.C:
		}
		backoff = min(2*backoff, r.retry.max)
	}
	return classify(err, try)
}

// retriable reports whether err means the registry was not reached or
// failed on its side, as opposed to a definite answer.
func retriable(err error) bool {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 || re.StatusCode == 429
	}
	return true
}

// classify wraps err with the sentinel that says what it means.
func classify(err error, tries int) error {
	if err == nil {
		return nil
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == 404 || re.ErrorCode == 40403 || re.ErrorCode == 40401 || re.ErrorCode == 40402:
			return fmt.Errorf("%w: %s (HTTP %d, error code %d)", ErrUnknownSchema, re.Message, re.StatusCode, re.ErrorCode)
		case re.StatusCode == 409 || re.ErrorCode == 409:
			return fmt.Errorf("%w: %s (HTTP %d)", ErrIncompatible, re.Message, re.StatusCode)
		case re.StatusCode == 422 || re.ErrorCode == 42201:
			return fmt.Errorf("%w: %s (HTTP %d, error code %d)", ErrInvalidSchema, re.Message, re.StatusCode, re.ErrorCode)
		case re.StatusCode < 500 && re.StatusCode != 429:
			return fmt.Errorf("kstreams: registry: %s (HTTP %d, error code %d): %w", re.Message, re.StatusCode, re.ErrorCode, err)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || retriable(err) {
		return fmt.Errorf("%w after %d tries: %w", ErrUnavailable, tries, err)
	}
	return err
}
