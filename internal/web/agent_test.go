package web

import (
	"html/template"
	"testing"

	"github.com/accountd/accountd/internal/i18n"
)

// User agents read as people say them, the full string a click away.
func TestAgentShownAsBrowserOnSystem(t *testing.T) {
	cats, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{catalogs: cats, agents: newAgentParser()}
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	const bot = "ExampleCorpDeploymentAgent/4.2.1-rc.7+build.20261207 (linux; amd64; +https://deploy.example.com/docs/agent)"
	tests := []struct {
		name, lang, agent string
		want              template.HTML
	}{
		{"a browser on a system", "en", chrome,
			`<details class="ua"><summary>Chrome 156 on Linux</summary><code>` + template.HTML(template.HTMLEscapeString(chrome)) + `</code></details>`},
		{"in Turkish", "tr", chrome,
			`<details class="ua"><summary>Linux üzerinde Chrome 156</summary><code>` + template.HTML(template.HTMLEscapeString(chrome)) + `</code></details>`},
		{"Firefox on Windows", "en", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
			`<details class="ua"><summary>Firefox 133 on Windows</summary><code>Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0</code></details>`},
		{"a short client it cannot name, whole", "en", "curl/8.5.0", `<code class="ua">curl/8.5.0</code>`},
		{"a long client it cannot name", "en", bot,
			`<details class="ua"><summary>Another client</summary><code>` + template.HTML(template.HTMLEscapeString(bot)) + `</code></details>`},
		{"markup in an agent is text", "en", `<img src=x onerror=alert(1)>`, `<code class="ua">&lt;img src=x onerror=alert(1)&gt;</code>`},
		{"none", "tr", "", "Bilinmiyor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &view{c: c, Lang: tt.lang}
			if got := v.Agent(tt.agent); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
