package web

import (
	"strconv"

	"github.com/accountd/accountd/internal/notices"
	"github.com/accountd/accountd/queries"
)

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (c *Console) noticeTitle(lang string, n queries.Notification) string {
	return notices.Title(n.Kind, lang, n.Params)
}
