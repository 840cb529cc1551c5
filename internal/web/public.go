package web

import (
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/projections"
)

// publicPage is the public profile with what link previews read (Open
// Graph and Twitter cards): absolute URLs and a short description.
type publicPage struct {
	projections.PublicProfile
	Title       string // the full name, else the username
	Summary     string // the description, shortened for previews
	Canonical   string
	ImageURL    string // absolute; "" without a picture
	SiteName    string
	ImageAlt    string
	Description string
}

// maxSummary is how long a preview's description may be: Twitter cuts
// a card's description at 200 characters.
const maxSummary = 200

func (c *Console) publicPage(r *http.Request, v *view, p projections.PublicProfile) publicPage {
	base := c.origin(r)
	page := publicPage{PublicProfile: p, Title: p.FullName, Canonical: base + "/" + p.Username, SiteName: "accountd",
		ImageAlt: v.Tf("ui.public.picture_alt", "username", p.Username), Description: p.Description}
	if page.Title == "" {
		page.Title = p.Username
	}
	if p.PictureURL != "" {
		page.ImageURL = base + p.PictureURL
	}
	page.Summary = shorten(strings.Join(strings.Fields(p.Description), " "), maxSummary)
	if page.Summary == "" {
		page.Summary = v.Tf("ui.public.meta_description", "name", page.Title, "username", p.Username)
	}
	return page
}

// origin is the scheme and host that absolute links to this console use.
// The host is the request's, which checkHost has allowed (--allowed-host);
// there is no configured public URL yet. The service speaks plain HTTP
// and is reached over HTTPS through a proxy, except on a loopback host or
// with insecure cookies (where browsers would not keep our Secure
// cookies over plain HTTP otherwise).
func (c *Console) origin(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil && (!c.secure || loopbackHost(r.Host)) {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func loopbackHost(host string) bool {
	name := reqmeta.HostName(host)
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.IsLoopback()
}

// shorten cuts s to at most n characters, at a word if it can, with an
// ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}
