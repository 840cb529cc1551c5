package web

import (
	"fmt"
	"html/template"
	"unicode/utf8"

	"github.com/medama-io/go-useragent"
)

// agentParser reads User-Agent strings for people: "Chrome 156 on Linux".
// The library builds its table once per process and only reads it after;
// harmless for replicas.
type agentParser struct{ p *useragent.Parser }

func newAgentParser() agentParser { return agentParser{p: useragent.NewParser()} }

// shortAgent is how long an agent it cannot name may be and still be shown
// whole ("curl/8.5.0").
const shortAgent = 40

// describe names the browser and system of a User-Agent, in lang ("" when
// it names neither).
func (a agentParser) describe(v *view, raw string) string {
	ua := a.p.Parse(raw)
	browser, os := ua.GetBrowser(), ua.GetOS()
	if major := ua.BrowserVersionMajor(); browser != "" && major != "" {
		browser += " " + major
	}
	switch {
	case browser != "" && os != "":
		return v.Tf("ui.agent.browser_on_os", "browser", browser, "os", os)
	case browser != "":
		return browser
	case os != "":
		return v.Tf("ui.agent.unknown_on_os", "os", os)
	}
	return ""
}

// Agent shows a User-Agent as its browser and system, the full string a
// click away (a <details>, which keyboards and screen readers reach).
func (v *view) Agent(raw string) template.HTML {
	if raw == "" {
		return template.HTML(template.HTMLEscapeString(v.T("ui.agent.none")))
	}
	short := v.c.agents.describe(v, raw)
	if short == "" {
		if utf8.RuneCountInString(raw) <= shortAgent {
			return template.HTML(`<code class="ua">` + template.HTMLEscapeString(raw) + `</code>`)
		}
		short = v.T("ui.agent.other")
	}
	return template.HTML(fmt.Sprintf(`<details class="ua"><summary>%s</summary><code>%s</code></details>`,
		template.HTMLEscapeString(short), template.HTMLEscapeString(raw)))
}
