package httpapi

import (
	"net/http"

	"github.com/accountd/accountd/internal/i18n"
)

// catalogs are the shared message catalogs.
type catalogs struct{ i18n.Catalogs }

func loadCatalogs() (catalogs, error) {
	c, err := i18n.Load()
	return catalogs{c}, err
}

func negotiate(preferred string, r *http.Request) string { return i18n.Negotiate(preferred, r) }

func (c catalogs) message(lang, code string, params map[string]int) string {
	return c.Message(lang, code, params)
}
