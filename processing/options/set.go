package options

import (
	"context"
	"fmt"
	"maps"
)

// change is one key a request will actually alter.
type change struct {
	key   string
	value any
}

// SetFromAPI applies a POST /options body and saves config.json.
//
// Per key, in A1111's order (Options.set with is_api=True): a value equal to
// the current one (a missing key counts as null) is skipped; an undefined
// key is a *KeyError (ErrUnknownKey); do_not_save and restrict_api options
// are skipped; then the value must pass its Def's type and path checks
// (*ValueError, ErrInvalidValue). Validators run first, on every key, as
// set_config checks sd_model_checkpoint before the first opts.set.
//
// Unlike A1111 the request is all-or-nothing: on any error nothing changes.
// The file is written before memory is updated, so a failed save changes
// nothing either. Like A1111 the file is written even if no value changed.
func (s *Store) SetFromAPI(ctx context.Context, req map[string]any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	keys := sortedKeys(req)
	// Validators run outside the lock: they may consult slow things (the
	// checkpoint list) and must not see or block the store.
	if err := s.runValidators(keys, req); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := s.planLocked(keys, req)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	next := maps.Clone(s.data)
	nextOverridden := maps.Clone(s.overridden)
	for _, c := range changes {
		next[c.key] = c.value
		// An explicit POST wins over a job's pending restore: the value is
		// saved now and restore leaves it alone.
		delete(nextOverridden, c.key)
	}
	if err := s.writeLocked(next, nextOverridden); err != nil {
		return err
	}
	s.data, s.overridden = next, nextOverridden
	return nil
}

func (s *Store) runValidators(keys []string, req map[string]any) error {
	for _, k := range keys {
		for _, v := range s.validators {
			if err := v(k, req[k]); err != nil {
				return fmt.Errorf("options: %q: %w", k, err)
			}
		}
	}
	return nil
}

// planLocked checks every key of req and returns the changes to make,
// or the first error in key order. It changes nothing.
func (s *Store) planLocked(keys []string, req map[string]any) ([]change, error) {
	var changes []change
	for _, k := range keys {
		v, err := normalize(req[k])
		if err != nil {
			return nil, &ValueError{Key: k, Want: "a JSON value", Got: err.Error()}
		}
		// Options.set compares with data.get(key, None) before it looks the
		// key up, so an unchanged or null-for-missing value is never an error.
		if pyEqual(s.data[k], v) {
			continue
		}
		d, ok := s.defs[k]
		if !ok {
			return nil, &KeyError{Key: k}
		}
		if d.DoNotSave || d.RestrictAPI {
			continue
		}
		if err := d.check(v); err != nil {
			return nil, err
		}
		changes = append(changes, change{key: k, value: v})
	}
	return changes, nil
}
