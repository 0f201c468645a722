package options

import "sync"

// overrideRecord remembers what config.json should keep saying about a key
// while a job override is in effect, and which override put it there.
type overrideRecord struct {
	base any  // the value before the first live override
	had  bool // whether the key was in data then (else the default applied)
}

// undo is what one Override call must put back for one key.
type undo struct {
	key  string
	rec  *overrideRecord // the record live when the override was applied
	own  bool            // this call created rec, so it restores rec.base
	prev any             // value before this call (for nested overrides)
	had  bool
}

// Override applies a job's override_settings, as process_images does with
// opts.set(k, v, is_api=True, run_callbacks=False): the same rules and
// errors as SetFromAPI (validators included), all-or-nothing, but nothing is
// saved. Callers that follow A1111 drop an sd_model_checkpoint override that
// names no known model before calling, as process_images does.
//
// restore puts back what each changed key held before; it is idempotent and
// never nil, even with an error, so `defer restore()` is always safe. Call
// it when override_settings_restore_afterwards is true; otherwise the values
// stay in effect in memory but are still never written to config.json.
// A key set through SetFromAPI in between keeps that value on restore.
func (s *Store) Override(overrides map[string]any) (restore func(), err error) {
	noop := func() {}
	keys := sortedKeys(overrides)
	if err := s.runValidators(keys, overrides); err != nil {
		return noop, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := s.planLocked(keys, overrides)
	if err != nil {
		return noop, err
	}
	undos := make([]undo, 0, len(changes))
	for _, c := range changes {
		prev, had := s.data[c.key]
		u := undo{key: c.key, prev: prev, had: had}
		if r, ok := s.overridden[c.key]; ok {
			u.rec = r // nested: an earlier live override already owns the key
		} else {
			u.rec = &overrideRecord{base: prev, had: had}
			u.own = true
			s.overridden[c.key] = u.rec
		}
		undos = append(undos, u)
		s.data[c.key] = c.value
	}
	var once sync.Once
	return func() { once.Do(func() { s.restore(undos) }) }, nil
}

func (s *Store) restore(undos []undo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		if s.overridden[u.key] != u.rec {
			// SetFromAPI (or an out-of-order restore) has since replaced the
			// value; putting ours back would lose that change.
			continue
		}
		val, had := u.prev, u.had
		if u.own {
			val, had = u.rec.base, u.rec.had
			delete(s.overridden, u.key)
		}
		if had {
			s.data[u.key] = val
		} else {
			delete(s.data, u.key)
		}
	}
}
