package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
)

// headOf reads a page's <head>: meta tags by property or name, links by
// rel, and the title.
type headOf struct {
	meta  map[string][]string
	links map[string][]string
	title string
}

func parseHead(t *testing.T, body string) headOf {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	h := headOf{meta: map[string][]string{}, links: map[string][]string{}}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attr := map[string]string{}
		for _, a := range n.Attr {
			attr[a.Key] = a.Val
		}
		switch n.Data {
		case "meta":
			key := attr["property"]
			if key == "" {
				key = attr["name"]
			}
			if key != "" {
				h.meta[key] = append(h.meta[key], attr["content"])
			}
		case "link":
			h.links[attr["rel"]] = append(h.links[attr["rel"]], attr["href"])
		case "title":
			h.title = textOf(n)
		}
	}
	return h
}

// getAs fetches a page as a visitor would, under this Host.
func getAs(t *testing.T, base, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// The public profile travels: link previews (Open Graph, Twitter cards)
// and search engines find its title, description, picture and canonical
// address, absolute, on the host the visitor asked for.
func TestPublicProfilePreviewTags(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{AllowedHosts: []string{"accounts.example.com"}}, "")
	ada := signUp(t, srv, "ada")
	description := `Analyst of the "Analytical Engine" <script>alert(1)</script> & more`
	expect(t, ada.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "full_name": {"Ada Lovelace"},
		"description": {description}, "preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	signUp(t, srv, "grace") // no picture, no name, no description
	local := strings.TrimPrefix(srv.URL, "http://")

	// Before the picture: no image tags.
	var h headOf
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if status, body := getAs(t, srv.URL, local, "/ada"); status == http.StatusOK {
			if h = parseHead(t, body); len(h.meta["og:description"]) == 1 && h.meta["og:description"][0] == description {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.meta["og:image"] != nil || h.meta["twitter:image"] != nil {
		t.Errorf("image tags without a picture: %v", h.meta)
	}
	expect(t, ada.upload(smallPNG(t, 64)), http.StatusSeeOther)
	picture := ""
	for time.Now().Before(deadline) && picture == "" {
		_, body := getAs(t, srv.URL, local, "/ada")
		if imgs := parseHead(t, body).meta["og:image"]; len(imgs) == 1 {
			picture = imgs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasPrefix(picture, "http://"+local+"/v1/profiles/ada/picture?v=") {
		t.Fatalf("og:image %q is not the picture's absolute URL", picture)
	}
	res, err := http.Get(picture)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/") {
		t.Fatalf("the og:image URL does not serve the picture: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}

	tests := []struct {
		name, host, path string
		want             map[string]string // meta property/name, or "canonical", or "title"
		absent           []string
	}{
		{"a profile with everything, on a loopback host", local, "/ada", map[string]string{
			"title": "Ada Lovelace (@ada) · accountd", "canonical": "http://" + local + "/ada",
			"og:type": "profile", "og:title": "Ada Lovelace", "og:description": description, "og:url": "http://" + local + "/ada",
			"og:image": picture, "og:image:alt": "Profile picture of ada", "profile:username": "ada", "description": description,
			"twitter:card": "summary", "twitter:title": "Ada Lovelace", "twitter:description": description, "twitter:image": picture,
		}, nil},
		{"the name in another case links to the canonical one", local, "/ADA", map[string]string{
			"canonical": "http://" + local + "/ada", "og:url": "http://" + local + "/ada"}, nil},
		{"an allowed public host is reached over HTTPS", "accounts.example.com", "/ada", map[string]string{
			"canonical": "https://accounts.example.com/ada", "og:url": "https://accounts.example.com/ada",
			"og:image": "https://accounts.example.com" + strings.TrimPrefix(picture, "http://"+local)}, nil},
		{"a bare profile says whose it is", local, "/grace", map[string]string{
			"og:title": "grace", "og:description": "grace (@grace) on accountd", "twitter:card": "summary", "canonical": "http://" + local + "/grace"},
			[]string{"og:image", "twitter:image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := getAs(t, srv.URL, tt.host, tt.path)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if strings.Contains(body, "<script>alert") {
				t.Fatal("the description is not escaped")
			}
			h := parseHead(t, body)
			for key, want := range tt.want {
				var got []string
				switch key {
				case "canonical":
					got = h.links["canonical"]
				case "title":
					got = []string{h.title}
				default:
					got = h.meta[key]
				}
				if len(got) != 1 || got[0] != want {
					t.Errorf("%s: %q, want %q", key, got, want)
				}
			}
			for _, key := range tt.absent {
				if h.meta[key] != nil {
					t.Errorf("%s present: %q", key, h.meta[key])
				}
			}
		})
	}
}

// A long description is shortened for previews (Twitter cuts at 200
// characters), whole on the page.
func TestPublicProfileLongDescriptionShortened(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	ada := signUp(t, srv, "ada")
	long := strings.Repeat("engine ", 60)
	expect(t, ada.post("/settings/profile", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "description": {long},
		"preferred_language": {"en"}, "preferred_timezone": {"Europe/Istanbul"}}), http.StatusSeeOther)
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, body := getAs(t, srv.URL, strings.TrimPrefix(srv.URL, "http://"), "/ada")
		if got = parseHead(t, body).meta["og:description"]; len(got) == 1 && strings.HasPrefix(got[0], "engine") {
			if !strings.Contains(body, strings.TrimSpace(long)) {
				t.Error("the page does not show the whole description")
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 1 || len([]rune(got[0])) > 200 || !strings.HasSuffix(got[0], "engine…") {
		t.Fatalf("og:description %q", got)
	}
}

// The sessions page and the security log name each session's browser
// ("Chrome 156 on Linux"), the full User-Agent in a <details> beside it.
func TestSessionsShowParsedAgents(t *testing.T) {
	t.Parallel()
	_, srv := testenv.App(t, app.Config{}, "")
	ada := signUp(t, srv, "ada")
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	apiSignInAs(t, srv.URL, "ada", "correct7horse", chrome)
	agents := func(path string) map[string]string {
		doc, err := html.Parse(strings.NewReader(expect(t, ada.get(path), http.StatusOK).body))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode || n.Data != "details" {
				continue
			}
			var summary, full string
			for c := range n.ChildNodes() {
				switch {
				case c.Type == html.ElementNode && c.Data == "summary":
					summary = textOf(c)
				case c.Type == html.ElementNode && c.Data == "code":
					full = textOf(c)
				}
			}
			out[summary] = full
		}
		return out
	}
	for _, path := range []string{"/settings/sessions", "/settings/security-log"} {
		t.Run(path, func(t *testing.T) {
			var got map[string]string
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if got = agents(path); got["Chrome 156 on Linux"] != "" {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got["Chrome 156 on Linux"] != chrome {
				t.Fatalf("agents shown %q", got)
			}
		})
	}
}
