// Package i18n holds the service's messages in English and Turkish: the
// API's problem titles and field errors and the console's text come from
// the same catalogs, and the same negotiation picks the language.
package i18n

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

// Languages are the ones there are catalogs for.
var Languages = []string{"en", "tr"}

// Catalogs maps a language ("en", "tr") to message templates.
type Catalogs map[string]map[string]string

// Load reads the embedded catalogs.
func Load() (Catalogs, error) {
	out := Catalogs{}
	for _, lang := range Languages {
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

// Negotiate picks "en" or "tr": the user's preference when signed in, else
// Accept-Language.
func Negotiate(preferred string, r *http.Request) string {
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

// Lookup finds code in lang, falling back to English.
func (c Catalogs) Lookup(lang, code string) (string, bool) {
	if tmpl, ok := c[lang][code]; ok {
		return tmpl, true
	}
	tmpl, ok := c["en"][code]
	return tmpl, ok
}

// Message renders code in lang, filling {name} placeholders.
func (c Catalogs) Message(lang, code string, params map[string]int) string {
	tmpl, ok := c.Lookup(lang, code)
	if !ok {
		// A field's own message, else the generic one for its rule
		// ("pronouns.too_long" -> "text.too_long").
		_, rule, _ := strings.Cut(code, ".")
		if tmpl, ok = c.Lookup(lang, "text."+rule); !ok {
			return code
		}
	}
	for k, v := range params {
		tmpl = strings.ReplaceAll(tmpl, "{"+k+"}", strconv.Itoa(v))
	}
	return tmpl
}
