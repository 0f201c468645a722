package options_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sdapi/sdapi/processing/options"
)

func Example() {
	dir, err := os.MkdirTemp("", "opts")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	defs := []options.Def{
		{Key: "send_seed", Default: true, Type: options.KindBool},
		{Key: "steps", Default: 20.0, Type: options.KindInteger},
	}
	s, err := options.New(defs, filepath.Join(dir, "config.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	fmt.Println(s.SetFromAPI(ctx, map[string]any{"send_seed": false}))
	fmt.Println(s.Bool("send_seed"))

	err = s.SetFromAPI(ctx, map[string]any{"no_such_option": 1})
	var ke *options.KeyError
	if errors.As(err, &ke) {
		fmt.Println(ke.ExceptionName(), err)
	}

	restore, err := s.Override(map[string]any{"steps": 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Int("steps"))
	restore()
	fmt.Println(s.Int("steps"))
	// Output:
	// <nil>
	// false
	// KeyError 'no_such_option'
	// 4
	// 20
}
