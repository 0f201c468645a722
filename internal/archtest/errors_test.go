package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// kindSentinels are the exported names that stand for an apierr.Kind
// (processing.ErrInvalid, runner.ErrModel, queue.ErrQueueFull, ...).
var kindSentinels = map[string]bool{
	"ErrInvalid": true, "ErrUnsupported": true, "ErrNotFound": true, "ErrInvalidImageFormat": true,
	"ErrInvalidRequest": true, "ErrModel": true, "ErrInvalidImage": true,
	"ErrUpscalerNotFound": true, "ErrFaceRestoreUnavailable": true,
	"ErrQueueFull": true, "ErrClosed": true,
}

// TestKindsAreNotWrappedByHand keeps every error a client sees an
// apierr.Error made by its constructors (apierr.Invalid(field, ...)): a
// fmt.Errorf("%w: ...", processing.ErrInvalid) would still match the kind,
// but its message would start with the kind's name and its 422 would lose
// the field.
func TestKindsAreNotWrappedByHand(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range []string{"processing", "runner", "server", "fleet"} {
		err := filepath.WalkDir(filepath.Join("..", "..", dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !isCall(call, "fmt", "Errorf") && !isCall(call, "errors", "Join") {
					return true
				}
				for _, arg := range call.Args {
					if name := kindName(arg); name != "" {
						t.Errorf("%s: %s wraps %s by hand; use apierr's constructor of that kind", fset.Position(arg.Pos()), exprText(call.Fun), name)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func isCall(call *ast.CallExpr, pkg, fn string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == pkg && sel.Sel.Name == fn
}

// kindName is the name of a kind sentinel or an apierr.Kind constant that
// e names, else "".
func kindName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		if kindSentinels[e.Name] {
			return e.Name
		}
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return ""
		}
		if kindSentinels[e.Sel.Name] || x.Name == "apierr" && strings.HasPrefix(e.Sel.Name, "Kind") {
			return x.Name + "." + e.Sel.Name
		}
	}
	return ""
}

func exprText(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		if x, ok := sel.X.(*ast.Ident); ok {
			return x.Name + "." + sel.Sel.Name
		}
	}
	return "a call"
}
