package gateway

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/tusstore"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Webhooks   map[string]json.RawMessage            `json:"webhooks"`
	Components struct {
		Schemas         map[string]schema          `json:"schemas"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type schema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// route is a pattern registered on a ServeMux somewhere in the code.
type route struct {
	method, path, where string
}

// registeredRoutes reads every mux.Handle/HandleFunc pattern in the non-test
// Go files of dirs, resolving constants (also other packages' of this module).
func registeredRoutes(t *testing.T, dirs ...string) []route {
	t.Helper()
	root := "../.."
	consts := map[string]map[string]string{} // dir → const name → value
	var loadConsts func(dir string) map[string]string
	loadConsts = func(dir string) map[string]string {
		if c, ok := consts[dir]; ok {
			return c
		}
		c := map[string]string{}
		consts[dir] = c
		for _, f := range parseDir(t, dir) {
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								c[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
		return c
	}
	var out []route
	fset := token.NewFileSet()
	for _, dir := range dirs {
		for name, f := range parseDirWith(t, fset, dir) {
			imports := map[string]string{}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				alias := filepath.Base(p)
				if imp.Name != nil {
					alias = imp.Name.Name
				}
				imports[alias] = p
			}
			var eval func(e ast.Expr) (string, bool)
			eval = func(e ast.Expr) (string, bool) {
				switch e := e.(type) {
				case *ast.BasicLit:
					if e.Kind == token.STRING {
						s, err := strconv.Unquote(e.Value)
						return s, err == nil
					}
				case *ast.Ident:
					s, ok := loadConsts(dir)[e.Name]
					return s, ok
				case *ast.SelectorExpr:
					pkg, ok := e.X.(*ast.Ident)
					if !ok {
						return "", false
					}
					rel, ok := strings.CutPrefix(imports[pkg.Name], "github.com/hlsd/hlsd/")
					if !ok {
						return "", false
					}
					s, ok := loadConsts(filepath.Join(root, rel))[e.Sel.Name]
					return s, ok
				case *ast.BinaryExpr:
					a, ok1 := eval(e.X)
					b, ok2 := eval(e.Y)
					return a + b, ok1 && ok2 && e.Op == token.ADD
				}
				return "", false
			}
			// The muxes: variables made by http.NewServeMux() and
			// parameters of type *http.ServeMux. The values of range loops
			// over string literals ("for _, p := range []string{…}").
			muxes, ranged := map[string]bool{}, map[string][]string{}
			isServeMux := func(e ast.Expr) bool {
				star, ok := e.(*ast.StarExpr)
				if !ok {
					return false
				}
				sel, ok := star.X.(*ast.SelectorExpr)
				return ok && sel.Sel.Name == "ServeMux"
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					for i, rhs := range n.Rhs {
						if call, ok := rhs.(*ast.CallExpr); ok && i < len(n.Lhs) {
							if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewServeMux" {
								muxes[n.Lhs[i].(*ast.Ident).Name] = true
							}
						}
					}
				case *ast.Field:
					if isServeMux(n.Type) {
						for _, name := range n.Names {
							muxes[name.Name] = true
						}
					}
				case *ast.RangeStmt:
					v, ok := n.Value.(*ast.Ident)
					lit, ok2 := n.X.(*ast.CompositeLit)
					if ok && ok2 {
						for _, elt := range lit.Elts {
							if s, ok := eval(elt); ok {
								ranged[v.Name] = append(ranged[v.Name], s)
							}
						}
					}
				}
				return true
			})
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				if recv, ok := sel.X.(*ast.Ident); !ok || !muxes[recv.Name] {
					return true
				}
				where := fset.Position(call.Pos()).String()
				patterns := ranged[identName(call.Args[0])]
				if pattern, ok := eval(call.Args[0]); ok {
					patterns = []string{pattern}
				}
				if len(patterns) == 0 {
					t.Errorf("%s: cannot read the route pattern of %s (%s); teach openapi_test.go", where, sel.Sel.Name, name)
					return true
				}
				for _, pattern := range patterns {
					method, path, found := strings.Cut(pattern, " ")
					if !found {
						method, path = "", pattern
					}
					if i := strings.IndexByte(path, '/'); i > 0 { // a host
						path = path[i:]
					}
					out = append(out, route{strings.ToLower(method), path, where})
				}
				return true
			})
		}
	}
	return out
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func parseDir(t *testing.T, dir string) map[string]*ast.File {
	return parseDirWith(t, token.NewFileSet(), dir)
}

func parseDirWith(t *testing.T, fset *token.FileSet, dir string) map[string]*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = f
	}
	return files
}

var wildcardRe = regexp.MustCompile(`\{[^}]*\}`)

// normalize makes ServeMux patterns and OpenAPI paths comparable: wildcards
// lose their names, a trailing slash goes (the document lists /api/uploads/
// once for the two patterns with and without it); "{$}" and "{rest...}" end
// the path. prefix tells a pattern that matches every path below it.
func normalize(p string) (path string, prefix bool) {
	prefix = strings.HasSuffix(p, "/")
	if i := strings.Index(p, "{$}"); i >= 0 {
		p, prefix = p[:i], false
	}
	if i := strings.Index(p, "...}"); i >= 0 {
		p, prefix = p[:strings.LastIndex(p[:i], "{")], true
	}
	p = wildcardRe.ReplaceAllString(p, "{}")
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return p, prefix
}

// Every route the code registers (the gateway's mux, and the process mux in
// cmd/hlsd/app with health, metrics and the content service) is in the document.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	routes := registeredRoutes(t, ".", "../../cmd/hlsd/app")
	if len(routes) < 10 {
		t.Fatalf("found only %d routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		want, prefix := normalize(r.path)
		found := false
		for p, item := range doc.Paths {
			np, _ := normalize(p)
			if np != want && !(prefix && strings.HasPrefix(np, strings.TrimSuffix(want, "/")+"/")) {
				continue
			}
			if r.method == "" {
				found = true
				break
			}
			if _, ok := item[r.method]; ok {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: %s %s is not in openapi.json's paths", r.where, strings.ToUpper(r.method), r.path)
		}
	}
	for p, item := range doc.Paths {
		ops := 0
		for k := range item {
			if slices.Contains(httpMethods, k) {
				ops++
			} else if k != "parameters" && k != "summary" && k != "description" {
				t.Errorf("paths[%q] has %q, which is no part of a path item", p, k)
			}
		}
		if ops == 0 {
			t.Errorf("paths[%q] has no operation", p)
		}
	}
}

// Every operation the document lists for the gateway reaches a handler of
// the gateway's mux with that method.
func TestOpenAPIPathsAreServed(t *testing.T) {
	doc := loadOpenAPI(t)
	d, _ := newDeps(t, nil, &logBuffer{})
	ts, err := tusstore.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rs := NewResumable(ts)
	d.Resumable = rs
	mux, ok := d.Handler().(*http.ServeMux)
	if !ok {
		t.Skip("the gateway's handler is no longer a bare ServeMux")
	}
	example := strings.NewReplacer("{id}", layout.NewVideoID(), "{upload_id}", layout.NewVideoID(), "{file}", "app.css")
	for p, item := range doc.Paths {
		if strings.HasPrefix(p, "/streams/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
			continue // the content service and cmd/hlsd/app: TestOpenAPIDocumentsEveryRoute reads those
		}
		for method := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			req := httptest.NewRequest(strings.ToUpper(method), example.Replace(p), nil)
			if _, pattern := mux.Handler(req); pattern == "" {
				t.Errorf("%s %s (as %s) reaches no route of the gateway", strings.ToUpper(method), p, req.URL.Path)
			}
		}
	}
}

// jsonFields are the JSON names of t's fields (embedded structs flattened),
// and those always present (no omitempty).
func jsonFields(t reflect.Type) (all, always []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			a, r := jsonFields(f.Type)
			all, always = append(all, a...), append(always, r...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			always = append(always, name)
		}
	}
	slices.Sort(all)
	slices.Sort(always)
	return all, always
}

// The schemas have exactly the JSON fields of the Go types they describe,
// and require exactly those that are always sent: the document cannot drift
// from the code.
func TestOpenAPISchemasMatchTheTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]reflect.Type{
		"Video":        reflect.TypeFor[api.Video](),
		"Rendition":    reflect.TypeFor[api.Rendition](),
		"Subtitle":     reflect.TypeFor[api.Subtitle](),
		"Failure":      reflect.TypeFor[api.Failure](),
		"Source":       reflect.TypeFor[api.Source](),
		"Thumbnails":   reflect.TypeFor[api.Thumbnails](),
		"VideoPage":    reflect.TypeFor[api.Page](),
		"WebhookEvent": reflect.TypeFor[webhookEvent](),
	} {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("components.schemas lacks %s", name)
			continue
		}
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		required := slices.Sorted(slices.Values(s.Required))
		all, always := jsonFields(typ)
		if !slices.Equal(props, all) {
			t.Errorf("schema %s has properties %v; %s has JSON fields %v", name, props, typ, all)
		}
		if !slices.Equal(required, always) {
			t.Errorf("schema %s requires %v; %s always sends %v", name, required, typ, always)
		}
	}
	// Every $ref points at something.
	var refs []string
	collectRefs(t, openAPI, &refs)
	for _, ref := range refs {
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		var node any
		_ = json.Unmarshal(openAPI, &node)
		for _, p := range parts {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node = m[p]
		}
		if node == nil {
			t.Errorf("$ref %s points at nothing", ref)
		}
	}
	for _, scheme := range []string{"bearerAuth", "accessTokenQuery"} {
		if _, ok := doc.Components.SecuritySchemes[scheme]; !ok {
			t.Errorf("securitySchemes lacks %s", scheme)
		}
	}
	if _, ok := doc.Webhooks["videoFinished"]; !ok {
		t.Error("the webhook is not documented")
	}
}

func collectRefs(t *testing.T, raw []byte, refs *[]string) {
	var node any
	if err := json.Unmarshal(raw, &node); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			for k, v := range n {
				if s, ok := v.(string); ok && k == "$ref" {
					*refs = append(*refs, s)
				}
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(node)
}

// The document is public, even when the API needs tokens.
func TestOpenAPIIsServedWithoutAToken(t *testing.T) {
	d, _ := newDeps(t, nil, &logBuffer{}, token1)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) || rec.Body.Len() != len(openAPI) {
		t.Fatalf("GET /api/openapi.json = %d %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
