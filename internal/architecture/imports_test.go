package architecture

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/accountd/accountd/"

// leaves import no other layer (only other leaves): ARCHITECTURE.md's table.
var leaves = []string{
	"internal/validate", "internal/scopes", "internal/tokens", "internal/password", "internal/devices",
	"internal/picture", "internal/ratelimit", "internal/notices", "internal/i18n", "internal/coord",
	"internal/metrics", "internal/keyring", "internal/supervise", "internal/benchkit", "internal/proctree", "internal/lru",
}

var transports = []string{"internal/httpapi", "internal/web"}

// runtime is what transports must reach only through commands and queries.
var runtime = []string{"internal/projector", "internal/relay", "internal/eventlog", "internal/platform", "internal/app"}

// rule says which of our packages pkg may import; allowed == nil means any
// except forbidden.
type rule struct {
	name      string
	applies   func(pkg string) bool
	allowed   []string
	forbidden []string
}

func TestImportRules(t *testing.T) {
	imports := moduleImports(t)
	if len(imports) < 20 {
		t.Fatalf("found only %d packages: is the module root right?", len(imports))
	}
	if !slices.Contains(imports["commands"], "events") {
		t.Fatalf("the scan misses imports: commands imports %v", imports["commands"])
	}
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) {
			matched, bad := check(r, imports)
			if matched == 0 {
				t.Fatal("the rule applies to no package: a package was renamed, update the rule and ARCHITECTURE.md")
			}
			for _, b := range bad {
				t.Errorf("%s (see ARCHITECTURE.md, Rules)", b)
			}
		})
	}
}

func TestRulesCatchForbiddenImports(t *testing.T) {
	for _, tt := range []struct {
		name    string
		imports map[string][]string
		want    int
	}{
		{"commands reading a read model", map[string][]string{"commands": {"events", "projections"}}, 1},
		{"events importing a helper", map[string][]string{"events": {"internal/validate"}}, 1},
		{"queries reaching the consumer runtime", map[string][]string{"queries": {"projections", "internal/projector"}}, 1},
		{"the console calling the API package", map[string][]string{"internal/web": {"commands", "internal/httpapi"}}, 1},
		{"a library assembling the app", map[string][]string{"internal/notifier": {"internal/app", "internal/testenv"}}, 2},
		{"allowed imports", map[string][]string{"commands": {"events", "internal/validate"}, "cmd/accountd": {"internal/app"}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range rules() {
				_, bad := check(r, tt.imports)
				got = append(got, bad...)
			}
			if len(got) != tt.want {
				t.Fatalf("violations %q, want %d", got, tt.want)
			}
		})
	}
}

func rules() []rule {
	is := func(names ...string) func(string) bool {
		return func(pkg string) bool { return slices.Contains(names, pkg) }
	}
	under := func(prefix string) func(string) bool {
		return func(pkg string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }
	}
	return []rule{
		{name: "events imports nothing of ours", applies: under("events"), allowed: []string{}},
		{name: "leaves import only leaves", applies: is(leaves...), allowed: leaves},
		{name: "commands import events and leaves", applies: under("commands"), allowed: append([]string{"events", "commands"}, leaves...)},
		{name: "projections import events and leaves", applies: under("projections"), allowed: append([]string{"events"}, leaves...)},
		{name: "queries read read-model types, not the runtime or commands", applies: under("queries"), allowed: append([]string{"events", "projections"}, leaves...)},
		{name: "the API does not reach into the console or the runtime", applies: under("internal/httpapi"), forbidden: append([]string{"internal/web"}, runtime...)},
		{name: "the console does not reach into the API or the runtime", applies: under("internal/web"), forbidden: append([]string{"internal/httpapi"}, runtime...)},
		{name: "only binaries and the test environment assemble the app", applies: func(pkg string) bool {
			return !strings.HasPrefix(pkg, "cmd/") && pkg != "internal/testenv" && pkg != "internal/app"
		}, forbidden: []string{"internal/app"}},
		{name: "only cmd/devcluster runs a dev cluster", applies: func(pkg string) bool {
			return pkg != "cmd/devcluster" && pkg != "internal/devcluster"
		}, forbidden: []string{"internal/devcluster"}},
		{name: "nothing but tests uses the test environment", applies: func(pkg string) bool { return pkg != "internal/testenv" },
			forbidden: []string{"internal/testenv"}},
	}
}

// check returns how many packages the rule applies to and its violations.
func check(r rule, imports map[string][]string) (matched int, bad []string) {
	within := func(dep string, list []string) bool {
		return slices.ContainsFunc(list, func(p string) bool { return dep == p || strings.HasPrefix(dep, p+"/") })
	}
	for pkg, deps := range imports {
		if !r.applies(pkg) {
			continue
		}
		matched++
		for _, dep := range deps {
			if dep == pkg {
				continue
			}
			if within(dep, r.forbidden) || (r.allowed != nil && !within(dep, r.allowed)) {
				bad = append(bad, pkg+" imports "+dep)
			}
		}
	}
	return matched, bad
}

// moduleImports maps each package of the module (path relative to the
// module, non-test files only) to the module's packages it imports.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		for _, spec := range f.Imports {
			dep, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if dep, ok := strings.CutPrefix(dep, module); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], path.Clean(dep))
			}
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
