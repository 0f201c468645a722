// Package options is the server's typed settings store, the counterpart of
// A1111's shared.opts (modules/options.py, class Options) as served by
// GET/POST /sdapi/v1/options (modules/api/api.py, get_config/set_config) and
// used for a job's override_settings (modules/processing.py, process_images).
//
// Where it mirrors A1111 (v1.10):
//
//   - Options.set checks `self.data.get(key, None) == value` before looking
//     the key up in data_labels, so posting an unknown key with null, or any
//     key with its current value, is a no-op rather than a KeyError.
//     Equality follows Python's == (True == 1.0).
//   - Unknown keys raise KeyError; str(e) is the Python repr of the key.
//   - do_not_save and (through the API) restrict_api options are silently
//     ignored: Options.set returns False.
//   - set_config saves config.json after every POST, even when nothing
//     changed; save writes opts.data (values loaded from the file or set,
//     not untouched defaults) as JSON with indent 4 and no ASCII escaping.
//   - Keys in config.json that no option defines stay in opts.data: they
//     are listed by All and written back by Save, but cannot be changed
//     through the API.
//   - Overrides go through the same set(is_api=True) path and are not saved
//     by process_images.
//
// Where it deliberately differs:
//
//   - POST is all-or-nothing. A1111 applies keys one by one, so a KeyError
//     on the third key leaves the first two applied in memory (and unsaved).
//     SetFromAPI and Override check every key first and apply none on error;
//     SetFromAPI also commits to memory only after config.json is written.
//   - Values are type-checked against their Def (A1111 checks nothing and a
//     wrong type breaks later jobs); a mismatch is a *ValueError.
//   - Path options may not be absolute or contain ".." segments.
//   - A config.json value of the wrong type is dropped (the default applies)
//     with a warning; A1111 keeps it and prints a warning. A corrupt file is
//     an error (A1111 moves it to tmp/config.json and starts from defaults).
//   - Overrides are never written to config.json, even by a POST /options
//     made while they are in effect (A1111 would save them then), and restore
//     also resets options that were unset before the override (A1111's
//     stored_opts skips keys not in opts.data, so those overrides leak into
//     later jobs). A POST /options of an overridden key wins over the
//     pending restore.
//   - Map iteration has no request order, so keys are checked in sorted
//     order and the first failing key (in that order) is reported.
//   - onchange callbacks, the --freeze-settings family and the load-time
//     migrations (quicksettings, ui_reorder, sd_vae_as_default) are not
//     implemented.
package options
