package compat

import (
	"strings"

	"github.com/kstreams-go/kstreams"
	"github.com/kstreams-go/kstreams/processor"
	"github.com/kstreams-go/kstreams/state"
)

// The global store topologies of the Processor API: a processor keeps in
// global store "gs" the values of "glob" upper-cased (a null value
// deletes); a stream processor looks up the first letter of each "in"
// value there and forwards "value/row" ("-" for no row).
func init() {
	for name, t := range map[string]topology{
		"global-store-papi": {"in:S:S,glob:S:S", "out:S:S", func(b *kstreams.Builder) {
			kstreams.AddGlobalStore(b, kstreams.StoreBuilder[str, str]{Name: "gs", Key: ss, Value: ss, InMemory: true, DisableLogging: true},
				"glob", kstreams.ConsumedWith(ss, ss),
				func() processor.Processor[str, str, struct{}, struct{}] { return &upperGlobal{} })
			toSS(kstreams.Process(in(b), func() processor.Processor[str, str, str, str] { return &globalLookup{} }))
		}},
	} {
		if _, dup := topologies[name]; dup {
			panic("compat: topology " + name + " defined twice")
		}
		topologies[name] = t
	}
}

// upperGlobal maintains the global store "gs".
type upperGlobal struct{ st state.KeyValueStore[str, str] }

func (p *upperGlobal) Init(ctx processor.Context[struct{}, struct{}]) (err error) {
	p.st, err = processor.Store[state.KeyValueStore[str, str]](ctx, "gs")
	return err
}

func (p *upperGlobal) Process(r processor.Record[str, str]) error {
	if r.Value == nil {
		_, _, err := p.st.Delete(r.Key)
		return err
	}
	return p.st.Put(r.Key, s(strings.ToUpper(*r.Value)))
}

func (p *upperGlobal) Close() error { return nil }

// globalLookup reads the global store "gs" by the first letter of each
// value.
type globalLookup struct {
	ctx processor.Context[str, str]
	st  state.ReadOnlyKeyValueStore[str, str]
}

func (p *globalLookup) Init(ctx processor.Context[str, str]) (err error) {
	p.ctx = ctx
	p.st, err = processor.Store[state.ReadOnlyKeyValueStore[str, str]](ctx, "gs")
	return err
}

func (p *globalLookup) Process(r processor.Record[str, str]) error {
	var row str
	if key := first(r.Value); key != nil {
		var err error
		if row, _, err = p.st.Get(key); err != nil {
			return err
		}
	}
	p.ctx.Forward(processor.Record[str, str]{Key: r.Key, Value: s(orDash(r.Value) + "/" + orDash(row)), Timestamp: r.Timestamp, Headers: r.Headers})
	return nil
}

func (p *globalLookup) Close() error { return nil }
