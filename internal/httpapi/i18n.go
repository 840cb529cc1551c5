package httpapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

//go:embed catalogs/*.json
var catalogFiles embed.FS

// catalogs maps a language ("en", "tr") to message templates.
type catalogs map[string]map[string]string

func loadCatalogs() (catalogs, error) {
	out := catalogs{}
	for _, lang := range []string{"en", "tr"} {
		raw, err := catalogFiles.ReadFile("catalogs/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", lang, err)
		}
		out[lang] = m
	}
	return out, nil
}

var supported = language.NewMatcher([]language.Tag{language.English, language.Turkish})

// negotiate picks "en" or "tr": the user's preference when signed in, else
// Accept-Language.
func negotiate(preferred string, r *http.Request) string {
	if preferred != "" {
		if t, err := language.Parse(preferred); err == nil {
			if base, _ := t.Base(); base.String() == "tr" {
				return "tr"
			}
			return "en"
		}
	}
	tag, _ := language.MatchStrings(supported, r.Header.Get("Accept-Language"))
	if base, _ := tag.Base(); base.String() == "tr" {
		return "tr"
	}
	return "en"
}

func (c catalogs) lookup(lang, code string) (string, bool) {
	if tmpl, ok := c[lang][code]; ok {
		return tmpl, true
	}
	tmpl, ok := c["en"][code]
	return tmpl, ok
}

// message renders code in lang, filling {name} placeholders.
func (c catalogs) message(lang, code string, params map[string]int) string {
	tmpl, ok := c.lookup(lang, code)
	if !ok {
		// A field's own message, else the generic one for its rule
		// ("pronouns.too_long" -> "text.too_long").
		_, rule, _ := strings.Cut(code, ".")
		if tmpl, ok = c.lookup(lang, "text."+rule); !ok {
			return code
		}
	}
	for k, v := range params {
		tmpl = strings.ReplaceAll(tmpl, "{"+k+"}", strconv.Itoa(v))
	}
	return tmpl
}
