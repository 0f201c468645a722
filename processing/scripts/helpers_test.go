package scripts_test

import (
	"errors"
	"strings"

	"github.com/sdapi/sdapi/processing"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func asScriptError(err error, target **processing.ScriptError) bool { return errors.As(err, target) }
